//! `setup` and `teardown`.

use std::fs;
use std::io;
use std::path::Path;

use super::*;
use crate::cli::EnvName;
use crate::error::{Exit, Failure};
use crate::pin;

// ---------------------------------------------------------------------------
// setup

pub(crate) fn setup(
    state: &State,
    env: &EnvName,
    legacy_ip: bool,
    vlan: bool,
) -> anyhow::Result<()> {
    let name = env.name.clone().unwrap_or_else(random_name);
    validate_name(&name, vlan).map_err(|msg| Failure::new(Exit::Usage, msg))?;
    require_root("setup")?;
    refuse_existing(state, &name)?;

    state.create_dir()?;
    let numbering = state.lock()?;
    let num = state.next_num()?;
    let env = Env {
        name,
        num,
        legacy_ip,
        vlan,
    };
    env.check_num().map_err(|msg| {
        Failure::new(Exit::Fail, msg).hint(format!(
            "restart the numbering with rm {}",
            state.dir.join("highest").display()
        ))
    })?;
    state.set_highest(num)?;
    // Saved first: if setup is interrupted, teardown still finds it.
    state.save(&env)?;
    drop(numbering);
    if let Err(mut failure) = create(&env) {
        undo(state, &env);
        failure.message = format!("cannot set up '{}': {}", env.name, failure.message);
        if failure.hint.is_none() {
            failure = failure.hint("nothing was left behind: what setup had created is removed");
        }
        return Err(failure.into());
    }
    state.set_current(&env.name)?;

    check_ping(&env);
    print_setup(&env);
    Ok(())
}

pub(crate) fn refuse_existing(state: &State, name: &str) -> Result<(), Failure> {
    let teardown = format!("remove it first: xdp-loader testenv teardown --name {name}");
    let (what, hint) = if state.has(name) {
        ("a test environment", teardown)
    } else if netns_exists(name) {
        ("a network namespace", teardown)
    } else if link_exists(name) {
        // Not an environment, so teardown would refuse to delete it.
        ("an interface", "choose another name with --name".to_owned())
    } else {
        return Ok(());
    };
    Err(Failure::new(Exit::Fail, format!("{what} named '{name}' already exists")).hint(hint))
}

/// Builds the environment; stops at the first failing step.
pub(crate) fn create(env: &Env) -> Result<(), Failure> {
    let ns = env.name.as_str();
    ip(&["netns", "add", ns])?;
    ip(&[
        "link", "add", "dev", ns, "type", "veth", "peer", "name", INSIDE_IF, "netns", ns,
    ])?;
    let mut pairs = vec![(ns.to_owned(), INSIDE_IF.to_owned())];
    if env.vlan {
        for vid in VLAN_IDS {
            let (outside, inside) = env.vlan_ifs(vid);
            let id = vid.to_string();
            ip(&[
                "link", "add", "link", ns, "name", &outside, "type", "vlan", "id", &id,
            ])
            .map_err(|failure| {
                failure.hint(
                    "the kernel needs 802.1Q VLAN support (CONFIG_VLAN_8021Q): modprobe 8021q",
                )
            })?;
            ip_in(
                ns,
                &[
                    "link", "add", "link", INSIDE_IF, "name", &inside, "type", "vlan", "id", &id,
                ],
            )?;
            pairs.push((outside, inside));
        }
    }
    for (outside, inside) in &pairs {
        quiet_ipv6(ns, outside, inside)?;
    }
    ip_in(ns, &["link", "set", "lo", "up"])?;
    for (outside, inside) in &pairs {
        ip(&["link", "set", outside, "up"])?;
        ip_in(ns, &["link", "set", inside, "up"])?;
    }
    // A VLAN interface has its parent's MAC, so one pair of MACs serves all.
    let outside_mac = read_mac(ip(&["-j", "link", "show", "dev", ns])?, ns)?;
    let inside_mac = read_mac(
        ip_in(ns, &["-j", "link", "show", "dev", INSIDE_IF])?,
        INSIDE_IF,
    )?;
    for subnet in env.subnets() {
        configure_subnet(ns, &subnet, &outside_mac, &inside_mac)?;
    }
    add_routes(env)?;
    vlan_offload_off(ns);
    Ok(())
}

/// No duplicate address detection, router advertisements or solicitations:
/// the addresses work at once, and only the packets we send cross the link.
pub(crate) fn quiet_ipv6(ns: &str, outside_if: &str, inside_if: &str) -> Result<(), Failure> {
    for key in ["accept_dad", "accept_ra", "router_solicitations"] {
        let path = format!("/proc/sys/net/ipv6/conf/{outside_if}/{key}");
        fs::write(&path, "0").map_err(|e| io_failure("cannot write", Path::new(&path), e))?;
        // The '/' form keeps the '.' of VLAN interface names (veth0.1) intact.
        let setting = format!("net/ipv6/conf/{inside_if}/{key}=0");
        in_netns(ns, "sysctl", &["-qw", &setting])?;
    }
    Ok(())
}

pub(crate) fn read_mac(json: String, ifname: &str) -> Result<String, Failure> {
    mac_from_json(&json).ok_or_else(|| {
        Failure::new(
            Exit::Fail,
            format!("cannot read the MAC address of {ifname} from `ip -j link show`"),
        )
    })
}

/// Addresses on both ends, and permanent neighbour entries both ways, so no
/// neighbour discovery or ARP traffic shows up in a student's counters.
pub(crate) fn configure_subnet(
    ns: &str,
    subnet: &Subnet,
    outside_mac: &str,
    inside_mac: &str,
) -> Result<(), Failure> {
    let outside_cidr = format!("{}/{}", subnet.outside_ip, subnet.prefix_len);
    let inside_cidr = format!("{}/{}", subnet.inside_ip, subnet.prefix_len);
    let ipv6 = subnet.is_ipv6();
    ip(&addr_add(&outside_cidr, &subnet.outside_if, ipv6))?;
    ip_in(ns, &addr_add(&inside_cidr, &subnet.inside_if, ipv6))?;
    ip(&neigh_add(
        &subnet.inside_ip,
        inside_mac,
        &subnet.outside_if,
    ))?;
    ip_in(
        ns,
        &neigh_add(&subnet.outside_ip, outside_mac, &subnet.inside_if),
    )?;
    Ok(())
}

/// `ip addr add CIDR dev DEV`, plus `nodad` (an IPv6-only flag) for IPv6.
pub(crate) fn addr_add<'a>(cidr: &'a str, dev: &'a str, ipv6: bool) -> Vec<&'a str> {
    let mut args = vec!["addr", "add", cidr, "dev", dev];
    if ipv6 {
        args.push("nodad");
    }
    args
}

/// `ip neigh add IP lladdr MAC nud permanent dev DEV`: an entry that never expires.
pub(crate) fn neigh_add<'a>(ip: &'a str, mac: &'a str, dev: &'a str) -> [&'a str; 9] {
    [
        "neigh",
        "add",
        ip,
        "lladdr",
        mac,
        "nud",
        "permanent",
        "dev",
        dev,
    ]
}

/// Inside, every environment's subnet is reached through the outside end.
pub(crate) fn add_routes(env: &Env) -> Result<(), Failure> {
    let ns = env.name.as_str();
    let all6 = format!("{IP6_BASE}::/48");
    ip_in(
        ns,
        &["-6", "route", "add", &all6, "via", &env.outside_ip6()],
    )?;
    if env.legacy_ip {
        let all4 = format!("{IP4_BASE}.0.0/16");
        ip_in(
            ns,
            &["-4", "route", "add", &all4, "via", &env.outside_ip4()],
        )?;
    }
    Ok(())
}

/// With VLAN offload the tag is not in the packet data, so an XDP program
/// parsing VLAN headers would never see it. Best effort: ethtool may be missing.
pub(crate) fn vlan_offload_off(ns: &str) {
    let _ = run_cmd("ethtool", &["-K", ns, "rxvlan", "off", "txvlan", "off"]);
    let off_inside = ["-K", INSIDE_IF, "rxvlan", "off", "txvlan", "off"];
    let _ = in_netns(ns, "ethtool", &off_inside);
}

/// Removes whatever a failed setup created (errors ignored: parts may not exist).
pub(crate) fn undo(state: &State, env: &Env) {
    let _ = ip(&["link", "del", "dev", &env.name]);
    let _ = ip(&["netns", "del", &env.name]);
    let _ = state.remove(&env.name);
}

/// One ping from inside; a failure is only a warning (the environment exists).
pub(crate) fn check_ping(env: &Env) {
    let target = env.outside_ip6();
    if let Err(failure) = in_netns(&env.name, "ping", &["-6", "-c1", "-W2", &target]) {
        eprintln!("Warning: {}", failure.message);
        for line in &failure.details {
            eprintln!("  {line}");
        }
    }
}

pub(crate) fn print_setup(env: &Env) {
    println!(
        "Setup environment '{}' with peer ip {}.",
        env.name,
        env.inside_ip6()
    );
    if env.legacy_ip {
        println!(
            "  IPv4 peer ip {} (outside end {}).",
            env.inside_ip4(),
            env.outside_ip4()
        );
    }
    for vlan in env.subnets().iter().filter(|s| s.outside_if != env.name) {
        println!(
            "  VLAN {} <-> {} with peer ip {}.",
            vlan.outside_if, vlan.inside_if, vlan.inside_ip
        );
    }
    println!("Load a program: xdp-loader load {} xdp_pass", env.name);
}

// ---------------------------------------------------------------------------
// teardown

pub(crate) fn teardown(state: &State, env: &EnvName) -> anyhow::Result<()> {
    let name = selected_name(state, env)?;
    // An interface of that name alone is not an environment: never delete eth0.
    if !state.has(&name) && !netns_exists(&name) {
        return Err(no_such_env(state, &name).into());
    }
    require_root("teardown")?;

    remove_pins(&name)?;
    if is_veth(&name) {
        // Deleting one end of a veth pair deletes both.
        ip(&["link", "del", "dev", &name])?;
    }
    if netns_exists(&name) {
        ip(&["netns", "del", &name])?;
    }
    state.remove(&name)?;
    state.forget_current_if(&name)?;
    println!("Removed environment '{name}'.");
    Ok(())
}

pub(crate) fn is_veth(ifname: &str) -> bool {
    link_exists(ifname)
        && ip(&["-j", "-d", "link", "show", "dev", ifname])
            .ok()
            .and_then(|json| kind_from_json(&json))
            .as_deref()
            == Some("veth")
}

/// Pins of programs loaded on the environment: by the lessons, and by xdp-loader.
pub(crate) fn remove_pins(name: &str) -> Result<(), Failure> {
    for dir in [pin::default_dir(name), pin::loader_dir(name)] {
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io_failure("cannot remove the pins in", &dir, e));
            }
            _ => {}
        }
    }
    Ok(())
}
