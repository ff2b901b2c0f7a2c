//! `kernel_cmdline`: the kernel command line as the kernel gets it. The
//! input is the physical memory at the address the PVH start info gives
//! for the command line (nothing readable after it), read by
//! `bedrock::boot::pvh::parse` (NUL-terminated, at most `CMDLINE_MAX`
//! bytes, UTF-8), then parsed by `Cmdline::parse`; init's `argv` is packed
//! as `SiloSpawn` wants it.
//!
//! Checks: the text kept agrees with a model of the reading rules; the
//! options agree with a model of the parsing rules (last word wins, bad
//! values reported, at most 16 problems listed); `init.args` items are
//! non-empty and comma-free; init's `argv` packs and unpacks unchanged.

use bedrock::boot::CMDLINE_MAX;
use bedrock::boot::cmdline::{Cmdline, LogLevel, Problem};
use bedrock::boot::pvh::{self, PhysRead, Unreachable};
use bedrock::mm::PhysRange;
use bedrock_abi::silo::{MAX_STRINGS, pack, unpack};

const START_INFO: u64 = 0x1000;
const MEMMAP: u64 = 0x2000;
const CMDLINE: u64 = 0x10_0000;

/// Physical memory: a start info, a one-entry memory map, and the input at
/// [`CMDLINE`].
struct Memory<'a> {
    start_info: [u8; 56],
    memmap: [u8; 24],
    cmdline: &'a [u8],
}

impl PhysRead for Memory<'_> {
    fn read(&self, phys: u64, buf: &mut [u8]) -> Result<(), Unreachable> {
        for (base, bytes) in [
            (START_INFO, &self.start_info[..]),
            (MEMMAP, &self.memmap[..]),
            (CMDLINE, self.cmdline),
        ] {
            if let Some(off) = phys.checked_sub(base)
                && let Ok(off) = usize::try_from(off)
                && let Some(src) = off
                    .checked_add(buf.len())
                    .and_then(|end| bytes.get(off..end))
            {
                buf.copy_from_slice(src);
                return Ok(());
            }
        }
        Err(Unreachable)
    }
}

fn memory(cmdline: &[u8]) -> Memory<'_> {
    let mut si = [0u8; 56];
    si[0..4].copy_from_slice(&pvh::MAGIC.to_le_bytes());
    si[4..8].copy_from_slice(&1u32.to_le_bytes()); // version
    si[24..32].copy_from_slice(&CMDLINE.to_le_bytes());
    si[40..48].copy_from_slice(&MEMMAP.to_le_bytes());
    si[48..52].copy_from_slice(&1u32.to_le_bytes());
    let mut mm = [0u8; 24];
    mm[0..8].copy_from_slice(&0x10_0000u64.to_le_bytes());
    mm[8..16].copy_from_slice(&(64u64 << 20).to_le_bytes());
    mm[16..20].copy_from_slice(&1u32.to_le_bytes()); // usable
    Memory {
        start_info: si,
        memmap: mm,
        cmdline,
    }
}

pub fn kernel_cmdline(data: &[u8]) {
    let kernel = PhysRange::from_len(0x20_0000, 0x10_0000).expect("a range");
    let info = pvh::parse(&memory(data), START_INFO, kernel).expect("the start info parses");

    // The reading rules.
    let window = &data[..data.len().min(CMDLINE_MAX)];
    let (text, invalid, truncated) = match window.iter().position(|&b| b == 0) {
        Some(nul) => match std::str::from_utf8(&window[..nul]) {
            Ok(s) => (s, false, false),
            Err(_) => ("", true, false),
        },
        // Unreadable before the NUL.
        None if data.len() < CMDLINE_MAX => ("", true, false),
        None => match std::str::from_utf8(window) {
            Ok(s) => (s, false, true),
            Err(_) => ("", true, true),
        },
    };
    assert_eq!(info.cmdline.as_str(), text);
    assert_eq!(info.cmdline_invalid, invalid);
    assert_eq!(info.cmdline_truncated, truncated);

    let c = Cmdline::parse(&info.cmdline);
    let m = model(text);
    assert_eq!(c.test, m.test);
    assert_eq!(c.init, m.init);
    assert_eq!(c.log_level, m.log_level);
    assert_eq!(c.fpu_fxsave, m.fpu_fxsave);
    assert_eq!(c.problems().len(), m.problems.min(16));
    for p in c.problems() {
        let (Problem::Unknown(w) | Problem::BadValue(w)) = *p;
        assert!(text.split_ascii_whitespace().any(|x| x == w), "{w:?}");
    }
    let args: Vec<&str> = c.init_args().collect();
    assert!(args.iter().all(|a| !a.is_empty() && !a.contains(',')));
    assert_eq!(args, m.init_args);

    // init's argv, as the kernel hands it to SiloSpawn's rules.
    let mut argv = vec![c.init.unwrap_or("init")];
    argv.extend(&args);
    let mut buf = vec![0u8; MAX_STRINGS];
    let n = pack(&argv, &mut buf).expect("a command line's argv packs");
    let back: Vec<&str> = unpack(&buf[..n], argv.len() as u32)
        .expect("packed argv unpacks")
        .collect();
    assert_eq!(back, argv);
}

#[derive(Debug, Default)]
struct Model<'a> {
    test: Option<&'a str>,
    init: Option<&'a str>,
    init_args: Vec<&'a str>,
    log_level: Option<LogLevel>,
    fpu_fxsave: bool,
    problems: usize,
}

/// The command-line rules of `bedrock/src/boot/cmdline.rs`, restated.
fn model(text: &str) -> Model<'_> {
    let mut m = Model::default();
    for word in text.split_ascii_whitespace() {
        let (key, value) = match word.find('=') {
            Some(i) => (&word[..i], Some(&word[i + 1..])),
            None => (word, None),
        };
        let ok = match (key, value) {
            ("test", Some(v)) if !v.is_empty() => {
                m.test = Some(v);
                true
            }
            ("init", Some(v)) if !v.is_empty() => {
                m.init = Some(v);
                true
            }
            ("init.args", Some(v)) if !v.is_empty() => {
                m.init_args = v.split(',').filter(|a| !a.is_empty()).collect();
                true
            }
            ("loglevel", Some(v)) => {
                let level = match v {
                    "error" => Some(LogLevel::Error),
                    "warn" => Some(LogLevel::Warn),
                    "info" => Some(LogLevel::Info),
                    "debug" => Some(LogLevel::Debug),
                    "trace" => Some(LogLevel::Trace),
                    _ => None,
                };
                if level.is_some() {
                    m.log_level = level;
                }
                level.is_some()
            }
            ("fpu", Some("fxsave")) => {
                m.fpu_fxsave = true;
                true
            }
            ("fpu", Some("auto")) => {
                m.fpu_fxsave = false;
                true
            }
            _ => false,
        };
        if !ok {
            m.problems += 1;
        }
    }
    m
}
