//! `runtime-silo serve`: a long-running [`Manager`] driven by a line
//! protocol, kept as thin as possible over the library API.
//!
//! One request per line; words are separated by blanks, and a word may be
//! double-quoted (`\"` and `\\` escape inside quotes). Each request gets
//! exactly one response, in order:
//!
//! ```text
//! deploy NAME WASM [--env K[=V]]... [--dir HOST[::GUEST]]... [--memory BYTES]
//!        [--wall-ms N] [--cpu-ms N] [--stdin TEXT] [-- ARG...]   -> ok ID
//! list                        -> ok N, then N lines: ID NAME STATE MEMORY_BYTES CPU_MS [STATUS]
//! kill ID                     -> ok
//! wait ID                     -> ok TAG DESCRIPTION     (blocks until the silo ends)
//! logs ID stdout|stderr       -> ok LEN, then LEN raw bytes and a newline
//! remove ID                   -> ok TAG DESCRIPTION     (forgets a finished silo)
//! stats                       -> ok live=N known=N memory=BYTES cache_hits=N compilations=N cpus=N
//! quit                        -> ok, then the session ends
//! ```
//!
//! Any failure is a single line `err MESSAGE`. Status tags are those of
//! [`ExitStatus::tag`]. `wait` blocks the session: a client that wants to
//! kill a silo it waits for uses a second session (or kills first).

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::options::{DirMapping, EnvVar};
use crate::platform;
use crate::silo::{
    DeployRequest, ExitStatus, Limits, Manager, SiloId, SiloInfo, SiloState, StdinSource,
    WasmSource,
};

/// One request line.
#[derive(Debug, Parser)]
#[command(
    no_binary_name = true,
    disable_help_flag = true,
    disable_help_subcommand = true
)]
enum Request {
    /// Start a silo.
    Deploy {
        name: String,
        wasm: PathBuf,
        #[arg(long = "env", value_name = "NAME[=VALUE]")]
        env: Vec<EnvVar>,
        #[arg(long = "dir", value_name = "HOST[::GUEST]")]
        dirs: Vec<DirMapping>,
        /// Linear memory limit in bytes.
        #[arg(long)]
        memory: Option<u64>,
        /// Wall-clock limit in milliseconds.
        #[arg(long)]
        wall_ms: Option<u64>,
        /// CPU-time limit in milliseconds.
        #[arg(long)]
        cpu_ms: Option<u64>,
        /// Standard input of the app.
        #[arg(long)]
        stdin: Option<String>,
        /// Arguments after argv[0].
        #[arg(last = true)]
        args: Vec<String>,
    },
    List,
    Kill {
        id: SiloId,
    },
    Wait {
        id: SiloId,
    },
    Logs {
        id: SiloId,
        stream: LogStream,
    },
    Remove {
        id: SiloId,
    },
    Stats,
    Quit,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogStream {
    Stdout,
    Stderr,
}

/// Serves requests from `input` until `quit` or end of input.
pub fn serve(manager: &Manager, input: impl BufRead, mut output: impl Write) -> io::Result<()> {
    for line in input.lines() {
        let line = line?;
        let words = match split_words(&line) {
            Ok(words) if words.is_empty() => continue,
            Ok(words) => words,
            Err(message) => {
                writeln!(output, "err {message}")?;
                output.flush()?;
                continue;
            }
        };
        let quit = match Request::try_parse_from(words) {
            Ok(request) => {
                let quit = matches!(request, Request::Quit);
                if let Err(message) = handle(manager, request, &mut output)? {
                    writeln!(output, "err {message}")?;
                }
                quit
            }
            Err(e) => {
                writeln!(output, "err {}", first_line(&e.to_string()))?;
                false
            }
        };
        output.flush()?;
        if quit {
            break;
        }
    }
    Ok(())
}

/// Executes one request. The outer error is the transport's; the inner one
/// is the request's, reported to the client.
fn handle(
    manager: &Manager,
    request: Request,
    out: &mut impl Write,
) -> io::Result<Result<(), String>> {
    let response = match request {
        Request::Deploy {
            name,
            wasm,
            env,
            dirs,
            memory,
            wall_ms,
            cpu_ms,
            stdin,
            args,
        } => {
            let mut preopens = Vec::with_capacity(dirs.len());
            for dir in &dirs {
                match dir.open() {
                    Ok(preopen) => preopens.push(preopen),
                    Err(e) => return Ok(Err(format!("--dir {dir}: {e}"))),
                }
            }
            let mut request = DeployRequest::new(name, WasmSource::Path(wasm));
            request.args = args;
            request.env = env.into_iter().filter_map(EnvVar::resolve).collect();
            request.preopens = preopens;
            request.stdin = stdin.map_or(StdinSource::Null, |s| StdinSource::Bytes(s.into_bytes()));
            request.limits = Limits {
                memory_bytes: memory.unwrap_or(Limits::default().memory_bytes),
                wall_time: wall_ms.map(Duration::from_millis),
                cpu_time: cpu_ms.map(Duration::from_millis),
                ..Limits::default()
            };
            manager.deploy(request).map(|id| format!("ok {id}"))
        }
        Request::List => {
            let silos = manager.list();
            writeln!(out, "ok {}", silos.len())?;
            for silo in &silos {
                writeln!(out, "{}", list_line(silo))?;
            }
            return Ok(Ok(()));
        }
        Request::Kill { id } => manager.kill(id).map(|()| "ok".to_owned()),
        Request::Wait { id } => manager
            .wait(id)
            .map(|status| format!("ok {}", describe(&status))),
        Request::Logs { id, stream } => match manager.logs(id) {
            Ok(logs) => {
                let bytes = match stream {
                    LogStream::Stdout => logs.stdout.bytes,
                    LogStream::Stderr => logs.stderr.bytes,
                };
                writeln!(out, "ok {}", bytes.len())?;
                out.write_all(&bytes)?;
                writeln!(out)?;
                return Ok(Ok(()));
            }
            Err(e) => Err(e),
        },
        Request::Remove { id } => manager
            .remove(id)
            .map(|status| format!("ok {}", describe(&status))),
        Request::Stats => Ok(format!("ok {}", stats_line(manager))),
        Request::Quit => Ok("ok".to_owned()),
    };
    match response {
        Ok(line) => {
            writeln!(out, "{line}")?;
            Ok(Ok(()))
        }
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// `ID NAME STATE MEMORY_BYTES CPU_MS[ TAG DESCRIPTION]` (the name quoted
/// if needed), as `list` shows a silo.
pub(crate) fn list_line(silo: &SiloInfo) -> String {
    let mut line = format!(
        "{} {} {} {} {}",
        silo.id,
        quote(&silo.name),
        silo.state.tag(),
        silo.memory_bytes,
        silo.cpu_time.as_millis()
    );
    if let SiloState::Finished(status) = &silo.state {
        line.push(' ');
        line.push_str(&describe(status));
    }
    line
}

/// `live=N known=N memory=BYTES cache_hits=N compilations=N cpus=N`.
pub(crate) fn stats_line(manager: &Manager) -> String {
    let stats = manager.stats();
    format!(
        "live={} known={} memory={} cache_hits={} compilations={} cpus={}",
        stats.live_silos,
        stats.known_silos,
        stats.memory_bytes,
        stats.cache.hits,
        stats.cache.compilations,
        platform::online_cpus()
    )
}

/// `TAG DESCRIPTION`, on one line whatever the messages contain.
pub(crate) fn describe(status: &ExitStatus) -> String {
    format!("{} {}", status.tag(), first_line(&status.to_string()))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim_end()
}

/// A word as [`split_words`] reads it back.
fn quote(word: &str) -> String {
    if !word.is_empty() && !word.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\') {
        return word.to_owned();
    }
    let mut quoted = String::with_capacity(word.len() + 2);
    quoted.push('"');
    for c in word.chars() {
        match c {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            '\n' => quoted.push(' '),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// Splits a request line into words (see the module documentation).
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(first) = chars.next() else {
            return Ok(words);
        };
        let mut word = String::new();
        if first == '"' {
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c @ ('"' | '\\')) => word.push(c),
                        Some(c) => return Err(format!("unknown escape \\{c} in a quoted word")),
                        None => return Err("unterminated quoted word".into()),
                    },
                    Some(c) => word.push(c),
                    None => return Err("unterminated quoted word".into()),
                }
            }
        } else {
            word.push(first);
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                word.push(c);
            }
        }
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_on_blanks_and_respect_quotes() {
        assert_eq!(
            split_words(r#"  deploy "my app" x.wasm -- "a \"b\"" c\d "#).unwrap(),
            ["deploy", "my app", "x.wasm", "--", r#"a "b""#, r"c\d"]
        );
        assert!(split_words(r#"deploy "open"#).is_err());
        assert!(split_words("").unwrap().is_empty());
    }

    #[test]
    fn quote_round_trips() {
        for word in ["plain", "two words", r#"q"uote"#, r"back\slash", ""] {
            assert_eq!(split_words(&quote(word)).unwrap(), [word]);
        }
    }

    #[test]
    fn deploy_lines_parse() {
        let words =
            split_words("deploy app /x.wasm --env A=1 --memory 65536 --wall-ms 5 -- -v x").unwrap();
        let Request::Deploy {
            name,
            env,
            memory,
            wall_ms,
            args,
            ..
        } = Request::try_parse_from(words).unwrap()
        else {
            panic!("not a deploy");
        };
        assert_eq!(name, "app");
        assert_eq!(env.len(), 1);
        assert_eq!(memory, Some(65536));
        assert_eq!(wall_ms, Some(5));
        assert_eq!(args, ["-v", "x"]);
    }
}
