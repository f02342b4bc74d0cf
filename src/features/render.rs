//! The `features` table and JSON (schema in README, "Kernel compatibility").

use serde_json::{json, Map, Value};

use super::netdev::{DeviceFeatures, NotReported, XDP_ACT};
use super::{Outcome, Probed};
use crate::error::{errno_name, errno_text};
use crate::iface::Interface;

pub struct Report<'a> {
    kernel: String,
    answers: &'a [Probed],
    device: Option<(Interface, Result<DeviceFeatures, NotReported>)>,
}

impl<'a> Report<'a> {
    pub fn new(
        answers: &'a [Probed],
        device: Option<(Interface, Result<DeviceFeatures, NotReported>)>,
    ) -> Report<'a> {
        Report {
            kernel: kernel_release(),
            answers,
            device,
        }
    }

    pub fn table(&self) -> String {
        let mut out = format!(
            "Kernel {}: each feature probed by trying it\n\n",
            self.kernel
        );
        let width = self
            .answers
            .iter()
            .map(|a| a.feature.title().len())
            .max()
            .unwrap_or(0);
        out += &format!("{:width$}  SINCE  RESULT   DETAIL\n", "FEATURE");
        for answer in self.answers {
            out += &format!(
                "{:width$}  {:5}  {:7}  {}\n",
                answer.feature.title(),
                answer.feature.since(),
                result(&answer.outcome),
                answer.explanation()
            );
        }
        if let Some(line) = self.multi_program() {
            out += &format!("\nSeveral XDP programs per interface: {line}\n");
        }
        if let Some((iface, features)) = &self.device {
            out += &format!("\nDevice {} (ifindex {}): ", iface.name, iface.index);
            match features {
                Ok(features) => {
                    out += "XDP features as the kernel reports them\n";
                    for (bit, name, what) in XDP_ACT {
                        let has = features.xdp_features_mask & bit != 0;
                        out += &format!("  {name:15} {:3}  {what}\n", yes_no(has));
                    }
                    out += &format!(
                        "  {:15} {}\n",
                        "xdp-zc-max-segs",
                        features.xdp_zc_max_segs.map_or(
                            "not reported (6.6+ reports it for zero-copy devices)".into(),
                            |n| n.to_string()
                        )
                    );
                }
                Err(why) => out += &format!("{}\n", not_reported(why)),
            }
        }
        out
    }

    /// What the freplace answer means for `load IF a.o b.o` (None: not probed).
    fn multi_program(&self) -> Option<String> {
        let answer = self
            .answers
            .iter()
            .find(|a| a.feature == super::Feature::Freplace)?;
        Some(match answer.outcome {
            Outcome::Yes => "yes, through a libxdp-compatible dispatcher".to_string(),
            Outcome::No { .. } => format!("no: {}", crate::dispatcher::NO_TRAMPOLINES),
            Outcome::Unknown => "unknown (the freplace probe could not tell)".to_string(),
        })
    }

    pub fn json(&self) -> Value {
        let features: Map<String, Value> = self
            .answers
            .iter()
            .map(|a| (a.feature.key().to_string(), probed_json(a)))
            .collect();
        let device = self.device.as_ref().map(|(iface, features)| {
            let mut device = json!({
                "ifname": iface.name,
                "ifindex": iface.index,
                "reported": features.is_ok(),
            });
            match features {
                Ok(f) => {
                    device["xdp_features"] = json!(f.xdp_features);
                    device["xdp_features_mask"] = json!(f.xdp_features_mask);
                    device["xdp_zc_max_segs"] = json!(f.xdp_zc_max_segs);
                }
                Err(why) => device["reason"] = json!(not_reported(why)),
            }
            device
        });
        json!({
            "kernel": self.kernel,
            "features": features,
            "multi_program": self.multi_program(),
            "device": device,
        })
    }
}

fn probed_json(answer: &Probed) -> Value {
    let errno = match answer.outcome {
        Outcome::No { errno, .. } => errno,
        _ => None,
    };
    json!({
        "title": answer.feature.title(),
        "since": answer.feature.since(),
        "used_by": answer.feature.used_by(),
        "result": result(&answer.outcome),
        "step": match answer.outcome {
            Outcome::No { step, .. } => Some(step),
            _ => None,
        },
        "errno": errno,
        "errno_name": errno.map(errno_name),
        "detail": answer.explanation(),
    })
}

fn result(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Yes => "yes",
        Outcome::No { .. } => "no",
        Outcome::Unknown => "unknown",
    }
}

fn yes_no(has: bool) -> &'static str {
    if has {
        "yes"
    } else {
        "no"
    }
}

fn not_reported(why: &NotReported) -> String {
    match why {
        NotReported::NoFamily => "XDP features not reported by this kernel (needs 6.3)".into(),
        NotReported::Failed(errno) => format!(
            "the netdev netlink query failed: {} ({})",
            errno_text(*errno),
            errno_name(*errno)
        ),
    }
}

/// `uname -r`.
fn kernel_release() -> String {
    // SAFETY: utsname is plain data that uname fills.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uts is a valid, writable utsname.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return "unknown".into();
    }
    // SAFETY: uname NUL-terminates release.
    unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}
