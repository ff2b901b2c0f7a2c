//! The one error type of xtask.
//!
//! Every failure here ends as a message for a person at a terminal, so an
//! error is just that message, built up with context as it propagates
//! ("building the kernel: running /usr/bin/cargo: No such file or directory").

use std::fmt;

/// A human-readable failure, printed by `main` as `error: <message>`.
#[derive(Debug)]
pub struct Error(String);

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Adds what was being done to an error, `anyhow`-style, without the dependency.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error(format!("{}: {e}", what())))
    }
}

/// Returns early with a formatted [`Error`].
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::error::Error::new(format!($($arg)*)))
    };
}
pub(crate) use bail;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_prefixes_the_cause() {
        let r: Result<(), std::io::Error> = Err(std::io::Error::other("boom"));
        let e = r.context(|| "reading x".into()).unwrap_err();
        assert_eq!(e.to_string(), "reading x: boom");
    }
}
