//! `testenv ping --vlan`: echo requests tagged with VLAN 1, sent from a raw
//! packet socket on veth0, so the VLAN part of packet01 can be tried on a
//! kernel without the 802.1Q module (no VLAN devices needed). The kernel
//! out here would not answer tagged frames without a VLAN device, so the
//! result is what a packet socket on the outside end saw arrive after its
//! XDP program: each request passed, or was dropped.

use std::time::Duration;

use super::*;
use std::io;

use super::redirect_pair::mac_of;
use crate::check::frames::{
    self, echo_request, ethernet, ip as ip_packet, tag, tag_of, Ips, ETH_P_8021Q, ETH_P_IP,
    ETH_P_IPV6,
};
use crate::check::wire::Socket;
use crate::iface;
use crate::redirect::Mac;

/// The VLAN id of the tag, as `setup --vlan`'s first VLAN.
const VID: u16 = 1;

pub(crate) fn ping(
    state: &State,
    env: &EnvName,
    legacy_ip: bool,
    count: u64,
) -> anyhow::Result<()> {
    let env = live_env(state, env, "ping")?;
    if legacy_ip && !env.legacy_ip {
        return Err(
            Failure::new(Exit::Usage, format!("'{}' has no IPv4 addresses", env.name))
                .hint(format!(
                    "set it up with --legacy-ip: xdp-loader testenv reset --name {} --legacy-ip",
                    env.name
                ))
                .into(),
        );
    }
    let ips = match legacy_ip {
        true => Ips::v4(&env.inside_ip4(), &env.outside_ip4()),
        false => Ips::v6(&env.inside_ip6(), &env.outside_ip6()),
    };
    let outside_mac: Mac = mac_of(ip(&["-j", "link", "show", "dev", &env.name])?, &env.name)?;
    let inside_mac: Mac = mac_of(
        ip_in(&env.name, &["-j", "link", "show", "dev", INSIDE_IF])?,
        INSIDE_IF,
    )?;
    let socket_failure = |e: io::Error| Failure::new(Exit::Fail, format!("packet socket: {e}"));
    let watch = Socket::bind(iface::resolve(&env.name)?.index).map_err(socket_failure)?;
    let send = on_thread_in_netns(&env.name, || {
        Socket::bind(iface::resolve(INSIDE_IF)?.index).map_err(socket_failure)
    })?;

    let (family, target) = match ips {
        Ips::V4(..) => ("ICMP", env.outside_ip4()),
        Ips::V6(..) => ("ICMPv6", env.outside_ip6()),
    };
    println!("PING {target} from {INSIDE_IF} with an 802.1Q tag (VLAN {VID}), raw {family} echo requests");
    let mut passed = 0;
    for seq in 1..=count.min(u16::MAX as u64) as u16 {
        let id = std::process::id() << 16 | seq as u32;
        let (proto, icmp) = echo_request(ips, seq, &tag(id));
        let eth = if legacy_ip { ETH_P_IP } else { ETH_P_IPV6 };
        let frame = ethernet(
            outside_mac.0,
            inside_mac.0,
            &[(ETH_P_8021Q, VID)],
            eth,
            &ip_packet(ips, proto, 64, &[], &icmp),
        );
        send.send(&frame).map_err(socket_failure)?;
        // A frame that passes shows up at once; one second for one that does not.
        let seen = watch
            .receive(Duration::from_secs(1), |got| {
                got.iter().any(|f| tag_of(f) == Some(id))
            })
            .map_err(socket_failure)?;
        let arrived = seen.iter().find(|f| tag_of(f) == Some(id));
        match arrived.and_then(|f| frames::parse(f)) {
            Some(p) => {
                passed += 1;
                let tags: Vec<String> = p
                    .tags
                    .iter()
                    .map(|(_, tci)| format!("VLAN {}", tci & 0xfff))
                    .collect();
                let how = if tags.is_empty() {
                    "untagged".to_owned()
                } else {
                    tags.join(" + ")
                };
                println!("icmp_seq={seq}: passed XDP on {} ({how})", env.name);
            }
            None => println!(
                "icmp_seq={seq}: dropped (not seen on {} after XDP)",
                env.name
            ),
        }
    }
    println!("--- {target} VLAN {VID} ping statistics ---");
    println!(
        "{count} packets transmitted, {passed} received by {} after XDP",
        env.name
    );
    if passed == 0 {
        return Err(Failure::new(
            Exit::Fail,
            format!("no tagged echo request from {} passed XDP", env.name),
        )
        .hint(format!(
            "is an XDP program dropping them? see xdp-loader status {}",
            env.name
        ))
        .into());
    }
    Ok(())
}
