//! A component's run priority and chain-call actions: from the object's
//! `.xdp_run_config` section (written by libxdp's `XDP_RUN_CONFIG` macro),
//! else libxdp's defaults, then the command line's `--prio`/`--actions`.
//!
//! `XDP_RUN_CONFIG(f)` declares a variable `_f` in `.xdp_run_config` whose
//! type is a struct of `__uint(name, value)` members: pointers to arrays
//! of `value` elements. So the values live in BTF array sizes, not in data.

use std::ffi::OsStr;

use libbpf_rs::btf::types::{Array, Composite, DataSec, Ptr, Var};
use libbpf_rs::btf::{Btf, ReferencesType};

/// libxdp's defaults: priority 50, continue only on XDP_PASS.
pub const DEFAULT_PRIORITY: u32 = 50;
pub const DEFAULT_ACTIONS: u32 = 1 << XDP_PASS;

pub const XDP_PASS: u32 = 2;
/// The verdicts by value (`enum xdp_action`).
pub const ACTION_NAMES: [&str; 5] = [
    "XDP_ABORTED",
    "XDP_DROP",
    "XDP_PASS",
    "XDP_TX",
    "XDP_REDIRECT",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunConfig {
    pub priority: u32,
    /// Bitmap of verdicts after which the next program runs.
    pub actions: u32,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            priority: DEFAULT_PRIORITY,
            actions: DEFAULT_ACTIONS,
        }
    }
}

/// Reads `_<prog_name>` from the `.xdp_run_config` section of `btf`.
/// Members it does not know are ignored, as libxdp does; a member it
/// knows but cannot read leaves the default.
pub fn from_btf(btf: &Btf, prog_name: &str) -> RunConfig {
    let mut config = RunConfig::default();
    let Some(section) = btf.type_by_name::<DataSec>(".xdp_run_config") else {
        return config;
    };
    let wanted = format!("_{prog_name}");
    let var = section
        .iter()
        .filter_map(|info| btf.type_by_id::<Var>(info.ty))
        .find(|var| var.name() == Some(OsStr::new(&wanted)));
    let Some(var) = var else { return config };
    let Ok(fields) = Composite::try_from(var.referenced_type().skip_mods_and_typedefs()) else {
        return config;
    };
    let mut actions = 0;
    for field in fields.iter() {
        let Some(name) = field.name.and_then(OsStr::to_str) else {
            continue;
        };
        let Some(value) = uint_value(btf, field.ty) else {
            continue;
        };
        if name == "priority" {
            config.priority = value;
        } else if let Some(action) = ACTION_NAMES.iter().position(|a| *a == name) {
            if value != 0 {
                actions |= 1 << action;
            }
        }
    }
    if actions != 0 {
        config.actions = actions;
    }
    config
}

/// The value of an `__uint(name, value)` member: `int (*)[value]`.
fn uint_value(btf: &Btf, ty: libbpf_rs::btf::TypeId) -> Option<u32> {
    let ptr = btf.type_by_id::<Ptr>(ty)?;
    let array = Array::try_from(ptr.referenced_type()).ok()?;
    Some(array.capacity() as u32)
}

/// Parses `--actions`: names with or without `XDP_`, any case, comma
/// separated (`pass,drop`, `XDP_PASS`).
pub fn parse_actions(text: &str) -> Result<u32, String> {
    let mut bits = 0;
    for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let upper = word.to_ascii_uppercase();
        let full = if upper.starts_with("XDP_") {
            upper
        } else {
            format!("XDP_{upper}")
        };
        let Some(action) = ACTION_NAMES.iter().position(|a| *a == full) else {
            return Err(format!(
                "unknown XDP action '{word}': expected some of aborted, drop, pass, tx, redirect"
            ));
        };
        bits |= 1 << action;
    }
    if bits == 0 {
        return Err("--actions needs at least one action (e.g. pass)".into());
    }
    Ok(bits)
}

/// `XDP_PASS,XDP_DROP` for a bitmap (the dispatcher's own bit 31 left out).
pub fn describe_actions(bits: u32) -> String {
    let names: Vec<&str> = ACTION_NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_both_spellings_and_reject_others() {
        assert_eq!(parse_actions("pass").unwrap(), 1 << 2);
        assert_eq!(
            parse_actions("XDP_DROP, pass").unwrap(),
            (1 << 1) | (1 << 2)
        );
        assert!(parse_actions("passs").unwrap_err().contains("passs"));
        assert!(parse_actions("").is_err());
        assert!(parse_actions(",").is_err());
    }

    #[test]
    fn actions_describe_by_name() {
        assert_eq!(describe_actions((1 << 2) | (1 << 31)), "XDP_PASS");
        assert_eq!(describe_actions(0b11), "XDP_ABORTED,XDP_DROP");
        assert_eq!(describe_actions(0), "none");
    }
}
