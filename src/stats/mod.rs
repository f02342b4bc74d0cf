//! `xdp-loader stats`: live per-action counters from `xdp_stats_map`, the
//! C tutorial's `xdp_stats` as a separate process from the loader.
//!
//! Every sample costs one bpf() call (the batch read), one stat() of the
//! pin (to notice a reload that pinned a new map) and, when an interface
//! is named, one netlink query (to notice the program going away).

pub mod reader;
mod render;

use std::path::Path;
use std::time::Duration;

use reader::{Counters, Location, PinState, StatsMap};
use render::Sample;

use crate::cli::StatsArgs;
use crate::error::{Exit, Failure};
use crate::iface::{self, Interface};
use crate::maps;
use crate::privilege;
use crate::signals;

/// The map name every lesson program (and the C tutorial) counts into.
pub const MAP_NAME: &str = "xdp_stats_map";
/// The C tutorial prints its first sample this soon after starting.
const FIRST_SAMPLE: Duration = Duration::from_millis(250);

pub fn run(args: &StatsArgs) -> anyhow::Result<()> {
    privilege::require("xdp-loader stats", privilege::BPF)?;
    let interval = args.sampling.interval;
    let mut watch = Watch::from_args(args)?;
    let stop = signals::stop_requests()?;
    let mut out = Output {
        json: args.sampling.json,
        quiet: args.quiet,
    };

    // `current` is None only while --follow waits for the map to appear.
    let mut current = match watch.open(args.follow) {
        Ok(map) => Some(out.start(map)?),
        Err(gone) if args.follow => {
            eprintln!("Note: {}; waiting for it (--follow)", gone.message);
            None
        }
        Err(failure) => return Err(failure.into()),
    };
    let mut printed = 0u64;
    let mut wait = FIRST_SAMPLE;
    loop {
        // A message means Ctrl-C/SIGTERM; a timeout means time for a sample.
        let stopped = stop.recv_timeout(wait).is_ok();
        wait = interval;

        let Some((map, prev)) = current.as_mut() else {
            if stopped {
                eprintln!("Stopped while waiting for {}", watch.what());
                return Ok(());
            }
            if let Ok(map) = watch.open(true) {
                eprintln!("Note: found {MAP_NAME} again ({})", watch.found(&map));
                current = Some(out.start(map)?);
            }
            continue;
        };
        match watch.check(map) {
            Ok(Some(old_id)) => {
                eprintln!(
                    "Note: {MAP_NAME} changed its id ({old_id} -> {}), switching",
                    map.id
                );
                // The new map counted from zero since it was created.
                *prev = Counters::zero(prev.at, map.rows());
            }
            Ok(None) => {}
            Err(gone) if args.follow && !stopped => {
                eprintln!(
                    "Note: {}; waiting for it to come back (--follow)",
                    gone.message
                );
                current = None;
                continue;
            }
            Err(gone) => return Err(gone.into()),
        }
        let now = map.read()?;
        let sample = Sample::between(prev, &now, map.id, map.pin().map(pin_text));
        out.sample(&sample);
        *prev = now;
        printed += 1;
        if stopped {
            out.stopped(printed);
            return Ok(());
        }
        if args.sampling.count.is_some_and(|count| printed >= count) {
            return Ok(());
        }
    }
}

/// What `stats` watches: the map's location and, when known, the
/// interface whose program should be counting into it.
struct Watch {
    location: Location,
    /// The interface as named: it is looked up again by name when its
    /// ifindex goes away (deleted and created again).
    ifname: Option<String>,
    iface: Option<Interface>,
    /// Program ids on the interface when last checked: the (costlier)
    /// "does it use this map" question is asked again only when they change.
    seen_programs: Vec<u32>,
}

impl Watch {
    fn from_args(args: &StatsArgs) -> Result<Watch, Failure> {
        let iface = args.ifname().map(iface::resolve).transpose()?;
        let location = match (args.map_id, &args.pin_path, &iface) {
            (Some(id), _, _) => Location::Id(id),
            (None, dir, _) => {
                let ifname = iface.as_ref().map_or("", |i| i.name.as_str());
                Location::Pin(maps::pin_dir(ifname, dir.as_deref())?.join(MAP_NAME))
            }
        };
        Ok(Watch {
            location,
            ifname: args.ifname().map(str::to_string),
            iface,
            seen_programs: Vec::new(),
        })
    }

    fn what(&self) -> String {
        match &self.location {
            Location::Pin(path) => path.display().to_string(),
            Location::Id(id) => format!("map id {id}"),
        }
    }

    /// Opens the map, and checks that the interface's program uses it.
    /// With `refind` (--follow), a program on the interface that counts
    /// into another `xdp_stats_map` (reloaded with `-p NEWDIR`, or pinned
    /// nowhere) is followed there: its map is found by the program's map ids.
    fn open(&mut self, refind: bool) -> Result<StatsMap, Failure> {
        if let Some(name) = &self.ifname {
            self.iface = Some(iface::resolve(name)?);
        }
        self.seen_programs.clear();
        let pinned = match &self.location {
            Location::Pin(path) if !path.exists() => Err(self.nothing_pinned(path)),
            location => StatsMap::open(location),
        };
        let failure = match pinned {
            Ok(mut map) => match self.check(&mut map) {
                Ok(_) => return Ok(map),
                Err(failure) => failure,
            },
            Err(failure) => failure,
        };
        let Some(mut map) = refind.then(|| self.programs_stats_map()).flatten() else {
            return Err(failure);
        };
        self.check(&mut map)?;
        Ok(map)
    }

    /// The `xdp_stats_map` that the interface's program uses, by map id.
    fn programs_stats_map(&self) -> Option<StatsMap> {
        let iface = self.iface.as_ref()?;
        let programs = iface::slots(iface.index).ok()?;
        let users = maps::maps_by_program();
        programs
            .iter()
            .filter_map(|(_, prog)| users.get(prog))
            .flatten()
            .filter_map(|&id| StatsMap::open(&Location::Id(id)).ok())
            .find(|map| map.name() == MAP_NAME)
    }

    /// Where a map was found, for a Note.
    fn found(&self, map: &StatsMap) -> String {
        match (map.pin(), &self.ifname) {
            (Some(pin), _) => format!("id {}, pinned at {}", map.id, pin.display()),
            (None, Some(ifname)) => format!(
                "id {}, used by the program on {ifname}; not pinned at {}",
                map.id,
                self.what()
            ),
            (None, None) => format!("id {}", map.id),
        }
    }

    /// Before each sample: follows a map that a reload replaced (returns
    /// the old id), or fails when the pin, interface or program is gone.
    fn check(&mut self, map: &mut StatsMap) -> Result<Option<u32>, Failure> {
        let mut switched = None;
        match map.pin_state() {
            PinState::Same => {}
            PinState::Gone => {
                return Err(gone(format!(
                    "the pin {} was removed (the program was unloaded?)",
                    self.what()
                )))
            }
            PinState::Replaced => {
                let new = StatsMap::open(&self.location)?;
                if new.id != map.id {
                    switched = Some(map.id);
                }
                *map = new;
            }
        }
        if let Some(iface) = self.iface.clone() {
            self.check_program(&iface, map.id)?;
        }
        Ok(switched)
    }

    fn check_program(&mut self, iface: &Interface, map_id: u32) -> Result<(), Failure> {
        let programs: Vec<u32> = iface::slots(iface.index)
            .map_err(|_| gone(format!("interface {} is gone", iface.name)))?
            .iter()
            .map(|&(_, id)| id)
            .filter(|&id| id != 0)
            .collect();
        if programs.is_empty() {
            return Err(gone(format!(
                "no XDP program is attached to {} any more",
                iface.name
            )));
        }
        if programs == self.seen_programs {
            return Ok(());
        }
        let users = maps::maps_by_program();
        // A dispatcher counts nothing itself: its slots' programs do.
        let counts_here = crate::dispatcher::with_components(iface.index, programs.clone())
            .iter()
            .any(|p| users.get(p).is_some_and(|maps| maps.contains(&map_id)));
        if !counts_here {
            return Err(gone(format!(
                "the XDP program on {} (id {}) does not use {MAP_NAME} id {map_id} (replaced by another tool, or reloaded with -p elsewhere?)",
                iface.name, programs[0]
            )));
        }
        self.seen_programs = programs;
        Ok(())
    }

    fn nothing_pinned(&self, path: &Path) -> Failure {
        let failure = Failure::new(
            Exit::Bpf,
            format!("no {MAP_NAME} pinned at {}", path.display()),
        );
        let attached = self
            .iface
            .as_ref()
            .and_then(|i| iface::attached(i.index).ok().map(|a| (i, a)));
        match attached {
            Some((iface, programs)) if !programs.is_empty() => failure.hint(format!(
                "the program on {0} (id {1}) has no pinned maps: pin them with `xdp-loader pin {0}`",
                iface.name, programs[0].prog_id
            )),
            Some((iface, _)) => failure.hint(format!(
                "nothing runs on {0}: load a counting program first, e.g. `xdp-loader load {0} xdp_stats1`",
                iface.name
            )),
            None => failure.hint("see what is pinned with `bpftool map show pinned`, or use --map-id ID"),
        }
    }
}

/// The program, map or interface went away while stats ran.
fn gone(message: String) -> Failure {
    Failure::new(Exit::Fail, message).hint("--follow waits for it to come back instead")
}

fn pin_text(path: &Path) -> String {
    path.display().to_string()
}

/// Where samples go: the C tutorial's text, or JSON lines.
struct Output {
    json: bool,
    quiet: bool,
}

impl Output {
    /// Prints the map header and takes the first reading.
    fn start(&mut self, mut map: StatsMap) -> Result<(StatsMap, Counters), Failure> {
        if !self.json && !self.quiet {
            println!("\nCollecting stats from BPF map");
            println!("{}", map.describe());
            if let Some(pin) = map.pin() {
                println!(" - pinned at {}", pin.display());
            }
        }
        let first = map.read()?;
        Ok((map, first))
    }

    fn sample(&mut self, sample: &Sample) {
        if self.json {
            println!("{}", sample.json());
            return;
        }
        if !self.quiet {
            println!("\nXDP-action");
        }
        for row in sample.text_rows() {
            println!("{row}");
        }
    }

    fn stopped(&mut self, printed: u64) {
        let line = format!("Stopped after {printed} samples");
        // JSON output stays one object per line.
        match self.json {
            true => eprintln!("{line}"),
            false => println!("\n{line}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_map_is_what_the_header_declares() {
        let header = include_str!("../bpf/xdp_stats_kern.h");
        assert!(header.contains(&format!("}} {MAP_NAME} SEC(\".maps\")")));
        assert_eq!(std::mem::size_of::<reader::Datarec>(), 16);
    }
}
