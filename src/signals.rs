//! Keeping Ctrl-C and `kill` from cutting a change to the system in half.
//!
//! `load` creates pins, then loads, then attaches. Killed between those
//! steps, it would leave pins without a program, or a program without the
//! pins its user expects. While a `Deferred` guard lives, the terminating
//! signals wait; when it drops, a pending one takes effect, after the
//! change is complete or undone.

/// Signals that end a process by default and that a user sends on purpose.
const TERMINATING: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// Blocks the terminating signals until dropped.
pub struct Deferred {
    previous: libc::sigset_t,
}

/// Defers SIGINT, SIGTERM, SIGHUP and SIGQUIT until the guard is dropped.
pub fn defer_termination() -> Deferred {
    // SAFETY: the sets are initialised by sigemptyset before use, and
    // sigprocmask only reads `block` and writes `previous`.
    unsafe {
        let mut block: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut block);
        for signal in TERMINATING {
            libc::sigaddset(&mut block, signal);
        }
        let mut previous: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut previous);
        Deferred { previous }
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in defer_termination.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.previous, std::ptr::null_mut());
        }
    }
}

/// A channel that receives a message on Ctrl-C, SIGTERM or SIGHUP, for
/// commands that run until stopped and then finish cleanly (print their
/// last sample, close their file). Set once per process.
pub fn stop_requests() -> Result<std::sync::mpsc::Receiver<()>, crate::error::Failure> {
    let (tx, rx) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .map_err(|e| {
        crate::error::Failure::new(
            crate::error::Exit::Fail,
            format!("cannot catch Ctrl-C: {e}"),
        )
    })?;
    Ok(rx)
}

/// Is a terminating signal waiting (blocked by a `Deferred` guard)? Long
/// deferred work polls this to stop early and clean up.
pub fn termination_pending() -> bool {
    // SAFETY: sigpending fills the zeroed set; sigismember only reads it.
    unsafe {
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending);
        TERMINATING
            .iter()
            .any(|&signal| libc::sigismember(&pending, signal) == 1)
    }
}
