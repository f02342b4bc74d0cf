//! `redirect` (packet03): the tutorial's `t redirect ENV1 ENV2`.

use std::os::fd::BorrowedFd;

use super::*;
use crate::attach;
use crate::builtin;
use crate::cli::{AttachKind, EnvName, Mode};
use crate::error::{Exit, Failure};
use crate::iface::{self, Attached, Interface};
use crate::maps::{self, PinPlan};
use crate::object::{self, Selection, Source};
use crate::redirect::{self, Mac};
use crate::signals;

// ---------------------------------------------------------------------------
// redirect (packet03): the tutorial's `t redirect ENV1 ENV2`
//
//  namespace ENV1                                              namespace ENV2
//  veth0 ---> ENV1 (xdp_redirect_map_func) ==redirect==> ENV2 ---> veth0
//  veth0 <--- ENV1 <==redirect== (xdp_redirect_map_func) ENV2 <--- veth0
//
// Each outside end redirects the frames its namespace sends straight out of
// the other outside end, rewriting the destination MAC to the other veth0's.

/// One side of the redirect: an environment and what it is made of.
pub(crate) struct Side {
    pub(crate) env: Env,
    pub(crate) outside: Interface,
    pub(crate) outside_mac: Mac,
    pub(crate) inside_mac: Mac,
}

impl Side {
    pub(crate) fn read(env: Env) -> Result<Side, Failure> {
        let outside = iface::resolve(&env.name)?;
        let outside_mac = mac_of(ip(&["-j", "link", "show", "dev", &env.name])?, &env.name)?;
        let inside_mac = mac_of(
            ip_in(&env.name, &["-j", "link", "show", "dev", INSIDE_IF])?,
            INSIDE_IF,
        )?;
        Ok(Side {
            env,
            outside,
            outside_mac,
            inside_mac,
        })
    }

    /// The peer's subnets this side's namespace must route out of veth0:
    /// (ip family flag, subnet, the peer's inside address).
    pub(crate) fn routes_to(&self, peer: &Side) -> Vec<(&'static str, String, String)> {
        let mut routes = vec![(
            "-6",
            format!("{}::/64", ip6_prefix(peer.env.num, 0)),
            peer.env.inside_ip6(),
        )];
        if self.env.legacy_ip && peer.env.legacy_ip {
            routes.push((
                "-4",
                format!("{}.0/24", ip4_prefix(peer.env.num)),
                peer.env.inside_ip4(),
            ));
        }
        routes
    }
}

pub(crate) fn mac_of(json: String, ifname: &str) -> Result<Mac, Failure> {
    let text = read_mac(json, ifname)?;
    text.parse().map_err(|why| {
        Failure::new(
            Exit::Fail,
            format!("{ifname} has the address '{text}', not an Ethernet MAC: {why}"),
        )
    })
}

/// A change `redirect` made, and so must undo if a later step fails.
pub(crate) enum Done {
    /// A program attached to veth0 inside the namespace.
    InsideProgram { ns: String, prog_id: u32 },
    /// A route to the peer's subnet and a neighbour entry for its address.
    Route {
        ns: String,
        family: &'static str,
        subnet: String,
        neighbour: String,
    },
    /// The redirect program on an outside end, and the map pins its load created.
    OutsideProgram {
        iface: Interface,
        prog_id: u32,
        pins: PinPlan,
    },
}

impl Done {
    /// Best effort: every step is tried, errors ignored.
    pub(crate) fn undo(self) {
        let netlink = |prog_id| Attached {
            mode: Mode::Native,
            prog_id,
            link_id: None,
        };
        match self {
            Done::InsideProgram { ns, prog_id } => {
                let _ = on_thread_in_netns(&ns, || {
                    let veth0 = iface::resolve(INSIDE_IF)?;
                    attach::detach(&veth0, &netlink(prog_id))
                        .map_err(|e| attach::explain_detach(&veth0, &netlink(prog_id), e))
                });
            }
            Done::Route {
                ns,
                family,
                subnet,
                neighbour,
            } => {
                let _ = ip_in(&ns, &[family, "route", "del", &subnet, "dev", INSIDE_IF]);
                let _ = ip_in(&ns, &[family, "neigh", "del", &neighbour, "dev", INSIDE_IF]);
            }
            Done::OutsideProgram {
                iface,
                prog_id,
                pins,
            } => {
                let _ = attach::detach(&iface, &netlink(prog_id));
                pins.undo();
            }
        }
    }
}

/// A built-in object (never a file of that name in the current directory).
pub(crate) fn builtin_source(name: &str) -> Result<Source, Failure> {
    builtin::find(name).map(Source::Builtin).ok_or_else(|| {
        Failure::new(
            Exit::Bpf,
            format!("this xdp-loader has no built-in program '{name}'"),
        )
        .hint(format!(
            "the built-ins are: {} (see `xdp-loader list`)",
            builtin::names().join(", ")
        ))
    })
}

/// Native, netlink, replacing whatever runs there (like `load --force`).
pub(crate) fn attach_request<'a>(
    iface: &'a Interface,
    prog_fd: BorrowedFd<'a>,
) -> attach::Request<'a> {
    attach::Request {
        iface,
        prog_fd,
        mode: Mode::Native,
        kind: AttachKind::Netlink,
        force: true,
    }
}

pub(crate) fn redirect(state: &State, name1: &str, name2: &str) -> anyhow::Result<()> {
    if name1 == name2 {
        return Err(
            Failure::new(Exit::Usage, format!("cannot redirect '{name1}' to itself"))
                .hint("name two environments: xdp-loader testenv redirect ENV1 ENV2")
                .into(),
        );
    }
    let env_of = |name: &str| {
        let name = EnvName {
            name: Some(name.to_owned()),
        };
        live_env(state, &name, "redirect")
    };
    let sides = [Side::read(env_of(name1)?)?, Side::read(env_of(name2)?)?];
    // The built-in must exist before anything changes.
    let source = builtin_source(redirect::OBJECT)?;

    // From the first change to the last, a Ctrl-C waits (see signals.rs).
    let _deferred = signals::defer_termination();
    let mut done = Vec::new();
    match redirect_steps(&sides, &source, &mut done) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            Ok(())
        }
        Err(mut failure) => {
            for step in done.into_iter().rev() {
                step.undo();
            }
            failure.message = format!(
                "cannot set up the redirect between '{name1}' and '{name2}': {}",
                failure.message
            );
            failure
                .details
                .push("(what this command had set up before that is undone)".into());
            Err(failure.into())
        }
    }
}

/// The steps of `redirect`, each recorded in `done` once made. Returns the report.
pub(crate) fn redirect_steps(
    sides: &[Side; 2],
    source: &Source,
    done: &mut Vec<Done>,
) -> Result<Vec<String>, Failure> {
    let [a, b] = sides;
    let mut report = vec![format!(
        "Redirect between '{}' and '{}' (packet03):",
        a.env.name, b.env.name
    )];

    // A veth delivers frames redirected into it only when its peer (veth0
    // inside) runs an XDP program: one program passing everything serves both.
    let pass = object::load(
        &builtin_source("xdp_pass")?,
        Selection::default(),
        None,
        None,
    )?;
    let mut pass_id = 0;
    for side in sides {
        let ns = side.env.name.clone();
        pass_id = on_thread_in_netns(&ns, || {
            let veth0 = iface::resolve(INSIDE_IF)?;
            Ok(attach::attach(&attach_request(&veth0, pass.program_fd()))?.prog_id)
        })?;
        done.push(Done::InsideProgram {
            ns,
            prog_id: pass_id,
        });
    }
    report.push(format!(
        " - {} (prog id {pass_id}) on {INSIDE_IF} in both namespaces: a veth delivers \
         redirected frames only when its peer runs XDP",
        pass.program
    ));

    // Each namespace sends the other's traffic out of veth0. Any destination
    // MAC will do (XDP rewrites it); the outside end's is the natural one.
    for (side, peer) in [(a, b), (b, a)] {
        let ns = side.env.name.as_str();
        let mac = side.outside_mac.to_string();
        for (family, subnet, neighbour) in side.routes_to(peer) {
            ip_in(ns, &[family, "route", "replace", &subnet, "dev", INSIDE_IF])?;
            done.push(Done::Route {
                ns: ns.to_owned(),
                family,
                subnet: subnet.clone(),
                neighbour: neighbour.clone(),
            });
            let mut neigh = neigh_add(&neighbour, &mac, INSIDE_IF);
            neigh[1] = "replace";
            ip_in(ns, &neigh)?;
            report.push(format!(
                " - in {ns}: route {subnet} dev {INSIDE_IF}, neighbour {neighbour} lladdr {mac}"
            ));
        }
    }

    // A socket's UDP/TCP checksum is left for the device to finish (offload);
    // an XDP redirect drops that mark, and the other side then discards the
    // datagram as corrupt. Pings are unaffected; sockets need full sums.
    for side in [a, b] {
        let ns = side.env.name.as_str();
        match in_netns(ns, "ethtool", &["-K", INSIDE_IF, "tx", "off"]) {
            Ok(_) => report.push(format!(
                " - in {ns}: transmit checksum offload off on {INSIDE_IF} (redirected UDP/TCP keeps valid checksums)"
            )),
            Err(_) => report.push(format!(
                " - Note: could not turn off checksum offload in {ns} (is ethtool installed?): \
                 UDP/TCP from sockets may be dropped after the redirect; pings work"
            )),
        }
    }

    // The redirect programs, their maps filled before they are attached.
    for (side, peer) in [(a, b), (b, a)] {
        let dir = maps::pin_dir(&side.outside.name, None)?;
        let selection = Selection {
            prog_name: Some(redirect::MAP_PROGRAM),
            section: None,
        };
        let pin_to = maps::PinTo {
            ifname: &side.outside.name,
            dir: &dir,
        };
        let mut loaded = object::load(source, selection, None, Some(pin_to))?;
        let pins = std::mem::take(&mut loaded.pins);
        let filled = redirect::apply(&redirect::Request {
            from: &side.outside,
            to: &peer.outside,
            dir: &dir,
            src_mac: Some(side.inside_mac),
            dest_mac: Some(peer.inside_mac),
        })
        .and_then(|lines| {
            let outcome = attach::attach(&attach_request(&side.outside, loaded.program_fd()))?;
            Ok((lines, outcome))
        });
        let (lines, outcome) = filled.inspect_err(|_| pins.undo())?;
        done.push(Done::OutsideProgram {
            iface: side.outside.clone(),
            prog_id: outcome.prog_id,
            pins,
        });
        report.push(format!(
            " - {} (prog id {}) on {} (ifindex {}), native mode:",
            loaded.program, outcome.prog_id, side.outside.name, side.outside.index
        ));
        report.extend(lines.into_iter().map(|line| format!("     {line}")));
        for old in outcome.replaced {
            report.push(format!("     replaced {old}"));
        }
    }

    report.push(format!(
        "Test it:  xdp-loader testenv exec --name {} -- ping -6 {}",
        a.env.name,
        b.env.inside_ip6()
    ));
    report.push(format!(
        "Watch it: xdp-loader stats {} (and {}): the frames count as XDP_REDIRECT",
        a.env.name, b.env.name
    ));
    report.push(format!(
        "While it runs, all traffic from the namespaces goes to each other (testenv ping \
         no longer reaches the outside end). Stop: xdp-loader unload {} && xdp-loader unload {}",
        a.env.name, b.env.name
    ));
    Ok(report)
}
