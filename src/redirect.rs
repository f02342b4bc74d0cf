//! `xdp-loader redirect`: the packet03 lesson's `xdp_prog_user`. It points
//! the redirect programs of the built-in `xdp_redirect` (loaded on IFNAME,
//! maps pinned in IFNAME's pin directory) at another interface by filling
//! their pinned maps:
//!
//! - `tx_port` (DEVMAP, u32 -> u32 ifindex): `tx_port[0]` = the target's ifindex,
//!   for `xdp_redirect_map_func` (`bpf_redirect_map(&tx_port, 0, 0)`);
//! - `redirect_params` (HASH, source MAC -> new destination MAC): the frames
//!   `xdp_redirect_map_func` forwards, and how it rewrites them;
//! - `redirect_target` (ARRAY, one `{ u32 ifindex; u8 dest_mac[6]; u8 pad[2]; }`),
//!   for `xdp_redirect_func` (`bpf_redirect(ifindex, 0)`).
//!
//! Whichever of them are pinned get filled, so a student's own packet03
//! object (which has only `tx_port` and `redirect_params`) works too.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType};

use crate::cli::RedirectArgs;
use crate::commands::require_root;
use crate::error::{errno_of, errno_text, Exit, Failure};
use crate::iface::{self, Interface};
use crate::maps;

/// The built-in object with the packet03 programs.
pub const OBJECT: &str = "xdp_redirect";
/// Its program that redirects through `tx_port` and `redirect_params`.
pub const MAP_PROGRAM: &str = "xdp_redirect_map_func";

/// An Ethernet (MAC) address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

impl FromStr for Mac {
    /// Why the text is not a MAC address (without the text itself).
    type Err = String;

    /// Exactly six two-digit hex groups separated by `:`, e.g. `aa:bb:cc:00:11:22`.
    fn from_str(text: &str) -> Result<Mac, String> {
        let groups: Vec<&str> = text.split(':').collect();
        if groups.len() != 6 {
            if text.contains('-') {
                return Err("separate the groups with ':', not '-'".into());
            }
            let n = groups.len();
            let plural = if n == 1 { "" } else { "s" };
            return Err(format!("it has {n} group{plural}, a MAC address has 6"));
        }
        let mut mac = [0u8; 6];
        for (byte, group) in mac.iter_mut().zip(&groups) {
            if group.len() != 2 || !group.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("group '{group}' is not two hex digits"));
            }
            *byte = u8::from_str_radix(group, 16).map_err(|e| e.to_string())?;
        }
        Ok(Mac(mac))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// Parses the value of a MAC option, naming the option and the value on error.
pub fn parse_mac(option: &str, text: &str) -> Result<Mac, Failure> {
    text.parse().map_err(|why| {
        Failure::new(
            Exit::Usage,
            format!("{option} '{text}' is not a MAC address: {why}"),
        )
        .hint(
            "write six two-digit hex groups separated by ':', like aa:bb:cc:00:11:22 \
             (`ip link show DEV` shows an interface's MAC)",
        )
    })
}

/// What to write into the maps pinned for `from`.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The interface the program runs on (where the frames arrive).
    pub from: &'a Interface,
    /// The interface the frames are sent out of.
    pub to: &'a Interface,
    /// Where `from`'s maps are pinned.
    pub dir: &'a Path,
    /// Frames with this source MAC are forwarded (a `redirect_params` key).
    pub src_mac: Option<Mac>,
    /// ... with this new destination MAC (also `redirect_target`'s dest_mac).
    pub dest_mac: Option<Mac>,
}

/// The layout a map must have before we write into it.
struct Layout {
    name: &'static str,
    map_type: MapType,
    key_size: u32,
    value_size: u32,
}

const TX_PORT: Layout = Layout {
    name: "tx_port",
    map_type: MapType::Devmap,
    key_size: 4,
    value_size: 4,
};
const REDIRECT_PARAMS: Layout = Layout {
    name: "redirect_params",
    map_type: MapType::Hash,
    key_size: 6,
    value_size: 6,
};
const REDIRECT_TARGET: Layout = Layout {
    name: "redirect_target",
    map_type: MapType::Array,
    key_size: 4,
    value_size: 12,
};

fn describe(map_type: MapType, key: u32, value: u32) -> String {
    format!("{map_type:?}, key {key} B, value {value} B")
}

/// The command that loads the redirect program on IFNAME (`-p DIR` when pinned elsewhere).
fn load_hint(ifname: &str, pin_path: Option<&Path>) -> String {
    let pin = pin_path.map_or(String::new(), |p| format!(" -p {}", p.display()));
    format!("xdp-loader load {ifname} {OBJECT} -n {MAP_PROGRAM}{pin}")
}

impl Layout {
    /// The map pinned as `dir/<name>`: None when there is no such pin, an
    /// error when the pin is not a map or not a map of this layout.
    fn open(&self, req: &Request) -> Result<Option<MapHandle>, Failure> {
        let path = req.dir.join(self.name);
        if !path.exists() {
            return Ok(None);
        }
        let map = MapHandle::from_pinned_path(&path).map_err(|e| {
            Failure::new(
                Exit::Bpf,
                format!(
                    "{} is not a usable map pin: {}",
                    path.display(),
                    errno_text(errno_of(&e))
                ),
            )
        })?;
        let found = (map.map_type(), map.key_size(), map.value_size());
        if found == (self.map_type, self.key_size, self.value_size) && map.max_entries() > 0 {
            return Ok(Some(map));
        }
        Err(Failure::new(
            Exit::Bpf,
            format!(
                "the map pinned at {} is not packet03's {} map",
                path.display(),
                self.name
            ),
        )
        .details([
            format!("pinned: {}", describe(found.0, found.1, found.2)),
            format!(
                "wanted: {}",
                describe(self.map_type, self.key_size, self.value_size)
            ),
        ])
        .hint(format!(
            "it belongs to another program: remove it (rm {}) and load the redirect program: {} --force",
            path.display(),
            load_hint(&req.from.name, pin_hint_dir(req))
        )))
    }

    fn write(&self, map: &MapHandle, key: &[u8], value: &[u8]) -> Result<(), Failure> {
        map.update(key, value, MapFlags::ANY).map_err(|e| {
            let errno = errno_of(&e);
            let failure = Failure::new(
                Exit::Bpf,
                format!("cannot update map {}: {}", self.name, errno_text(errno)),
            );
            match errno {
                libc::E2BIG => failure.hint(format!(
                    "{} is full ({} entries)",
                    self.name,
                    map.max_entries()
                )),
                _ => failure,
            }
        })
    }
}

/// `dir` for the hints, when it is not the default pin directory.
fn pin_hint_dir<'a>(req: &Request<'a>) -> Option<&'a Path> {
    let default = crate::pin::default_dir(&req.from.name);
    (req.dir != default).then_some(req.dir)
}

/// Fills whichever redirect maps are pinned in `req.dir`. Every map is
/// opened and checked before the first write. Returns what was done, in
/// the C tutorial's words, one line each.
pub fn apply(req: &Request) -> Result<Vec<String>, Failure> {
    let tx_port = TX_PORT.open(req)?;
    let params = REDIRECT_PARAMS.open(req)?;
    let target = REDIRECT_TARGET.open(req)?;
    if tx_port.is_none() && params.is_none() && target.is_none() {
        let what = if req.dir.is_dir() {
            format!(
                "no redirect maps (tx_port, redirect_params, redirect_target) are pinned in {}",
                req.dir.display()
            )
        } else {
            format!("nothing is pinned in {}", req.dir.display())
        };
        return Err(Failure::new(Exit::Bpf, what).hint(format!(
            "load the redirect program on {} first: {}",
            req.from.name,
            load_hint(&req.from.name, pin_hint_dir(req))
        )));
    }
    let forward = match (req.src_mac, req.dest_mac) {
        (Some(src), Some(dest)) => Some((src, dest)),
        (Some(_), None) => return Err(src_without_dest()),
        (None, Some(_)) if target.is_none() => {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "--dest-mac without --src-mac: {} has no redirect_target map to put it in",
                    req.dir.display()
                ),
            )
            .hint(
                "give both: --src-mac MAC (whose frames) --dest-mac MAC (their new destination)",
            ));
        }
        (None, _) => None,
    };
    if forward.is_some() && params.is_none() {
        return Err(Failure::new(
            Exit::Bpf,
            format!(
                "--src-mac/--dest-mac need the redirect_params map, which is not pinned in {}",
                req.dir.display()
            ),
        )
        .hint(format!(
            "load the program that uses it: {} --force",
            load_hint(&req.from.name, pin_hint_dir(req))
        )));
    }

    let mut lines = vec![
        format!("map dir: {}", req.dir.display()),
        format!(
            "redirect from ifnum={} to ifnum={}",
            req.from.index, req.to.index
        ),
    ];
    let ifindex = req.to.index.to_ne_bytes();
    if let Some(map) = &tx_port {
        TX_PORT.write(map, &0u32.to_ne_bytes(), &ifindex)?;
        lines.push(format!(
            " - tx_port[0] = {} ({})",
            req.to.index, req.to.name
        ));
    }
    if let Some(map) = &target {
        let dest = req.dest_mac.unwrap_or(Mac([0; 6]));
        let mut value = [0u8; 12];
        value[..4].copy_from_slice(&ifindex);
        value[4..10].copy_from_slice(&dest.0);
        REDIRECT_TARGET.write(map, &0u32.to_ne_bytes(), &value)?;
        let rewrite = match req.dest_mac {
            Some(mac) => format!("destination MAC rewritten to {mac}"),
            None => "destination MAC kept".into(),
        };
        lines.push(format!(
            " - redirect_target[0] = ifindex {} ({}), {rewrite}",
            req.to.index, req.to.name
        ));
    }
    match (&params, forward) {
        (Some(map), Some((src, dest))) => {
            REDIRECT_PARAMS.write(map, &src.0, &dest.0)?;
            lines.push(format!("forward: {src} -> {dest}"));
        }
        (Some(_), None) => lines.push(
            "Note: redirect_params is unchanged: xdp_redirect_map_func passes frames whose \
             source MAC it does not list (add one with --src-mac MAC --dest-mac MAC)"
                .into(),
        ),
        (None, _) => {}
    }
    Ok(lines)
}

fn src_without_dest() -> Failure {
    Failure::new(Exit::Usage, "--src-mac needs --dest-mac")
        .hint("redirect_params maps a source MAC to a new destination MAC: give both")
}

/// `xdp-loader redirect IFNAME --to IFNAME2 [--src-mac MAC --dest-mac MAC]`.
pub fn run(args: &RedirectArgs) -> anyhow::Result<()> {
    // Usage errors first, before anything touches the system.
    let src_mac = args
        .src_mac
        .as_deref()
        .map(|text| parse_mac("--src-mac", text))
        .transpose()?;
    let dest_mac = args
        .dest_mac
        .as_deref()
        .map(|text| parse_mac("--dest-mac", text))
        .transpose()?;
    if src_mac.is_some() && dest_mac.is_none() {
        return Err(src_without_dest().into());
    }
    require_root("xdp-loader redirect")?;
    let from = iface::resolve(args.ifname())?;
    let to = iface::resolve(&args.to)?;
    let dir = maps::pin_dir(&from.name, args.pin_path.as_deref())?;
    let lines = apply(&Request {
        from: &from,
        to: &to,
        dir: &dir,
        src_mac,
        dest_mac,
    })?;
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_macs_parse_and_print_back() {
        let mac: Mac = "aa:bb:cc:00:11:22".parse().unwrap();
        assert_eq!(mac, Mac([0xaa, 0xbb, 0xcc, 0x00, 0x11, 0x22]));
        assert_eq!(mac.to_string(), "aa:bb:cc:00:11:22");
        // Upper case is fine; it prints in lower case, like `ip link`.
        let upper: Mac = "AA:BB:CC:0D:EE:FF".parse().unwrap();
        assert_eq!(upper.to_string(), "aa:bb:cc:0d:ee:ff");
        assert_eq!("00:00:00:00:00:00".parse::<Mac>().unwrap(), Mac([0; 6]));
    }

    #[track_caller]
    fn refused(text: &str, why: &str) {
        let err = text.parse::<Mac>().unwrap_err();
        assert!(err.contains(why), "{text:?}: {err}");
    }

    #[test]
    fn dashes_are_refused() {
        refused("aa-bb-cc-00-11-22", "not '-'");
    }

    #[test]
    fn missing_and_extra_groups_are_refused() {
        refused("aa:bb:cc:00:11", "5 groups");
        refused("aa:bb:cc:00:11:22:33", "7 groups");
        refused("aabbcc001122", "1 group,");
        refused("", "1 group,");
        refused("aa:bb:cc:00:11:", "group '' is not");
        refused("aa::cc:00:11:22", "group '' is not");
    }

    #[test]
    fn groups_must_have_two_digits() {
        refused("a:bb:cc:00:11:22", "group 'a' is not two hex digits");
        refused("aa:bb:cc:00:11:222", "group '222'");
        refused("aa:bb:cc:0:11:22", "group '0'");
    }

    #[test]
    fn groups_must_be_hex() {
        refused("aa:bb:cc:00:11:zz", "group 'zz'");
        refused("aa:bb:cc:00:11:+a", "group '+a'");
        refused("aa:bb:cc:00:11: a", "group ' a'");
        refused("aa:bb:cc:00:11:ä", "group 'ä'");
    }

    #[test]
    fn the_option_error_names_option_and_value() {
        let err = parse_mac("--src-mac", "aa-bb").unwrap_err();
        assert_eq!(err.exit, Exit::Usage);
        assert!(err
            .message
            .starts_with("--src-mac 'aa-bb' is not a MAC address"));
        assert!(!err.message.contains('\n'));
        assert!(err.hint.unwrap().contains("aa:bb:cc:00:11:22"));
    }
}
