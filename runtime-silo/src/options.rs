//! Command-line values shared by `runtime-silo run` and the `serve`
//! protocol, spelled as `wasmtime run` spells them.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use crate::wasi::Preopen;
use crate::wasi::fs::HostDir;

/// `--env NAME=VALUE`, or `--env NAME` to pass the host's value through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable's name.
    pub name: String,
    /// Its value; `None` to take the host's (the variable is left out if
    /// the host has none).
    pub value: Option<String>,
}

impl EnvVar {
    /// The `(name, value)` pair to give the app, if any.
    pub fn resolve(self) -> Option<(String, String)> {
        match self.value {
            Some(value) => Some((self.name, value)),
            None => {
                let value = std::env::var(&self.name).ok()?;
                Some((self.name, value))
            }
        }
    }
}

impl FromStr for EnvVar {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, value) = match s.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (s, None),
        };
        if name.is_empty() {
            return Err(format!("{s:?}: an environment variable needs a name"));
        }
        Ok(Self {
            name: name.to_owned(),
            value,
        })
    }
}

/// `--dir HOST[::GUEST]`: the host directory `HOST` seen by the app as
/// `GUEST` (default: `HOST` as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirMapping {
    /// The directory on the host.
    pub host: PathBuf,
    /// The name the app sees.
    pub guest: String,
}

impl DirMapping {
    /// Opens the host directory as a preopen.
    pub fn open(&self) -> std::io::Result<Preopen> {
        let dir = HostDir::open(&self.host)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", self.host.display())))?;
        Ok(Preopen {
            guest_path: self.guest.clone(),
            fs: Arc::new(dir),
        })
    }
}

impl FromStr for DirMapping {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (host, guest) = s.split_once("::").unwrap_or((s, s));
        if host.is_empty() || guest.is_empty() {
            return Err(format!("{s:?}: expected HOST or HOST::GUEST"));
        }
        Ok(Self {
            host: PathBuf::from(host),
            guest: guest.to_owned(),
        })
    }
}

impl fmt::Display for DirMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.host.display(), self.guest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_vars_parse_like_wasmtime() {
        assert_eq!(
            "A=b=c".parse(),
            Ok(EnvVar {
                name: "A".into(),
                value: Some("b=c".into())
            })
        );
        assert_eq!(
            "A=".parse(),
            Ok(EnvVar {
                name: "A".into(),
                value: Some(String::new())
            })
        );
        assert_eq!(
            "PATH".parse(),
            Ok(EnvVar {
                name: "PATH".into(),
                value: None
            })
        );
        assert!("=x".parse::<EnvVar>().is_err());
    }

    #[test]
    fn dirs_parse_like_wasmtime() {
        assert_eq!(
            "/tmp/x::/data".parse(),
            Ok(DirMapping {
                host: "/tmp/x".into(),
                guest: "/data".into()
            })
        );
        assert_eq!(
            ".".parse(),
            Ok(DirMapping {
                host: ".".into(),
                guest: ".".into()
            })
        );
        assert!("::/data".parse::<DirMapping>().is_err());
        assert!("/tmp::".parse::<DirMapping>().is_err());
    }
}
