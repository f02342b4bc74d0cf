//! One tracepoint's events recorded in a private tracefs instance of this
//! `check` run: the machine's shared trace buffer (which `trace_pipe`
//! readers empty as they read) is never read, and other users of it see
//! nothing of ours.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::tracefs;

pub struct TraceEvents {
    /// instances/xdpcheck-PID-N
    dir: PathBuf,
    /// "GROUP/EVENT", e.g. "xdp/xdp_exception".
    event: &'static str,
}

impl TraceEvents {
    /// Starts recording `event` (only the records `filter` keeps, if given).
    pub fn watch(event: &'static str, filter: Option<String>) -> Result<TraceEvents, String> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let root = tracefs::root().map_err(|f| f.message)?;
        if !root.join("events").join(event).is_dir() {
            return Err(format!("this kernel has no {event} tracepoint"));
        }
        let dir = root.join("instances").join(format!(
            "xdpcheck-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // From here on, Drop removes the instance.
        let events = TraceEvents { dir, event };
        let write = |file: &str, text: &str| {
            let path = events.dir.join("events").join(event).join(file);
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
        };
        if let Some(filter) = filter {
            write("filter", &filter)?;
        }
        write("enable", "1")?;
        Ok(events)
    }

    /// The records so far, one line each (the `trace` file, read without
    /// consuming it, its `#` header left out).
    pub fn lines(&self) -> Result<Vec<String>, String> {
        let trace = std::fs::read_to_string(self.dir.join("trace")).map_err(|e| e.to_string())?;
        Ok(trace
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect())
    }
}

impl Drop for TraceEvents {
    fn drop(&mut self) {
        let enable = self.dir.join("events").join(self.event).join("enable");
        let _ = std::fs::write(enable, "0");
        let _ = std::fs::remove_dir(&self.dir);
    }
}
