//! A look at an object file's ELF header, to say precisely why libbpf
//! refused it: empty, not ELF, 32-bit, big-endian, built for another CPU, or cut short.
//! Only the 64-byte header is read, whatever the file's size.

use std::io::Read;
use std::path::Path;

/// ELF machine number of BPF objects (`EM_BPF`).
const EM_BPF: u16 = 247;

/// Size of a 64-bit ELF header.
const HEADER_LEN: usize = 64;

/// Why `path` cannot be a BPF object, when its header shows it.
/// None: the header looks fine (the problem is deeper; libbpf's log says).
pub fn problem(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let file_len = file.metadata().ok()?.len();
    let mut bytes = Vec::with_capacity(HEADER_LEN);
    file.take(HEADER_LEN as u64).read_to_end(&mut bytes).ok()?;
    header_problem(&bytes, file_len)
}

/// The checks on the first (up to 64) bytes of a file `file_len` bytes long.
fn header_problem(bytes: &[u8], file_len: u64) -> Option<String> {
    if bytes.is_empty() {
        return Some("the file is empty".into());
    }
    if !bytes.starts_with(b"\x7fELF") {
        return Some("it is not an ELF file".into());
    }
    // libbpf reads only 64-bit objects in the host's byte order (little
    // endian here): clang -target bpf on x86 and arm hosts.
    match bytes.get(4) {
        Some(1) => return Some("it is a 32-bit ELF object; BPF objects are 64-bit".into()),
        Some(2) => {}
        Some(class) => return Some(format!("its ELF class {class} is neither 32- nor 64-bit")),
        None => {}
    }
    if bytes.get(5) == Some(&2) {
        return Some(
            "it is a big-endian object (clang -target bpfeb); this host reads little-endian (-target bpf or bpfel)"
                .into(),
        );
    }
    if bytes.len() < HEADER_LEN {
        return Some(format!(
            "it is truncated: {} bytes, not even an ELF header",
            bytes.len()
        ));
    }
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let machine = u16_at(18);
    if machine != EM_BPF {
        return Some(format!(
            "it is an object for {} (ELF machine {machine}), not BPF",
            machine_name(machine)
        ));
    }
    let section_table_end = u64::from_le_bytes(bytes[40..48].try_into().ok()?)
        .saturating_add(u64::from(u16_at(58)) * u64::from(u16_at(60)));
    if section_table_end > file_len {
        return Some(format!(
            "it is truncated: its section table ends at byte {section_table_end}, the file has {file_len}"
        ));
    }
    None
}

fn machine_name(machine: u16) -> &'static str {
    match machine {
        3 => "i386",
        40 => "32-bit ARM",
        62 => "x86-64",
        183 => "AArch64",
        243 => "RISC-V",
        _ => "another CPU",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8]) -> Option<String> {
        let path = std::env::temp_dir().join(format!("elf-check-{}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let found = problem(&path);
        std::fs::remove_file(&path).unwrap();
        found
    }

    fn header(machine: u16, shoff: u64, shentsize: u16, shnum: u16) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2; // 64-bit
        h[5] = 1; // little endian
        h[18..20].copy_from_slice(&machine.to_le_bytes());
        h[40..48].copy_from_slice(&shoff.to_le_bytes());
        h[58..60].copy_from_slice(&shentsize.to_le_bytes());
        h[60..62].copy_from_slice(&shnum.to_le_bytes());
        h
    }

    #[test]
    fn names_each_kind_of_bad_file() {
        assert_eq!(check(b"").unwrap(), "the file is empty");
        assert_eq!(check(b"SEC(xdp)").unwrap(), "it is not an ELF file");
        assert!(check(b"\x7fELF\x02\x01").unwrap().contains("truncated"));
        assert!(check(&header(62, 64, 64, 0)).unwrap().contains("x86-64"));
        assert!(check(&header(EM_BPF, 64, 64, 3))
            .unwrap()
            .contains("section table ends at byte 256"));
        assert_eq!(check(&header(EM_BPF, 64, 0, 0)), None);
        let mut class32 = header(EM_BPF, 64, 0, 0);
        class32[4] = 1;
        assert!(check(&class32).unwrap().contains("32-bit"));
        let mut big_endian = header(EM_BPF, 64, 0, 0);
        big_endian[5] = 2;
        assert!(check(&big_endian).unwrap().contains("big-endian"));
        assert!(check(&header(EM_BPF, u64::MAX, 64, 3))
            .unwrap()
            .contains("truncated"));
    }
}
