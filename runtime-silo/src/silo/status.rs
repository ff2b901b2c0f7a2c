//! How a silo ended: the one outcome type every caller sees.
//!
//! The variants are disjoint causes, ordered by who ended the silo: the app
//! itself ([`ExitStatus::Exited`], [`ExitStatus::Failed`]), the wasm semantics
//! ([`ExitStatus::Trapped`]), the manager on someone's request or by policy
//! ([`ExitStatus::Killed`], [`ExitStatus::DeadlineExceeded`],
//! [`ExitStatus::LimitExceeded`]) or the manager refusing to run it at all
//! ([`ExitStatus::Rejected`]). Each has a stable one-word [`ExitStatus::tag`]
//! for line protocols.

use std::fmt;
use std::time::Duration;

/// The final status of a silo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// The app ended normally: `proc_exit(code)`, or `_start` returned (code 0),
    /// or a component's `run` returned `ok` (code 0).
    Exited(i32),
    /// A component's `run` returned `err(message)`.
    Failed(String),
    /// Execution hit a wasm trap (or a host function failed fatally).
    Trapped(TrapInfo),
    /// Stopped by [`Manager::kill`](super::Manager::kill).
    Killed,
    /// Ran past its wall-clock deadline or CPU-time budget.
    DeadlineExceeded(Deadline),
    /// Ended because it needed more of a resource than its limits allow.
    LimitExceeded(LimitExceeded),
    /// Never ran: the code or its interface is unacceptable.
    Rejected(Rejection),
}

impl ExitStatus {
    /// A stable single word naming the variant (`exited`, `failed`, `trapped`,
    /// `killed`, `deadline`, `limit`, `rejected`).
    pub fn tag(&self) -> &'static str {
        match self {
            Self::Exited(_) => "exited",
            Self::Failed(_) => "failed",
            Self::Trapped(_) => "trapped",
            Self::Killed => "killed",
            Self::DeadlineExceeded(_) => "deadline",
            Self::LimitExceeded(_) => "limit",
            Self::Rejected(_) => "rejected",
        }
    }

    /// Whether the app ended by itself with exit code 0.
    pub fn success(&self) -> bool {
        matches!(self, Self::Exited(0))
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exited(code) => write!(f, "exited with code {code}"),
            Self::Failed(message) => write!(f, "failed: {message}"),
            Self::Trapped(trap) => write!(f, "trapped: {trap}"),
            Self::Killed => f.write_str("killed on request"),
            Self::DeadlineExceeded(deadline) => write!(f, "deadline exceeded: {deadline}"),
            Self::LimitExceeded(limit) => write!(f, "limit exceeded: {limit}"),
            Self::Rejected(rejection) => write!(f, "rejected: {rejection}"),
        }
    }
}

/// What a trap was and where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrapInfo {
    /// The cause.
    pub kind: TrapKind,
    /// The wasm backtrace, when wasmtime captured one (function names and
    /// offsets, innermost first).
    pub backtrace: Option<String>,
}

impl fmt::Display for TrapInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

/// The cause of a trap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrapKind {
    /// `unreachable` executed (also how Rust's `abort` and panics end up).
    Unreachable,
    /// A load or store outside linear memory.
    MemoryOutOfBounds,
    /// `table.get`/`table.set`/`call_indirect` outside the table.
    TableOutOfBounds,
    /// `call_indirect` through an uninitialised table element.
    IndirectCallToNull,
    /// `call_indirect` to a function of another type.
    IndirectCallTypeMismatch,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero,
    /// Signed division overflow (`i32::MIN / -1`).
    IntegerOverflow,
    /// A float that does not fit the integer type of a truncation.
    BadConversionToInteger,
    /// The wasm stack exceeded the engine's `max_wasm_stack`.
    StackOverflow,
    /// Any other trap wasmtime reports (atomics, GC, component-model checks).
    Other(String),
    /// A host function (WASI or a component import) failed in a way the guest
    /// cannot handle; the message is the host error.
    Host(String),
}

impl TrapKind {
    /// Classifies a wasmtime trap code.
    pub fn from_wasmtime(trap: wasmtime::Trap) -> Self {
        use wasmtime::Trap;
        match trap {
            Trap::UnreachableCodeReached => Self::Unreachable,
            Trap::MemoryOutOfBounds => Self::MemoryOutOfBounds,
            Trap::TableOutOfBounds => Self::TableOutOfBounds,
            Trap::IndirectCallToNull => Self::IndirectCallToNull,
            Trap::BadSignature => Self::IndirectCallTypeMismatch,
            Trap::IntegerDivisionByZero => Self::IntegerDivisionByZero,
            Trap::IntegerOverflow => Self::IntegerOverflow,
            Trap::BadConversionToInteger => Self::BadConversionToInteger,
            Trap::StackOverflow => Self::StackOverflow,
            other => Self::Other(other.to_string()),
        }
    }
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The wording of the wasm spec test suite, which is also wasmtime's.
        match self {
            Self::Unreachable => f.write_str("unreachable instruction executed"),
            Self::MemoryOutOfBounds => f.write_str("out of bounds memory access"),
            Self::TableOutOfBounds => f.write_str("out of bounds table access"),
            Self::IndirectCallToNull => {
                f.write_str("uninitialized element (indirect call to null)")
            }
            Self::IndirectCallTypeMismatch => f.write_str("indirect call type mismatch"),
            Self::IntegerDivisionByZero => f.write_str("integer divide by zero"),
            Self::IntegerOverflow => f.write_str("integer overflow"),
            Self::BadConversionToInteger => f.write_str("invalid conversion to integer"),
            Self::StackOverflow => f.write_str("call stack exhausted"),
            Self::Other(message) => f.write_str(message),
            Self::Host(message) => write!(f, "host error: {message}"),
        }
    }
}

/// Which time limit a silo ran past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// Wall-clock time since the silo started running.
    Wall(Duration),
    /// CPU time consumed by the silo's thread.
    Cpu(Duration),
}

impl fmt::Display for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Wall(limit) => write!(f, "ran longer than {} ms wall-clock", limit.as_millis()),
            Self::Cpu(limit) => write!(f, "used more than {} ms of CPU time", limit.as_millis()),
        }
    }
}

/// A resource a silo is limited in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Bytes of linear memory, all memories of the silo together.
    Memory,
    /// Elements, all tables of the silo together.
    TableElements,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Memory => "linear memory bytes",
            Self::TableElements => "table elements",
        })
    }
}

/// A refused request for more of a limited resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitExceeded {
    /// Which resource.
    pub resource: Resource,
    /// The silo's limit.
    pub limit: u64,
    /// The total the silo asked for.
    pub requested: u64,
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} requested, limit {}",
            self.requested, self.resource, self.limit
        )
    }
}

/// Why a silo was refused before running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The wasm file could not be read.
    Unreadable(String),
    /// Not WebAssembly at all: wrong magic number, unknown version, or WAT
    /// text that does not parse.
    Malformed(String),
    /// WebAssembly that does not validate or compile.
    Invalid(String),
    /// No entry point: a core module without a `_start` function export.
    MissingEntry(String),
    /// The imports or exports do not match what the runtime provides: an
    /// unknown WASI function, or a component not targeting `strat9:silo/app`.
    Link(String),
    /// Instantiation failed (start function trap excluded): e.g. the
    /// instance or table-count limit.
    Instantiation(String),
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable(message) => write!(f, "cannot read the wasm file: {message}"),
            Self::Malformed(message) => write!(f, "malformed wasm: {message}"),
            Self::Invalid(message) => write!(f, "invalid wasm: {message}"),
            Self::MissingEntry(message) => write!(f, "no entry point: {message}"),
            Self::Link(message) => write!(f, "cannot link: {message}"),
            Self::Instantiation(message) => write!(f, "cannot instantiate: {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_clear_line() {
        let cases = [
            (ExitStatus::Exited(3), "exited with code 3"),
            (
                ExitStatus::Trapped(TrapInfo {
                    kind: TrapKind::IntegerDivisionByZero,
                    backtrace: None,
                }),
                "trapped: integer divide by zero",
            ),
            (ExitStatus::Killed, "killed on request"),
            (
                ExitStatus::DeadlineExceeded(Deadline::Wall(Duration::from_millis(250))),
                "deadline exceeded: ran longer than 250 ms wall-clock",
            ),
            (
                ExitStatus::LimitExceeded(LimitExceeded {
                    resource: Resource::Memory,
                    limit: 65536,
                    requested: 131072,
                }),
                "limit exceeded: 131072 linear memory bytes requested, limit 65536",
            ),
            (
                ExitStatus::Rejected(Rejection::MissingEntry("no `_start`".into())),
                "rejected: no entry point: no `_start`",
            ),
        ];
        for (status, text) in cases {
            assert_eq!(status.to_string(), text);
        }
    }

    #[test]
    fn every_listed_trap_code_has_its_own_kind() {
        use wasmtime::Trap;
        let kinds = [
            Trap::UnreachableCodeReached,
            Trap::MemoryOutOfBounds,
            Trap::TableOutOfBounds,
            Trap::IndirectCallToNull,
            Trap::BadSignature,
            Trap::IntegerDivisionByZero,
            Trap::IntegerOverflow,
            Trap::BadConversionToInteger,
            Trap::StackOverflow,
        ]
        .map(TrapKind::from_wasmtime);
        assert!(kinds.iter().all(|k| !matches!(k, TrapKind::Other(_))));
        assert_eq!(
            TrapKind::from_wasmtime(Trap::HeapMisaligned),
            TrapKind::Other(Trap::HeapMisaligned.to_string())
        );
    }
}
