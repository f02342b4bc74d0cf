//! An environment's names, numbers and addresses (pure: no system calls).

use super::*;

// Environments and their addresses (pure: no system calls).

/// What `setup` created, as remembered in `NAME.env`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Env {
    pub(crate) name: String,
    /// Makes this environment's subnets unique.
    pub(crate) num: u32,
    pub(crate) legacy_ip: bool,
    pub(crate) vlan: bool,
}

/// One subnet across the pair: the outside and inside interface and addresses.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Subnet {
    pub(crate) outside_if: String,
    pub(crate) inside_if: String,
    pub(crate) outside_ip: String,
    pub(crate) inside_ip: String,
    pub(crate) prefix_len: u8,
}

impl Subnet {
    pub(crate) fn is_ipv6(&self) -> bool {
        self.outside_ip.contains(':')
    }
}

/// The /64 of environment `num` on VLAN `vid` (0: no VLAN), e.g. `fc00:dead:cafe:1`.
/// The VLAN id goes in the top hex digit of the 4th group, like testenv.sh.
pub(crate) fn ip6_prefix(num: u32, vid: u32) -> String {
    format!("{IP6_BASE}:{:x}", num + vid * 4096)
}

pub(crate) fn ip4_prefix(num: u32) -> String {
    format!("{IP4_BASE}.{num}")
}

impl Env {
    pub(crate) fn outside_ip6(&self) -> String {
        format!("{}::1", ip6_prefix(self.num, 0))
    }

    pub(crate) fn inside_ip6(&self) -> String {
        format!("{}::2", ip6_prefix(self.num, 0))
    }

    pub(crate) fn outside_ip4(&self) -> String {
        format!("{}.1", ip4_prefix(self.num))
    }

    pub(crate) fn inside_ip4(&self) -> String {
        format!("{}.2", ip4_prefix(self.num))
    }

    /// (outside, inside) names of the VLAN interfaces, e.g. `NAME.1`, `veth0.1`.
    pub(crate) fn vlan_ifs(&self, vid: u32) -> (String, String) {
        (format!("{}.{vid}", self.name), format!("{INSIDE_IF}.{vid}"))
    }

    /// Every subnet to configure: IPv6, then IPv4 and the VLANs if asked for.
    pub(crate) fn subnets(&self) -> Vec<Subnet> {
        let mut subnets = vec![Subnet {
            outside_if: self.name.clone(),
            inside_if: INSIDE_IF.into(),
            outside_ip: self.outside_ip6(),
            inside_ip: self.inside_ip6(),
            prefix_len: 64,
        }];
        if self.legacy_ip {
            subnets.push(Subnet {
                outside_if: self.name.clone(),
                inside_if: INSIDE_IF.into(),
                outside_ip: self.outside_ip4(),
                inside_ip: self.inside_ip4(),
                prefix_len: 24,
            });
        }
        if self.vlan {
            for vid in VLAN_IDS {
                let (outside_if, inside_if) = self.vlan_ifs(vid);
                let prefix = ip6_prefix(self.num, vid);
                subnets.push(Subnet {
                    outside_if,
                    inside_if,
                    outside_ip: format!("{prefix}::1"),
                    inside_ip: format!("{prefix}::2"),
                    prefix_len: 64,
                });
            }
        }
        subnets
    }

    /// Refuses numbers that do not fit in the addresses.
    pub(crate) fn check_num(&self) -> Result<(), String> {
        let top_vid = if self.vlan { VLAN_IDS[1] } else { 0 };
        if self.num == 0 || self.num + top_vid * 4096 > 0xffff {
            return Err(format!(
                "environment number {} does not fit in an IPv6 prefix ({}:<N>::/64)",
                self.num, IP6_BASE
            ));
        }
        if self.legacy_ip && self.num > 255 {
            return Err(format!(
                "environment number {} is too large for IPv4 ({IP4_BASE}.<N>.0/24 needs N <= 255)",
                self.num
            ));
        }
        Ok(())
    }

    /// The `NAME.env` file: `key=value` lines.
    pub(crate) fn format(&self) -> String {
        format!(
            "num={}\nlegacy_ip={}\nvlan={}\n",
            self.num, self.legacy_ip as u8, self.vlan as u8
        )
    }

    pub(crate) fn parse(name: &str, text: &str) -> Result<Env, String> {
        let mut env = Env {
            name: name.into(),
            num: 0,
            legacy_ip: false,
            vlan: false,
        };
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("not key=value: '{line}'"))?;
            let bad = || format!("bad value for {key}: '{value}'");
            match key {
                "num" => env.num = value.parse().map_err(|_| bad())?,
                "legacy_ip" => env.legacy_ip = parse_flag(value).ok_or_else(bad)?,
                "vlan" => env.vlan = parse_flag(value).ok_or_else(bad)?,
                _ => {} // a newer version's key: ignore it
            }
        }
        if env.num == 0 {
            return Err("no num=N line".into());
        }
        Ok(env)
    }
}

pub(crate) fn parse_flag(value: &str) -> Option<bool> {
    match value {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

/// An environment name becomes an interface name, a namespace name and a
/// file name, so it must be valid (and harmless) as all three.
pub(crate) fn validate_name(name: &str, vlan: bool) -> Result<(), String> {
    // `--vlan` appends `.1`/`.2` for the VLAN interfaces.
    let max = if vlan { MAX_IFNAME - 2 } else { MAX_IFNAME };
    if name.is_empty() {
        return Err("the environment name is empty".into());
    }
    if name.len() > max {
        let why = if vlan { " with --vlan" } else { "" };
        return Err(format!(
            "environment name '{name}' is too long: at most {max} characters{why} \
             (it is also an interface name)"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.-".contains(*c)))
    {
        return Err(format!(
            "environment name '{name}' contains '{bad}': use only letters, digits, '_', '.' and '-'"
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "environment name '{name}' must start with a letter, digit or '_'"
        ));
    }
    Ok(())
}

/// `xdptut-XXXX`, XXXX from the clock and pid (random enough for a name).
pub(crate) fn random_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mix = nanos ^ std::process::id().wrapping_mul(2_654_435_761);
    format!("xdptut-{:04x}", (mix ^ (mix >> 16)) & 0xffff)
}

/// The MAC address in the output of `ip -j link show dev X`.
pub(crate) fn mac_from_json(text: &str) -> Option<String> {
    let links: serde_json::Value = serde_json::from_str(text).ok()?;
    links.get(0)?.get("address")?.as_str().map(str::to_owned)
}

/// The link kind (`veth`, `vlan`...) in the output of `ip -j -d link show dev X`.
pub(crate) fn kind_from_json(text: &str) -> Option<String> {
    let links: serde_json::Value = serde_json::from_str(text).ok()?;
    let kind = links.get(0)?.get("linkinfo")?.get("info_kind")?;
    kind.as_str().map(str::to_owned)
}
