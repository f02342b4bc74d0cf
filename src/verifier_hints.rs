//! What the verifier's most common refusals of packet accesses mean, in
//! words a student can act on (experiment01's lesson). `object` shows the
//! verifier log's last lines; this adds the hint.

/// Helpers after which every packet pointer must be read again from ctx.
const PACKET_CHANGING: [&str; 3] = [
    "bpf_xdp_adjust_tail",
    "bpf_xdp_adjust_head",
    "bpf_xdp_adjust_meta",
];

/// The hint for a verifier log, when its refusal is one we know.
pub fn explain(log: &[String]) -> Option<String> {
    let has = |text: &str| log.iter().any(|l| l.contains(text));
    if has("pointer arithmetic on pkt_end prohibited") || has("invalid mem access 'pkt_end'") {
        return Some(
            "data_end marks where the packet ends and can only be compared with, never moved \
             or read through: reach the last bytes from data instead (data + offset, with the \
             offset bounded, e.g. offset &= 0xfff) and check data + offset + size <= data_end \
             before the read"
                .into(),
        );
    }
    let stale = has("invalid mem access 'scalar'") || has("invalid mem access 'inv'");
    if let Some(helper) = PACKET_CHANGING
        .iter()
        .find(|h| log.iter().any(|l| l.contains(&format!("call {h}#"))))
    {
        if stale {
            return Some(format!(
                "{helper}() changed the packet, so the verifier forgot every packet pointer taken \
                 before it: read data and data_end from ctx again after the call, and check the \
                 bounds again"
            ));
        }
    }
    if has("unbounded min value is not allowed") {
        return Some(
            "an offset added to a packet pointer needs bounds both ways: check a minimum \
             (if (off < 2) return ...) and cap the maximum (off &= 0xfff) before adding it"
                .into(),
        );
    }
    if has("invalid access to packet") || has("offset is outside of the packet") {
        return Some(
            "the verifier could not prove the read is inside [data, data_end): an offset worked \
             out from the packet's length (data_end - data) is unknown to it. Compare the very \
             pointer you read through, plus the size read, with data_end just before the read \
             (if ((void *)(p + 1) > data_end) return XDP_PASS;)"
                .into(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::explain;

    fn log(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn each_known_refusal_gets_its_own_hint() {
        let pkt_end = explain(&log(&[
            "5: (71) r1 = *(u8 *)(r2 -1)",
            "R2 invalid mem access 'pkt_end'",
        ]));
        assert!(pkt_end.unwrap().starts_with("data_end marks"));
        let arith = explain(&log(&["pointer arithmetic on pkt_end prohibited"]));
        assert!(arith.unwrap().starts_with("data_end marks"));
        let stale = explain(&log(&[
            "7: (85) call bpf_xdp_adjust_tail#65   ; R0=scalar()",
            "R6 invalid mem access 'scalar'",
        ]));
        assert!(stale
            .unwrap()
            .starts_with("bpf_xdp_adjust_tail() changed the packet"));
        let outside = explain(&log(&[
            "invalid access to packet, off=-1 size=1, R2(id=1,off=-1,r=0)",
            "R2 offset is outside of the packet",
        ]));
        assert!(outside.unwrap().contains("data_end - data"));
        let unbounded = explain(&log(&[
            "math between pkt pointer and register with unbounded min value is not allowed",
        ]));
        assert!(unbounded.unwrap().contains("both ways"));
    }

    #[test]
    fn other_refusals_get_no_packet_hint() {
        // A scalar dereference without a packet-changing helper, and an
        // unrelated refusal: the generic hint stays.
        assert_eq!(explain(&log(&["R1 invalid mem access 'scalar'"])), None);
        assert_eq!(explain(&log(&["R0 !read_ok"])), None);
        assert_eq!(explain(&log(&["invalid func unknown#212"])), None);
    }
}
