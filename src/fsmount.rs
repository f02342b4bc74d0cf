//! Kernel pseudo-filesystems (bpffs, tracefs): is one mounted here, and
//! mounting it when it is not.

use std::ffi::CString;
use std::path::Path;

/// Is `path` on a filesystem whose `statfs.f_type` is `magic` (linux/magic.h)?
pub fn is_mounted(path: &Path, magic: i64) -> bool {
    let Ok(cpath) = CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs only writes into the zeroed struct we own.
    unsafe {
        let mut fs: libc::statfs = std::mem::zeroed();
        libc::statfs(cpath.as_ptr(), &mut fs) == 0 && fs.f_type as i64 == magic
    }
}

/// `mount -t FSTYPE FSTYPE TARGET -o OPTIONS`; the errno on failure.
pub fn mount(fstype: &str, target: &Path, options: &str) -> Result<(), i32> {
    let _ = std::fs::create_dir_all(target);
    let cstr = |s: &[u8]| CString::new(s).map_err(|_| libc::EINVAL);
    let (fstype, target, options) = (
        cstr(fstype.as_bytes())?,
        cstr(target.as_os_str().as_encoded_bytes())?,
        cstr(options.as_bytes())?,
    );
    // SAFETY: all arguments are valid NUL-terminated strings.
    let ret = unsafe {
        libc::mount(
            fstype.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            options.as_ptr().cast(),
        )
    };
    match ret {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)),
    }
}
