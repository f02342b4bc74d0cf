//! `capture` with xdpdump's options on the real kernel: `-i`, `-w -`
//! (pcap on standard output), `-x`, `-P`, `-D`, `--rx-capture`.
//! Oracles: the peer's own transmit counter (`ip -s -j link` inside the
//! namespace), a pcap parser written here (not the tool's writer), the
//! `promiscuity` count of `ip -d -j link`, and `ip -j link` for programs.

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::*;

/// `xdp-loader capture ARGS` with standard output into a file of its own
/// (raw bytes, for `-w -`) and standard error read line by line.
struct Capture {
    child: Child,
    stdout_file: String,
    _remove: RemoveOnDrop,
    stderr: Receiver<String>,
    stderr_seen: Vec<String>,
}

impl Capture {
    fn start(net: &TestNet, args: &[&str]) -> Capture {
        let stdout_file = format!("/tmp/xdp-capture-out-{}", net.name);
        let out = File::create(&stdout_file).unwrap();
        let mut child = Command::new(loader_path())
            .arg("capture")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn xdp-loader");
        let (tx, stderr) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut capture = Capture {
            child,
            _remove: RemoveOnDrop(stdout_file.clone()),
            stdout_file,
            stderr,
            stderr_seen: Vec::new(),
        };
        capture.wait_stderr("Capturing on");
        capture
    }

    #[track_caller]
    fn wait_stderr(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.stderr_seen.iter().any(|l| l.contains(text)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => self.stderr_seen.push(line),
                Err(e) => panic!("no {text:?} ({e:?}): {:#?}", self.stderr_seen),
            }
        }
    }

    /// Exit code, then standard output's bytes; stderr is all in stderr_seen.
    fn finish(mut self) -> (i32, Vec<u8>, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "capture did not end: {:#?}",
                self.stderr_seen
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(2)) {
            self.stderr_seen.push(line);
        }
        let bytes = std::fs::read(&self.stdout_file).unwrap();
        let stderr = std::mem::take(&mut self.stderr_seen);
        (status.code().unwrap_or(-1), bytes, stderr)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One record of a classic pcap file.
#[derive(Debug)]
struct Record {
    wire_len: u32,
    data: Vec<u8>,
}

/// Parses a little-endian microsecond pcap (what this machine writes);
/// panics on anything else, so a wrong header fails the test.
fn parse_pcap(bytes: &[u8]) -> (u32, Vec<Record>) {
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    assert!(bytes.len() >= 24, "no pcap header: {} bytes", bytes.len());
    assert_eq!(u32_at(0), 0xa1b2_c3d4, "pcap magic");
    assert_eq!(u32_at(20), 1, "LINKTYPE_ETHERNET");
    let snaplen = u32_at(16);
    let mut records = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let cap_len = u32_at(at + 8) as usize;
        let wire_len = u32_at(at + 12);
        assert!(cap_len as u32 <= wire_len && cap_len as u32 <= snaplen);
        records.push(Record {
            wire_len,
            data: bytes[at + 16..at + 16 + cap_len].to_vec(),
        });
        at += 16 + cap_len;
    }
    assert_eq!(at, bytes.len(), "the last record is whole");
    (snaplen, records)
}

#[test]
fn pcap_parser_rejects_what_is_not_pcap() {
    let ok = [
        &0xa1b2_c3d4u32.to_le_bytes()[..],
        &[2, 0, 4, 0],
        &[0; 8],
        &100u32.to_le_bytes(),
        &1u32.to_le_bytes(),
    ]
    .concat();
    assert_eq!(parse_pcap(&ok).1.len(), 0);
    let mut record = ok.clone();
    record.extend_from_slice(&[0; 8]);
    record.extend_from_slice(&3u32.to_le_bytes());
    record.extend_from_slice(&60u32.to_le_bytes());
    record.extend_from_slice(&[7, 8, 9]);
    assert_eq!(parse_pcap(&record).1[0].data, [7, 8, 9]);
    for bad in [&ok[..20], &record[..record.len() - 1]] {
        assert!(std::panic::catch_unwind(|| parse_pcap(bad)).is_err());
    }
    let mut wrong_magic = ok.clone();
    wrong_magic[0] = 0;
    assert!(std::panic::catch_unwind(|| parse_pcap(&wrong_magic)).is_err());
}

/// Packets the namespace's end (`veth0`) has sent, by `ip -s -j link`.
fn peer_tx_packets(net: &TestNet) -> u64 {
    let link = json(
        "ip",
        &["-n", &net.name, "-s", "-j", "link", "show", "dev", "veth0"],
    );
    link[0]["stats64"]["tx"]["packets"].as_u64().unwrap()
}

/// The UDP payload of an IPv6 frame (None for anything else).
fn udp6_payload(frame: &[u8]) -> Option<&[u8]> {
    (frame.get(12..14)? == [0x86, 0xdd] && *frame.get(20)? == 17).then(|| &frame[62..])
}

/// Both ways to user space (the ring buffer needs Linux 5.18 for
/// capture's own program; tests/guest.rs covers the older kernels).
#[test]
fn capture_dash_i_writes_pcap_to_stdout_and_lines_with_hex_to_stderr() {
    for buffer in ["perf", "ring"] {
        let Some(net) = TestNet::for_privileged_test() else {
            return;
        };
        stdout_pcap_and_hex_lines(&net, buffer);
    }
}

fn stdout_pcap_and_hex_lines(net: &TestNet, buffer: &str) {
    let (_receiver, sender) = net.udp_pair();
    net.settle();
    const N: usize = 5;
    let count = N.to_string();
    let args = [
        "-i",
        net.host_if(),
        "-w",
        "-",
        "-x",
        "-c",
        &count,
        "--buffer",
        buffer,
    ];
    let capture = Capture::start(net, &args);
    let named = format!("{buffer} buffer)");
    assert!(
        capture.stderr_seen[0].contains(&named),
        "{:?}",
        capture.stderr_seen
    );
    let before = peer_tx_packets(net);
    for i in 0..N {
        sender
            .send(format!("capture-datagram-{i}").as_bytes())
            .unwrap();
    }
    let (code, stdout, stderr) = capture.finish();
    assert_eq!(code, 0, "{stderr:#?}");
    assert_eq!(
        peer_tx_packets(net) - before,
        N as u64,
        "the peer sent only these"
    );

    let (snaplen, records) = parse_pcap(&stdout);
    assert_eq!(snaplen, 65535);
    assert_eq!(records.len(), N, "{records:#?}");
    for (i, record) in records.iter().enumerate() {
        let want = format!("capture-datagram-{i}");
        assert_eq!(
            udp6_payload(&record.data),
            Some(want.as_bytes()),
            "{record:?}"
        );
        assert_eq!(record.wire_len as usize, record.data.len());
    }
    // The packet lines went to stderr, each followed by its hex dump,
    // whose bytes are the record's.
    let lines: Vec<&String> = stderr.iter().filter(|l| l.contains(" > ")).collect();
    assert_eq!(lines.len(), N, "{stderr:#?}");
    assert!(lines.iter().all(|l| l.contains("UDP")), "{lines:#?}");
    let hex: String = stderr
        .iter()
        .skip_while(|l| !l.contains(" > "))
        .skip(1)
        .take_while(|l| l.starts_with("\t0x"))
        .map(|l| l.split("  ").nth(1).unwrap().replace(' ', ""))
        .collect();
    let first: String = records[0].data.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, first);
    assert!(
        stderr.iter().any(|l| l.contains(&format!(
            "{N} packet(s) captured on {} written to standard output",
            net.host_if()
        ))),
        "{stderr:#?}"
    );
}

/// `promiscuity` of `ip -d -j link` (the kernel's count of requests)
/// and whether the PROMISC flag is set.
fn promiscuity(ifname: &str) -> (u64, bool) {
    let link = json("ip", &["-d", "-j", "link", "show", "dev", ifname]);
    let flags = link[0]["flags"].as_array().unwrap();
    (
        link[0]["promiscuity"].as_u64().unwrap(),
        flags.iter().any(|f| f == "PROMISC"),
    )
}

#[test]
fn capture_promiscuous_only_while_running_and_only_its_own_request() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let ifname = net.host_if();
    assert_eq!(promiscuity(ifname), (0, false));
    let capture = Capture::start(&net, &[ifname, "-P", "-c", "1", "-q"]);
    assert_eq!(promiscuity(ifname).0, 1, "promiscuous while capturing");
    assert!(net.ping(1));
    assert_eq!(capture.finish().0, 0);
    assert_eq!(promiscuity(ifname), (0, false), "given back at the end");

    // Someone else's promiscuous mode is left as it was, even by SIGKILL.
    sh("ip", &["link", "set", "dev", ifname, "promisc", "on"]);
    assert_eq!(promiscuity(ifname), (1, true));
    let mut capture = Capture::start(&net, &[ifname, "-P", "-q"]);
    assert_eq!(promiscuity(ifname).0, 2);
    capture.child.kill().unwrap();
    capture.child.wait().unwrap();
    assert_eq!(promiscuity(ifname), (1, true), "theirs stays");
}

#[test]
fn capture_dash_d_lists_interfaces_with_their_programs() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", "-m", "skb", net.host_if(), "xdp_pass"]).ok();
    let id = net.ip_link_xdp().unwrap()["prog"]["id"].as_u64().unwrap();
    let out = loader(&["capture", "-D"]).ok().stdout;
    let row = out
        .lines()
        .find(|l| l.starts_with(&format!("{} ", net.host_if())))
        .unwrap_or_else(|| panic!("{out}"));
    let fields: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        fields[2..5],
        ["skb", &id.to_string(), "xdp_prog_simple"],
        "{row}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("lo ") && l.contains("<no XDP program>")),
        "{out}"
    );
}

#[test]
fn capture_option_mistakes_are_usage_errors() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    // clap's own usage errors: exit 2, the option named.
    let run = loader(&["capture", net.host_if(), "--rx-capture", "entry,exits"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("`exits` is not entry or exit"),
        "{run:#?}"
    );
    for args in [
        &["capture", "-i", net.host_if(), net.host_if()][..],
        &["capture"],
    ] {
        assert_eq!(loader(args).code, 2, "{args:?}");
    }
    // Capture's own program has no verdict to wait for.
    let run = loader(&["capture", net.host_if(), "--rx-capture", "exit"]).fails_with(2);
    assert!(
        run.stderr
            .contains("--rx-capture exit needs a running XDP program"),
        "{run:#?}"
    );
    assert!(
        net.ip_link_xdp().is_none(),
        "nothing attached: {:?}",
        net.ip_link_xdp()
    );
}
