//! `xdp-loader status`: which XDP programs run where, as a table or JSON.

use serde::Serialize;

use crate::cli::StatusArgs;
use crate::dispatcher::{self, run_config, Seen};
use crate::error::Failure;
use crate::iface::{self, mode_name, prog_summary, Interface};
use crate::others::{self, OtherProgram};
use crate::pin;

/// JSON schema (stable; documented in README): one object per interface.
#[derive(Debug, Serialize)]
pub struct InterfaceStatus {
    pub ifname: String,
    pub ifindex: u32,
    pub programs: Vec<ProgramStatus>,
    /// tc programs on the interface (shown, never managed here).
    pub tc: Vec<OtherProgram>,
    /// The flow dissector of the interface's network namespace, if any.
    pub flow_dissector: Option<OtherProgram>,
}

#[derive(Debug, Serialize)]
pub struct ProgramStatus {
    /// "native", "skb" or "hw".
    pub mode: &'static str,
    pub id: u32,
    pub name: String,
    /// The program tag (hash of its instructions), 16 hex digits.
    pub tag: String,
    /// "netlink" or "link".
    pub attach: &'static str,
    pub link_id: Option<u32>,
    /// Where the link is pinned, when this tool pinned it.
    pub link_pin: Option<String>,
    /// When the program is a dispatcher (ours or libxdp's): its programs
    /// in run order. Empty for an ordinary program.
    pub components: Vec<ComponentStatus>,
    /// A dispatcher this loader reads but will not change, and why.
    pub dispatcher_note: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ComponentStatus {
    pub slot: usize,
    pub id: u32,
    pub name: String,
    pub tag: String,
    pub priority: u32,
    /// Verdicts after which the next program runs ("XDP_PASS", ...).
    pub chain_call_actions: Vec<&'static str>,
}

/// The components of program `id` if it is a dispatcher.
fn dispatcher_parts(ifindex: u32, id: u32) -> (Vec<ComponentStatus>, Option<String>) {
    match dispatcher::inspect(ifindex, id) {
        Ok(Seen::Dispatcher(found)) => (
            found
                .components
                .iter()
                .map(|c| ComponentStatus {
                    slot: c.slot,
                    id: c.id,
                    name: c.name.clone(),
                    tag: prog_summary(c.id).tag,
                    priority: c.run.priority,
                    chain_call_actions: run_config::ACTION_NAMES
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| c.run.actions & (1 << i) != 0)
                        .map(|(_, n)| *n)
                        .collect(),
                })
                .collect(),
            None,
        ),
        Ok(Seen::Unusable { why, .. }) => (Vec::new(), Some(why)),
        _ => (Vec::new(), None),
    }
}

pub fn collect(iface: &Interface) -> Result<InterfaceStatus, Failure> {
    let pinned_link = pin::link_pin_path(&iface.name);
    let programs = iface::attached(iface.index)?
        .into_iter()
        .map(|a| {
            let prog = prog_summary(a.prog_id);
            let (components, dispatcher_note) = dispatcher_parts(iface.index, a.prog_id);
            ProgramStatus {
                components,
                dispatcher_note,
                mode: mode_name(a.mode),
                id: a.prog_id,
                name: prog.name,
                tag: prog.tag,
                attach: if a.link_id.is_some() {
                    "link"
                } else {
                    "netlink"
                },
                link_id: a.link_id,
                link_pin: a
                    .link_id
                    .filter(|_| pinned_link.exists())
                    .map(|_| pinned_link.display().to_string()),
            }
        })
        .collect();
    Ok(InterfaceStatus {
        ifname: iface.name.clone(),
        ifindex: iface.index,
        programs,
        tc: others::tc_programs(iface.index),
        flow_dissector: others::flow_dissector(),
    })
}

pub fn run(args: &StatusArgs) -> anyhow::Result<()> {
    let statuses = match &args.ifname {
        Some(name) => vec![collect(&iface::resolve(name)?)?],
        None => iface::all()
            .iter()
            .filter_map(|i| match collect(i) {
                // Deleted between listing and querying: it is not there now.
                Err(_) if iface::resolve(&i.name).is_err() => None,
                result => Some(result),
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&statuses)?);
    } else {
        print!("{}", render(&statuses));
    }
    Ok(())
}

/// The human-readable table.
pub fn render(statuses: &[InterfaceStatus]) -> String {
    let mut out = String::from("CURRENT XDP PROGRAM STATUS:\n\n");
    out += &format!(
        "{:<16} {:>7}  {:<7} {:>6}  {:<16} {:<16}  {}\n",
        "Interface", "Ifindex", "Mode", "ID", "Program name", "Tag", "Attach"
    );
    out += &"-".repeat(86);
    out.push('\n');
    for s in statuses {
        if s.programs.is_empty() {
            out += &format!("{:<16} {:>7}  <no XDP program>\n", s.ifname, s.ifindex);
        }
        for p in &s.programs {
            let attach = match &p.link_pin {
                Some(path) => format!("link {path}"),
                None => p.attach.to_string(),
            };
            out += &format!(
                "{:<16} {:>7}  {:<7} {:>6}  {:<16} {:<16}  {attach}\n",
                s.ifname, s.ifindex, p.mode, p.id, p.name, p.tag
            );
            for c in &p.components {
                out += &format!(
                    " {:<15} {:>7}  {:<7} {:>6}  {:<16} {:<16}  {}\n",
                    format!("=> slot {}", c.slot),
                    format!("prio {}", c.priority),
                    "",
                    c.id,
                    c.name,
                    c.tag,
                    c.chain_call_actions.join(",")
                );
            }
            if let Some(note) = &p.dispatcher_note {
                out += &format!(" => {note}\n");
            }
        }
        for t in &s.tc {
            out += &format!(
                "{:<16} {:>7}  also on {}: {} (id {}, {})\n",
                "", "", t.hook, t.name, t.id, t.attach
            );
        }
    }
    // One per network namespace, so said once.
    if let Some(f) = statuses.iter().find_map(|s| s.flow_dissector.as_ref()) {
        out += &format!(
            "\nThis network namespace's flow dissector: {} (id {}, {})\n",
            f.name, f.id, f.attach
        );
    }
    if statuses.iter().any(|s| !s.tc.is_empty())
        || statuses.iter().any(|s| s.flow_dissector.is_some())
    {
        out += "(tc and flow dissector programs are shown, never changed, by xdp-loader)\n";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_programs_and_empty_interfaces() {
        let statuses = vec![
            InterfaceStatus {
                ifname: "lo".into(),
                ifindex: 1,
                programs: vec![],
                tc: vec![],
                flow_dissector: None,
            },
            InterfaceStatus {
                ifname: "veth0".into(),
                ifindex: 6,
                programs: vec![ProgramStatus {
                    mode: "native",
                    id: 42,
                    name: "xdp_drop_func".into(),
                    tag: "b11459a0e11ca14c".into(),
                    attach: "netlink",
                    link_id: None,
                    link_pin: None,
                    components: vec![],
                    dispatcher_note: None,
                }],
                tc: vec![OtherProgram {
                    hook: "tc ingress",
                    id: 43,
                    name: "tc_count".into(),
                    attach: "cls_bpf pref 1".into(),
                }],
                flow_dissector: None,
            },
        ];
        let table = render(&statuses);
        assert!(table.contains("lo                     1  <no XDP program>"));
        let row = table.lines().find(|l| l.starts_with("veth0")).unwrap();
        let fields: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            fields,
            [
                "veth0",
                "6",
                "native",
                "42",
                "xdp_drop_func",
                "b11459a0e11ca14c",
                "netlink"
            ]
        );
        assert!(table.contains("also on tc ingress: tc_count (id 43, cls_bpf pref 1)"));
        assert!(table.contains("shown, never changed"));
    }
}
