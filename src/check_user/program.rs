//! A student's program running in the background: its stdout read line
//! by line on a thread, and killed (and reaped) when dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::Duration;

/// How long to wait for a line the program prints every half second.
const PATIENCE: Duration = Duration::from_secs(15);

pub struct Running {
    child: Child,
    lines: Receiver<String>,
    name: String,
}

/// Runs `program ARGS` to its end: Ok(stdout) on exit code 0, else Err
/// with the code and its stderr's last line.
pub fn run_to_end(program: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .find(|l| l.starts_with("Error"))
        .unwrap_or("");
    Err(format!(
        "`{} {}` failed ({}) {last}",
        program.display(),
        args.join(" "),
        out.status
    ))
}

impl Running {
    pub fn spawn(program: &Path, args: &[&str]) -> Result<Running, String> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let name = program.display().to_string();
        Ok(Running { child, lines, name })
    }

    /// The next line containing `text`.
    pub fn wait_line(&mut self, text: &str) -> Result<String, String> {
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) if line.contains(text) => return Ok(line),
                Ok(_) => {}
                Err(_) => {
                    let status = self.child.try_wait().ok().flatten();
                    let state = status.map_or("still running".into(), |s| format!("ended: {s}"));
                    return Err(format!(
                        "{} printed no line with {text:?} ({state})",
                        self.name
                    ));
                }
            }
        }
    }

    /// The next block: a line starting with `start`, up to an empty line.
    pub fn next_block(&mut self, start: &str) -> Result<Vec<String>, String> {
        let mut block = vec![self.wait_line(start)?];
        loop {
            let line = self.wait_line("")?;
            if line.is_empty() {
                return Ok(block);
            }
            block.push(line);
        }
    }

    /// A block read wholly after this call: what was printed before is
    /// dropped, and the first block skipped (it may have been read before).
    pub fn block_read_after_now(&mut self, start: &str) -> Result<Vec<String>, String> {
        while !matches!(
            self.lines.try_recv(),
            Err(TryRecvError::Empty | TryRecvError::Disconnected)
        ) {}
        self.next_block(start)?;
        self.next_block(start)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
