//! Which pins this tool created, so that `unload` and `clean` remove only
//! those, and the lock that keeps two runs from changing pins at once.
//!
//! The record is a text file, `/run/xdp-loader/pins`, one line per map pin:
//!
//! ```text
//! MAP_ID PROG_ID PID IFNAME PATH
//! ```
//!
//! the kernel id of the pinned map, the program it was pinned for, the
//! `xdp-loader` process that pinned it, the interface, and the pin path.
//! A line is written *before* its pin is made, so a SIGKILL can leave a
//! line without a pin (stale, dropped by `clean`) but never a pin of ours
//! without a line. A pin counts as ours only while the map pinned at PATH
//! still has MAP_ID: a pin someone replaced is theirs.
//!
//! bpffs is cleared at boot, and so is /run where it is a tmpfs (on most
//! systems). The record also carries the boot id, and a record from an
//! earlier boot is ignored: its pins are gone, and its map ids could
//! match new maps. If the record is lost while the pins
//! stay (someone deletes /run/xdp-loader), those pins are no longer known
//! to be ours: `unload` keeps them and says so, `clean` lists them, and the
//! user removes them with `rm`.
//!
//! Every command that creates or removes pins holds `/run/xdp-loader/lock`
//! (flock) from before its first change to after its last, so `clean`
//! never mistakes the fresh pin of a `load` in progress for a leftover.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Exit, Failure};

/// Where the record and the lock live.
pub const RUN_DIR: &str = "/run/xdp-loader";

fn run_dir() -> PathBuf {
    PathBuf::from(RUN_DIR)
}

fn io_failure(what: &str, path: &Path, e: std::io::Error) -> Failure {
    Failure::new(Exit::Fail, format!("cannot {what} {}: {e}", path.display()))
        .hint("xdp-loader keeps its record of pins in /run/xdp-loader: it must be writable by root")
}

/// Held while pins change; released when the last guard of this process
/// is dropped (or when the process dies, however it dies). Taking it again
/// in the same process (testenv loads two sides) does not wait for itself.
#[derive(Debug)]
pub struct Lock {
    _private: (),
}

/// The lock file while this process holds the lock, and how many guards.
static HELD: Mutex<(Option<File>, usize)> = Mutex::new((None, 0));

/// Waits for, then takes, the pin lock.
pub fn lock() -> Result<Lock, Failure> {
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    if held.1 == 0 {
        held.0 = Some(take_file_lock()?);
    }
    held.1 += 1;
    Ok(Lock { _private: () })
}

impl Drop for Lock {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        held.1 -= 1;
        if held.1 == 0 {
            held.0 = None; // closing the file releases the flock
        }
    }
}

fn take_file_lock() -> Result<File, Failure> {
    let dir = run_dir();
    std::fs::create_dir_all(&dir).map_err(|e| io_failure("create", &dir, e))?;
    let path = dir.join("lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_failure("open", &path, e))?;
    // SAFETY: a valid fd; flock has no other preconditions.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(io_failure("lock", &path, std::io::Error::last_os_error()));
    }
    Ok(file)
}

/// One map pin this tool made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub map_id: u32,
    pub prog_id: u32,
    pub pid: u32,
    pub ifname: String,
    pub path: PathBuf,
}

impl Entry {
    fn line(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.map_id,
            self.prog_id,
            self.pid,
            self.ifname,
            self.path.display()
        )
    }

    fn parse(line: &str) -> Option<Entry> {
        let mut fields = line.splitn(5, ' ');
        Some(Entry {
            map_id: fields.next()?.parse().ok()?,
            prog_id: fields.next()?.parse().ok()?,
            pid: fields.next()?.parse().ok()?,
            ifname: fields.next()?.to_string(),
            path: PathBuf::from(fields.next()?),
        })
    }

    /// Does the pin at `path` still hold the map we pinned there?
    pub fn still_ours(&self) -> bool {
        crate::pin::pinned_map_id(&self.path) == Some(self.map_id)
    }
}

/// This boot's random id (the kernel makes a new one at every boot).
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|id| id.trim().to_string())
        .unwrap_or_default()
}

/// The record, read while the lock is held (the `&Lock` says so).
#[derive(Debug, Default)]
pub struct Record {
    pub entries: Vec<Entry>,
}

impl Record {
    fn path() -> PathBuf {
        run_dir().join("pins")
    }

    pub fn read(_held: &Lock) -> Record {
        let text = std::fs::read_to_string(Self::path()).unwrap_or_default();
        // Written before the last boot: bpffs was cleared since, and map ids
        // start again from 1, so its ids could match someone else's new map.
        let this_boot = format!("# boot {}", boot_id());
        if text.lines().nth(1) != Some(this_boot.as_str()) {
            return Record::default();
        }
        Record {
            entries: text
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(Entry::parse)
                .collect(),
        }
    }

    /// Writes the record whole (a new file renamed over the old one, so a
    /// kill mid-write leaves the old record or the new, never half of one).
    /// No fsync: a killed process loses nothing written, and what a power
    /// loss could lose, bpffs loses too.
    pub fn write(&self, _held: &Lock) -> Result<(), Failure> {
        let path = Self::path();
        let temp = run_dir().join(format!("pins.{}", std::process::id()));
        let mut text = format!(
            "# xdp-loader map pins: MAP_ID PROG_ID PID IFNAME PATH\n# boot {}\n",
            boot_id()
        );
        for entry in &self.entries {
            text.push_str(&entry.line());
            text.push('\n');
        }
        File::create(&temp)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| io_failure("write", &temp, e))?;
        std::fs::rename(&temp, &path).map_err(|e| io_failure("replace", &path, e))
    }

    /// The entry for `path`, if it is ours (recorded, and still the same map).
    pub fn owned(&self, path: &Path) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.path == path)
            .filter(|e| e.still_ours())
    }

    /// Replaces any entry for the same path.
    pub fn add(&mut self, entry: Entry) {
        self.forget(&entry.path);
        self.entries.push(entry);
    }

    pub fn forget(&mut self, path: &Path) {
        self.entries.retain(|e| e.path != path);
    }

    /// The entries of pins in `dir`.
    pub fn in_dir<'a>(&'a self, dir: &'a Path) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries
            .iter()
            .filter(move |e| e.path.parent() == Some(dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_round_trip_even_with_spaces_in_the_path() {
        let entry = Entry {
            map_id: 12,
            prog_id: 34,
            pid: 56,
            ifname: "eth0.5".into(),
            path: PathBuf::from("/sys/fs/bpf/my pins/xdp_stats_map"),
        };
        assert_eq!(Entry::parse(&entry.line()), Some(entry));
    }

    #[test]
    fn damaged_lines_are_skipped() {
        for line in ["", "12 34", "x 1 2 eth0 /p", "1 2 3 eth0"] {
            assert_eq!(Entry::parse(line), None, "{line:?}");
        }
    }
}
