//! `xdp-loader` as a background process whose output lines a test reads
//! as they come.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::loader_path;

/// `xdp-loader` running in the background (stats, monitor, trace,
/// capture); killed on drop.
pub struct Background {
    pub child: Child,
    pub stdout: Receiver<String>,
    stderr: Receiver<String>,
    /// Every stderr line received so far.
    pub stderr_seen: Vec<String>,
}

fn lines_of(stream: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Background {
    /// Starts `xdp-loader ARGS` (the command name included).
    pub fn spawn(args: &[&str]) -> Background {
        let mut command = Command::new(loader_path());
        command.args(args).stdin(Stdio::null());
        Background::spawn_command(command)
    }

    /// Starts `xdp-loader ARGS` inside network namespace `netns` (`ip
    /// netns exec` execs it: signals reach xdp-loader itself).
    pub fn spawn_inside(netns: &str, args: &[&str]) -> Background {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", netns, loader_path()])
            .args(args)
            .stdin(Stdio::null());
        Background::spawn_command(command)
    }

    /// Starts any command (an example program), its stdout and stderr
    /// read line by line; its stdin is what `command` says.
    pub fn spawn_command(mut command: Command) -> Background {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
        let stdout = lines_of(child.stdout.take().unwrap());
        let stderr = lines_of(child.stderr.take().unwrap());
        Background {
            child,
            stdout,
            stderr,
            stderr_seen: Vec::new(),
        }
    }

    pub fn drain_stderr(&mut self) {
        while let Ok(line) = self.stderr.try_recv() {
            self.stderr_seen.push(line);
        }
    }

    /// The next JSON sample on stdout.
    #[track_caller]
    pub fn next_json(&mut self, timeout: Duration) -> Value {
        match self.stdout.recv_timeout(timeout) {
            Ok(line) => {
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
            }
            Err(e) => {
                self.drain_stderr();
                panic!(
                    "no sample within {timeout:?} ({e:?}); exit: {:?}; stderr: {:#?}",
                    self.child.try_wait(),
                    self.stderr_seen
                );
            }
        }
    }

    /// Waits for a stderr line containing `text`.
    #[track_caller]
    pub fn wait_stderr(&mut self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.stderr_seen.iter().find(|l| l.contains(text)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => self.stderr_seen.push(line),
                Err(e) => panic!(
                    "no stderr line with {text:?} within {timeout:?} ({e:?}); exit: {:?}; stderr: {:#?}",
                    self.child.try_wait(),
                    self.stderr_seen
                ),
            }
        }
    }

    /// The exit code, if the process ends within `timeout`; all of
    /// stderr is then in `stderr_seen`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // The reader thread sees EOF soon after the exit.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => self.stderr_seen.push(line),
                Err(RecvTimeoutError::Disconnected | RecvTimeoutError::Timeout) => break,
            }
        }
        Some(status.code().unwrap_or(-1))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Background {
    /// Sends `signal` (e.g. libc::SIGINT) to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }
}
