//! Captures libbpf's log messages so errors can quote them.
//!
//! libbpf reports the verifier log, the kernel's netlink error text
//! (extack) and most load problems only through its print callback. We keep
//! those lines in memory and quote the relevant ones in our error message;
//! with `-v` libbpf's messages also go to stderr as they happen, with `-vv`
//! its debug level too.

use std::os::raw::{c_char, c_int};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

/// How many `-v` were given.
static VERBOSITY: AtomicU8 = AtomicU8::new(0);
static CAPTURED: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// The last debug-level line, kept below `-vv`: libbpf gives the reason
/// for some refusals (a damaged object's BTF) only at debug level, with an
/// errno as vague as ENOENT.
static LAST_DEBUG: Mutex<Option<String>> = Mutex::new(None);

/// Routes libbpf's output through `print`. Call once, early in `main`.
pub fn init(verbosity: u8) {
    VERBOSITY.store(verbosity, Ordering::Relaxed);
    // SAFETY: `print` matches libbpf's callback type and never unwinds.
    unsafe {
        libbpf_sys::libbpf_set_print(Some(print));
    }
}

/// `-v` or more: libbpf's messages to stderr, the verifier's whole log.
pub fn verbose() -> bool {
    VERBOSITY.load(Ordering::Relaxed) >= 1
}

/// `-vv`: libbpf's debug messages too, and the verifier's most detailed log.
pub fn debug() -> bool {
    VERBOSITY.load(Ordering::Relaxed) >= 2
}

/// The verifier log level a program is loaded with: 0 (the kernel logs
/// only a refusal, which libbpf then asks for again at level 1), 1 with
/// `-v`, 1|2 with `-vv` (every instruction's register state; libbpf prints
/// it at debug level even when the program is accepted).
pub fn verifier_log_level() -> u32 {
    match VERBOSITY.load(Ordering::Relaxed) {
        0 => 0,
        1 => 1,
        _ => 1 | 2,
    }
}

/// libbpf's print callback. Not libbpf-rs's `set_print`: that one panics
/// (and so aborts the process, inside a C callback) when a message is not
/// valid UTF-8, which a damaged object's names can make it. Here bytes that
/// are not UTF-8 become U+FFFD.
unsafe extern "C" fn print(
    level: libbpf_sys::libbpf_print_level,
    format: *const c_char,
    args: *mut libbpf_sys::__va_list_tag,
) -> c_int {
    let quiet_debug = level == libbpf_sys::LIBBPF_DEBUG && !debug();
    // SAFETY: libbpf passes a valid format string and its matching va_list.
    if let Ok(bytes) = unsafe { vsprintf::vsprintf_raw(format, args) } {
        let message = String::from_utf8_lossy(&bytes);
        // A panic must not unwind into C; losing one log line is fine.
        let _ = std::panic::catch_unwind(|| {
            if quiet_debug {
                keep_last_debug(&message)
            } else {
                capture(&message)
            }
        });
    }
    0
}

fn keep_last_debug(message: &str) {
    if let (Ok(mut last), Some(line)) = (LAST_DEBUG.lock(), message.lines().last()) {
        *last = Some(line.to_string());
    }
}

/// The last debug line libbpf printed since the last `take` (None with `-vv`:
/// then every line is in `take`'s lines already).
pub fn last_debug_line() -> Option<String> {
    LAST_DEBUG.lock().ok()?.clone()
}

fn capture(message: &str) {
    if verbose() {
        eprint!("{message}");
    }
    if let Ok(mut lines) = CAPTURED.lock() {
        lines.extend(message.lines().map(str::to_string));
    }
}

/// Takes (and clears) everything libbpf said since the last call.
pub fn take() -> Vec<String> {
    if let Ok(mut last) = LAST_DEBUG.lock() {
        *last = None;
    }
    CAPTURED
        .lock()
        .map(|mut lines| std::mem::take(&mut *lines))
        .unwrap_or_default()
}

/// The kernel's own explanation of a failed netlink/link operation, which
/// libbpf prints as "Kernel error message: ...".
pub fn kernel_message(lines: &[String]) -> Option<String> {
    lines.iter().rev().find_map(|line| {
        line.split_once("Kernel error message:")
            .map(|(_, text)| text.trim().to_string())
    })
}

/// The verifier log libbpf prints between `-- BEGIN PROG LOAD LOG --` and
/// `-- END PROG LOAD LOG --` when the kernel rejects a program.
pub fn verifier_log(lines: &[String]) -> Option<Vec<String>> {
    let begin = lines
        .iter()
        .rposition(|l| l.contains("-- BEGIN PROG LOAD LOG --"))?;
    let end = lines[begin..]
        .iter()
        .position(|l| l.contains("-- END PROG LOAD LOG --"))
        .map_or(lines.len(), |offset| begin + offset);
    Some(
        lines[begin + 1..end]
            .iter()
            .filter(|l| !l.trim().is_empty())
            .cloned()
            .collect(),
    )
}

/// The last instruction the verifier looked at, e.g. `0: (61) r2 = *(u32 *)(r1 +0)`.
pub fn failing_instruction(log: &[String]) -> Option<&str> {
    log.iter().rev().map(|l| l.trim()).find(|line| {
        let Some((number, rest)) = line.split_once(": (") else {
            return false;
        };
        !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) && rest.contains(')')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn finds_the_kernel_message() {
        let log = lines("libbpf: Kernel error message: XDP program already attached\n");
        assert_eq!(
            kernel_message(&log).as_deref(),
            Some("XDP program already attached")
        );
        assert_eq!(kernel_message(&lines("nothing here")), None);
    }

    #[test]
    fn extracts_the_verifier_log_and_failing_instruction() {
        let log = lines(
            "libbpf: prog 'bad': BPF program load failed: Permission denied\n\
             libbpf: prog 'bad': -- BEGIN PROG LOAD LOG --\n\
             0: R1=ctx() R10=fp0\n\
             0: (61) r2 = *(u32 *)(r1 +0)          ; R1=ctx() R2_w=pkt(r=0)\n\
             1: (61) r0 = *(u32 *)(r2 +0)\n\
             invalid access to packet, off=0 size=4, R2(id=0,off=0,r=0)\n\
             processed 2 insns (limit 1000000)\n\
             -- END PROG LOAD LOG --\n\
             libbpf: failed to load object 'x'\n",
        );
        let verifier = verifier_log(&log).expect("log found");
        assert_eq!(verifier.len(), 5);
        assert_eq!(
            failing_instruction(&verifier),
            Some("1: (61) r0 = *(u32 *)(r2 +0)")
        );
    }
}
