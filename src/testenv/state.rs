//! The state directory: what `setup` remembered about each environment.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::*;
use crate::error::{Exit, Failure};

// The state directory.

pub(crate) struct State {
    pub(crate) dir: PathBuf,
}

impl State {
    /// `${TMPDIR:-/tmp}/xdp-tutorial-testlab` (an empty TMPDIR counts as unset, like the shell).
    /// Created by the first setup: until then, there are no environments.
    pub(crate) fn open() -> State {
        let tmp = std::env::var_os("TMPDIR")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        State {
            dir: tmp.join("xdp-tutorial-testlab"),
        }
    }

    pub(crate) fn create_dir(&self) -> Result<(), Failure> {
        fs::create_dir_all(&self.dir).map_err(|e| io_failure("cannot create", &self.dir, e))
    }

    pub(crate) fn env_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.env"))
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.env_path(name).exists()
    }

    /// The environment NAME, or None when it has no state file.
    pub(crate) fn load(&self, name: &str) -> Result<Option<Env>, Failure> {
        let path = self.env_path(name);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_failure("cannot read", &path, e)),
        };
        Env::parse(name, &text).map(Some).map_err(|why| {
            Failure::new(
                Exit::Fail,
                format!("state file {} is damaged: {why}", path.display()),
            )
            .hint(format!(
                "remove the environment: xdp-loader testenv teardown --name {name}"
            ))
        })
    }

    pub(crate) fn save(&self, env: &Env) -> Result<(), Failure> {
        let path = self.env_path(&env.name);
        fs::write(&path, env.format()).map_err(|e| io_failure("cannot write", &path, e))
    }

    pub(crate) fn remove(&self, name: &str) -> Result<(), Failure> {
        remove_file_if_exists(&self.env_path(name))
    }

    /// Every environment with a state file, sorted by name.
    pub(crate) fn names(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|entry| {
                let file = entry.ok()?.file_name().into_string().ok()?;
                file.strip_suffix(".env").map(str::to_owned)
            })
            .collect();
        names.sort();
        names
    }

    pub(crate) fn current(&self) -> Option<String> {
        let text = fs::read_to_string(self.dir.join("current")).ok()?;
        let name = text.trim();
        (!name.is_empty()).then(|| name.to_owned())
    }

    pub(crate) fn set_current(&self, name: &str) -> Result<(), Failure> {
        let path = self.dir.join("current");
        fs::write(&path, format!("{name}\n")).map_err(|e| io_failure("cannot write", &path, e))
    }

    pub(crate) fn forget_current_if(&self, name: &str) -> Result<(), Failure> {
        if self.current().as_deref() == Some(name) {
            remove_file_if_exists(&self.dir.join("current"))?;
        }
        Ok(())
    }

    /// Holds the state directory's lock until dropped: two `setup`s at
    /// once (two students, two walk-throughs) get different numbers.
    pub(crate) fn lock(&self) -> Result<fs::File, Failure> {
        let path = self.dir.join("lock");
        let file = fs::File::create(&path).map_err(|e| io_failure("cannot create", &path, e))?;
        // SAFETY: flock on an fd this function owns.
        if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&file), libc::LOCK_EX) } != 0 {
            return Err(io_failure("cannot lock", &path, io::Error::last_os_error()));
        }
        Ok(file)
    }

    /// The number for a new environment: one more than the highest used.
    pub(crate) fn next_num(&self) -> Result<u32, Failure> {
        let path = self.dir.join("highest");
        match fs::read_to_string(&path) {
            Ok(text) => text.trim().parse::<u32>().map(|n| n + 1).map_err(|_| {
                Failure::new(
                    Exit::Fail,
                    format!("counter file {} is damaged", path.display()),
                )
                .hint(format!(
                    "remove it to restart numbering: rm {}",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => first_num(),
            Err(e) => Err(io_failure("cannot read", &path, e)),
        }
    }

    pub(crate) fn set_highest(&self, num: u32) -> Result<(), Failure> {
        let path = self.dir.join("highest");
        fs::write(&path, format!("{num}\n")).map_err(|e| io_failure("cannot write", &path, e))
    }
}

/// 1, or the value of the test hook `XDP_TESTENV_FIRST_NUM`.
pub(crate) fn first_num() -> Result<u32, Failure> {
    match std::env::var(FIRST_NUM_VAR) {
        Err(_) => Ok(1),
        Ok(text) => text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                Failure::new(
                    Exit::Usage,
                    format!("{FIRST_NUM_VAR}='{text}' is not a positive number"),
                )
            }),
    }
}

pub(crate) fn io_failure(what: &str, path: &Path, err: io::Error) -> Failure {
    Failure::new(Exit::Fail, format!("{what} {}: {err}", path.display()))
}

pub(crate) fn remove_file_if_exists(path: &Path) -> Result<(), Failure> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_failure("cannot remove", path, e)),
        _ => Ok(()),
    }
}
