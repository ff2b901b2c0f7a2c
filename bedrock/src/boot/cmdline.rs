//! The kernel command line: whitespace-separated `key=value` or `flag` words.
//!
//! Unknown words are kept (so the boot log can warn about each one) and
//! never stop the boot; a typo must not brick a machine.

use arrayvec::ArrayVec;

/// Most unknown words remembered for the warning log.
const MAX_UNKNOWN: usize = 16;

/// Log verbosity chosen with `loglevel=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "error" => Self::Error,
            "warn" => Self::Warn,
            "info" => Self::Info,
            "debug" => Self::Debug,
            "trace" => Self::Trace,
            _ => return None,
        })
    }
}

/// A word the kernel could not use, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem<'a> {
    /// `key` is not an option Bedrock knows.
    Unknown(&'a str),
    /// The option is known but its value is not valid.
    BadValue(&'a str),
}

/// Options parsed from the command line; borrows the command-line text.
#[derive(Clone, Debug, Default)]
pub struct Cmdline<'a> {
    /// `test=<scenario>`: run one test scenario (or `list`) and exit QEMU.
    pub test: Option<&'a str>,
    /// `loglevel=<error|warn|info|debug|trace>`.
    pub log_level: Option<LogLevel>,
    /// `init=<name>`: the boot archive program started at a normal boot.
    pub init: Option<&'a str>,
    /// `fpu=fxsave`: save user FPU state with FXSAVE only (no XSAVE, no
    /// AVX), for hypervisors that cannot emulate XRSTOR; `fpu=auto` is the
    /// default.
    pub fpu_fxsave: bool,
    /// `init.args=<a,b,...>`: init's arguments after its name, raw.
    init_args: Option<&'a str>,
    problems: ArrayVec<Problem<'a>, MAX_UNKNOWN>,
}

impl<'a> Cmdline<'a> {
    pub fn parse(text: &'a str) -> Self {
        let mut this = Self::default();
        for word in text.split_ascii_whitespace() {
            let (key, value) = match word.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (word, None),
            };
            let problem = match (key, value) {
                (bedrock_testproto::CMDLINE_KEY, Some(v)) if !v.is_empty() => {
                    this.test = Some(v);
                    None
                }
                ("loglevel", Some(v)) => match LogLevel::parse(v) {
                    Some(level) => {
                        this.log_level = Some(level);
                        None
                    }
                    None => Some(Problem::BadValue(word)),
                },
                ("fpu", Some("fxsave")) => {
                    this.fpu_fxsave = true;
                    None
                }
                ("fpu", Some("auto")) => {
                    this.fpu_fxsave = false;
                    None
                }
                ("init", Some(v)) if !v.is_empty() => {
                    this.init = Some(v);
                    None
                }
                ("init.args", Some(v)) if !v.is_empty() => {
                    this.init_args = Some(v);
                    None
                }
                (bedrock_testproto::CMDLINE_KEY | "loglevel" | "init" | "init.args" | "fpu", _) => {
                    Some(Problem::BadValue(word))
                }
                _ => Some(Problem::Unknown(word)),
            };
            if let Some(p) = problem {
                // Beyond MAX_UNKNOWN the words are still ignored, just not listed.
                let _ = this.problems.try_push(p);
            }
        }
        this
    }

    /// init's arguments (`argv[1..]`): the comma-separated items of
    /// `init.args=`, empty items left out. Commas, not spaces, because
    /// spaces separate command-line words.
    pub fn init_args(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.init_args
            .unwrap_or_default()
            .split(',')
            .filter(|arg| !arg.is_empty())
    }

    /// Words that were ignored, in command-line order.
    pub fn problems(&self) -> &[Problem<'a>] {
        &self.problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_options() {
        let c = Cmdline::parse("  test=boot_banner   loglevel=debug init=shell");
        assert_eq!(c.test, Some("boot_banner"));
        assert_eq!(c.init, Some("shell"));
        assert!(!c.fpu_fxsave);
        assert!(Cmdline::parse("fpu=fxsave").fpu_fxsave);
        assert_eq!(
            Cmdline::parse("fpu=avx").problems(),
            &[Problem::BadValue("fpu=avx")]
        );
        assert_eq!(c.log_level, Some(LogLevel::Debug));
        assert!(c.problems().is_empty());
    }

    #[test]
    fn unknown_and_bad_words_are_reported_not_fatal() {
        let c = Cmdline::parse("frobnicate=7 test=x quiet loglevel=loud test=");
        assert_eq!(c.test, Some("x"));
        assert_eq!(c.log_level, None);
        assert_eq!(
            c.problems(),
            &[
                Problem::Unknown("frobnicate=7"),
                Problem::Unknown("quiet"),
                Problem::BadValue("loglevel=loud"),
                Problem::BadValue("test="),
            ]
        );
    }

    #[test]
    fn init_arguments_are_comma_separated() {
        let c = Cmdline::parse("init=usertest init.args=bench,,quick");
        assert_eq!(c.init, Some("usertest"));
        assert_eq!(c.init_args().collect::<Vec<_>>(), ["bench", "quick"]);
        assert!(c.problems().is_empty());
        assert_eq!(Cmdline::parse("init=x").init_args().count(), 0);
        let c = Cmdline::parse("init.args= init.args");
        assert_eq!(c.init_args().count(), 0);
        assert_eq!(
            c.problems(),
            &[
                Problem::BadValue("init.args="),
                Problem::BadValue("init.args")
            ]
        );
        // The last word wins, as for every option.
        let c = Cmdline::parse("init.args=a init.args=b,c");
        assert_eq!(c.init_args().collect::<Vec<_>>(), ["b", "c"]);
    }

    #[test]
    fn empty_and_many_words() {
        assert!(Cmdline::parse("").problems().is_empty());
        let long = "x ".repeat(100);
        assert_eq!(Cmdline::parse(&long).problems().len(), MAX_UNKNOWN);
    }
}
