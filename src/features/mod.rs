//! `xdp-loader features [IFNAME] [--json]`: what this kernel can do, found
//! by trying each thing, not by reading the version number (distributions
//! backport features, and build options remove some).
//!
//! The other commands ask the same probes (`has`, `require`), once per
//! process, so an old kernel gets one clear sentence naming the missing
//! feature and the kernel that has it, or an honest fallback.
//!
//! - `catalog`: the features, their first kernel, what needs them
//! - `raw`: minimal programs and maps made with direct bpf() calls
//! - `probes`: BTF, filesystems, map batch, ring buffer, xdp.frags
//! - `netns`: XDP link, XDP_FLAGS_REPLACE, live frames (on lo of a private netns)
//! - `trampoline`: freplace and fentry
//! - `netdev`: a device's XDP features from netlink (6.3+)
//! - `render`: the table and the JSON

pub mod catalog;
pub mod netdev;
mod netns;
mod probes;
mod raw;
mod render;
mod trampoline;

use std::collections::HashMap;
use std::sync::Mutex;

pub use catalog::Feature;

use crate::cli::FeaturesArgs;
use crate::commands::require_root;
use crate::error::{errno_name, errno_text, Exit, Failure};
use crate::iface;

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Yes,
    /// The kernel refused at `step` (with `errno` when it was a call).
    No {
        step: &'static str,
        errno: Option<i32>,
    },
    /// The probe could not tell (its set-up failed): `detail` says why.
    Unknown,
}

/// One feature's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    pub feature: Feature,
    pub outcome: Outcome,
    /// What was shown (yes), what the kernel said besides the errno (no),
    /// or why the probe could not tell (unknown).
    pub detail: String,
}

impl Probed {
    fn yes(feature: Feature, detail: impl Into<String>) -> Probed {
        Probed {
            feature,
            outcome: Outcome::Yes,
            detail: detail.into(),
        }
    }

    /// The kernel answered `errno` to the call that is the feature itself.
    fn no(feature: Feature, step: &'static str, errno: i32) -> Probed {
        Probed {
            feature,
            outcome: Outcome::No {
                step,
                errno: Some(errno),
            },
            detail: String::new(),
        }
    }

    fn unknown(feature: Feature, why: impl Into<String>) -> Probed {
        Probed {
            feature,
            outcome: Outcome::Unknown,
            detail: why.into(),
        }
    }

    /// A set-up step (not the feature itself) failed with `errno`.
    fn unknown_errno(feature: Feature, step: &str, errno: i32) -> Probed {
        Probed::unknown(
            feature,
            format!(
                "{step} failed: {} ({})",
                errno_text(errno),
                errno_name(errno)
            ),
        )
    }

    /// The detail line: for a refusal, what the errno means here.
    pub fn explanation(&self) -> String {
        match &self.outcome {
            Outcome::No {
                step,
                errno: Some(errno),
            } => {
                let said = format!(
                    "{} at {step}: {}",
                    errno_name(*errno),
                    meaning(self.feature, *errno)
                );
                match self.detail.is_empty() {
                    true => said,
                    false => format!("{said}; {}", self.detail),
                }
            }
            _ => self.detail.clone(),
        }
    }
}

/// What a refusal means for this feature (the probes run as root, so
/// EPERM is not about privileges).
fn meaning(feature: Feature, errno: i32) -> String {
    const ENOTSUPP: i32 = 524; // the kernel-internal "not supported"
    match errno {
        libc::EPERM | libc::EACCES if matches!(feature, Feature::Freplace | Feature::Fentry) => {
            "refused even to root: this kernel cannot run BPF trampolines \
             (built without them, or its architecture has none)"
                .into()
        }
        libc::EINVAL => "the kernel does not know this command, flag or attach type".into(),
        libc::E2BIG => "the kernel does not know the newer fields of this request".into(),
        ENOTSUPP | libc::EOPNOTSUPP => "not supported by this kernel".into(),
        other => errno_text(other),
    }
}

/// Probes run once per process; later questions get the first answer.
static ANSWERS: Mutex<Option<HashMap<Feature, Probed>>> = Mutex::new(None);

/// Probes `features` (those not yet probed), returning every answer.
fn probe(features: &[Feature]) -> Vec<Probed> {
    let mut answers = ANSWERS.lock().unwrap_or_else(|e| e.into_inner());
    let known = answers.get_or_insert_with(HashMap::new);
    let missing: Vec<Feature> = features
        .iter()
        .copied()
        .filter(|f| !known.contains_key(f))
        .collect();
    let needs_netns = missing.iter().any(|f| {
        matches!(
            f,
            Feature::XdpLink | Feature::XdpReplace | Feature::LiveFrames
        )
    });
    if needs_netns {
        for found in netns::probe_all() {
            known.insert(found.feature, found);
        }
    }
    for feature in missing {
        if known.contains_key(&feature) {
            continue;
        }
        let found = match feature {
            Feature::Btf => probes::btf(),
            Feature::KernelBtf => probes::kernel_btf(),
            Feature::Bpffs => probes::bpffs(),
            Feature::Tracefs => probes::tracefs(),
            Feature::MapBatch => probes::map_batch(),
            Feature::Ringbuf => probes::ringbuf(),
            Feature::XdpFrags => probes::xdp_frags(),
            Feature::Freplace => trampoline::freplace(),
            Feature::Fentry => trampoline::fentry(),
            // Answered by the netns probes above.
            Feature::XdpLink | Feature::XdpReplace | Feature::LiveFrames => {
                Probed::unknown(feature, "the network namespace probes gave no answer")
            }
        };
        known.insert(feature, found);
    }
    features.iter().map(|f| known[f].clone()).collect()
}

/// Does the running kernel have `feature`? None when the probe could not
/// tell (then callers go ahead and let the kernel answer).
pub fn has(feature: Feature) -> Option<bool> {
    match probe(&[feature]).remove(0).outcome {
        Outcome::Yes => Some(true),
        Outcome::No { .. } => Some(false),
        Outcome::Unknown => None,
    }
}

/// The probe's whole answer about `feature` (for messages).
pub fn probe_one(feature: Feature) -> Probed {
    probe(&[feature]).remove(0)
}

/// Refuses `what` when the kernel lacks `feature`, naming the feature and
/// the first kernel that has it.
pub fn require(feature: Feature, what: &str) -> Result<(), Failure> {
    let answer = probe_one(feature);
    if !matches!(answer.outcome, Outcome::No { .. }) {
        return Ok(());
    }
    Err(missing(&answer, what))
}

/// The refusal for `what`, which needs the feature `answer` says is missing.
pub fn missing(answer: &Probed, what: &str) -> Failure {
    let feature = answer.feature;
    Failure::new(
        Exit::Fail,
        format!(
            "{what} needs {}, which this kernel does not have (Linux {} and later)",
            feature.title(),
            feature.since()
        ),
    )
    .details([format!("probe: {}", answer.explanation())])
    .hint(format!(
        "run it on Linux {} or later (`make vm KERNEL=6.12 CMD=...` runs a command on one); \
         `xdp-loader features` shows what this kernel has",
        feature.since()
    ))
}

pub fn run(args: &FeaturesArgs) -> anyhow::Result<()> {
    require_root("xdp-loader features")?;
    // Checked first: a typo is a usage error before any probing.
    let device = args.ifname.as_deref().map(iface::resolve).transpose()?;
    let answers = probe(&Feature::ALL);
    let device = device.map(|iface| {
        let features = netdev::query(iface.index);
        (iface, features)
    });
    let report = render::Report::new(&answers, device);
    if args.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.table());
    }
    Ok(())
}
