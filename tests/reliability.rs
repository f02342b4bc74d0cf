//! Faults at awkward moments: signals in the middle of `load`/`unload`
//! must leave either the whole change or none of it.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

#[test]
fn a_signal_during_load_leaves_all_or_nothing() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let pin = format!("/sys/fs/bpf/{}/xdp_stats_map", net.host_if());
    let mut outcomes = (0, 0);
    for round in 0..40u64 {
        for signal in ["INT", "TERM"] {
            let child = Command::new(loader_path())
                .args(["load", "-F", "-m", "skb", net.host_if(), "xdp_prog"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            // Spread the signal over the whole run of a load (~2-30 ms).
            std::thread::sleep(Duration::from_micros(round * 750));
            sh("kill", &[&format!("-{signal}"), &child.id().to_string()]);
            let _ = child.wait_with_output();
            let attached = net.ip_link_xdp().is_some();
            let pinned = Path::new(&pin).exists();
            assert_eq!(
                attached, pinned,
                "round {round} SIG{signal}: attached={attached} but pinned={pinned}"
            );
            if attached {
                outcomes.0 += 1;
                loader(&["unload", net.host_if()]).ok();
            } else {
                outcomes.1 += 1;
            }
            assert!(!Path::new(&pin).exists(), "unload left the pin");
        }
    }
    // Both outcomes must have happened, or the signal never hit a load.
    assert!(
        outcomes.0 > 0 && outcomes.1 > 0,
        "(complete, none) = {outcomes:?}"
    );
}
