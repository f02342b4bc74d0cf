//! The error model: every failure a user can cause becomes a `Failure` with
//! an exit code, one `Error:` line, optional detail lines and a `Hint:`.
//!
//! Exit codes mirror the C tutorial's `common_defines.h`.

use std::fmt;

/// Process exit codes (documented in README, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Anything else that went wrong (a missing program to unload, ...).
    Fail = 1,
    /// Bad option or argument: unknown interface, conflicting flags.
    Usage = 2,
    /// The kernel refused to attach (or detach) the XDP program.
    Xdp = 30,
    /// The BPF object could not be opened or loaded (verifier included).
    Bpf = 40,
}

/// A failure with everything needed to explain it to the user.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
    /// Extra lines shown between the error and the hint (verifier log ...).
    pub details: Vec<String>,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure {
            exit,
            message: message.into(),
            details: Vec::new(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn details(mut self, lines: impl IntoIterator<Item = String>) -> Self {
        self.details.extend(lines);
        self
    }

    /// Prints the failure to stderr in the documented shape.
    pub fn report(&self) {
        eprintln!("Error: {}", self.message);
        for line in &self.details {
            eprintln!("  {line}");
        }
        if let Some(hint) = &self.hint {
            eprintln!("Hint: {hint}");
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Shorthand for `Err(Failure::new(..))` in functions returning `anyhow::Result`.
pub fn fail<T>(exit: Exit, message: impl Into<String>) -> Result<T, Failure> {
    Err(Failure::new(exit, message))
}

/// The errno behind a libbpf-rs error (0 if it has none).
///
/// libbpf-rs wraps an `io::Error` but exposes only a coarse `ErrorKind`;
/// its text keeps std's "(os error N)" suffix, which we read back.
pub fn errno_of(err: &libbpf_rs::Error) -> i32 {
    let text = format!("{err:#}");
    text.rsplit_once("os error ")
        .and_then(|(_, rest)| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .unwrap_or(0)
}

/// `strerror` text for an errno, e.g. "Device or resource busy".
pub fn errno_text(errno: i32) -> String {
    if errno >= 4000 {
        // libbpf's own codes (LIBBPF_ERRNO__*), e.g. 4001 "BPF object format invalid".
        let mut buf = [0 as std::ffi::c_char; 128];
        // SAFETY: libbpf writes a NUL-terminated string of at most buf.len() bytes.
        unsafe { libbpf_sys::libbpf_strerror(-errno, buf.as_mut_ptr(), buf.len() as _) };
        // SAFETY: see above.
        return unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned();
    }
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    // std appends " (os error N)"; the errno name is said separately.
    match text.find(" (os error") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

/// Symbolic name for the errnos this tool explains.
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EACCES => "EACCES",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ERANGE => "ERANGE",
        libc::E2BIG => "E2BIG",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        // The kernel-internal ENOTSUPP, which some bpf() calls leak.
        524 => "ENOTSUPP",
        _ => "errno",
    }
}

/// The hint shared by every operation the kernel refused with EPERM/EACCES.
pub const ROOT_HINT: &str =
    "BPF and XDP need CAP_SYS_ADMIN and CAP_NET_ADMIN (root has them), and pins in \
     /sys/fs/bpf need write access there: run it with sudo, or as root";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_text_drops_the_os_error_suffix() {
        assert_eq!(errno_text(libc::EBUSY), "Device or resource busy");
    }

    #[test]
    fn errno_of_reads_the_wrapped_os_error() {
        let err = libbpf_rs::Error::from_raw_os_error(libc::EBUSY);
        assert_eq!(errno_of(&err), libc::EBUSY);
    }

    #[test]
    fn libbpf_errnos_have_text() {
        assert_eq!(errno_text(4001), "BPF object format invalid");
    }

    #[test]
    fn exit_codes_match_the_c_tutorial() {
        assert_eq!(Exit::Fail as i32, 1);
        assert_eq!(Exit::Usage as i32, 2);
        assert_eq!(Exit::Xdp as i32, 30);
        assert_eq!(Exit::Bpf as i32, 40);
    }
}
