//! Where `-w` sends the pcap: a file, or standard output for `-w -`
//! (as tcpdump: `capture -w - IF | tcpdump -r -`).

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::pcap::PcapWriter;
use crate::error::{errno_text, Exit, Failure};

pub type Pcap = RefCell<PcapWriter<Box<dyn Write>>>;

/// The pcap being written.
pub struct Output {
    /// None: standard output.
    path: Option<PathBuf>,
    pub writer: Pcap,
}

/// Does `-w PATH` mean standard output?
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

impl Output {
    pub fn create(path: &Path, snaplen: u32) -> Result<Output, Failure> {
        let cannot = |e: std::io::Error| {
            let why = e.raw_os_error().map_or(e.to_string(), errno_text);
            Failure::new(
                Exit::Fail,
                format!("cannot create capture file {}: {why}", path.display()),
            )
            .hint("give a path in a directory that exists and that you can write to")
        };
        let (sink, path): (Box<dyn Write>, _) = match is_stdout(path) {
            true => (Box::new(BufWriter::new(std::io::stdout())), None),
            false => (
                Box::new(BufWriter::new(File::create(path).map_err(cannot)?)),
                Some(path.to_path_buf()),
            ),
        };
        let mut writer = PcapWriter::new(sink, snaplen).map_err(cannot)?;
        // The header out now: an empty capture is a valid pcap file too.
        writer.flush().map_err(cannot)?;
        Ok(Output {
            path,
            writer: RefCell::new(writer),
        })
    }

    /// "FILE" or "standard output", for messages.
    pub fn name(&self) -> String {
        match &self.path {
            Some(path) => path.display().to_string(),
            None => "standard output".into(),
        }
    }

    pub fn finish(&self) -> Result<(), Failure> {
        self.writer
            .borrow_mut()
            .flush()
            .map_err(|e| Failure::new(Exit::Fail, format!("writing {} failed: {e}", self.name())))
    }

    /// Removes a file that would hold half a capture (standard output
    /// cannot be taken back).
    pub fn discard(&self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}
