//! The generated skeletons are usable as a typed API: load each lesson
//! object through its skeleton and run every program once on a test frame
//! with BPF_PROG_TEST_RUN, checking the verdict the lesson promises.

mod common;

use std::mem::MaybeUninit;

use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{ProgramInput, ProgramMut};
use xdp_tutorial::builtin::skel::{xdp_pass, xdp_prog};

const XDP_ABORTED: u32 = 0;
const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;

/// A minimal Ethernet frame (dst, src, IPv6 ethertype, some payload).
fn frame() -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x86, 0xdd];
    f.resize(64, 0);
    f
}

fn verdict(prog: &ProgramMut) -> u32 {
    let data = frame();
    let input = ProgramInput {
        data_in: Some(&data),
        ..Default::default()
    };
    prog.test_run(input)
        .expect("BPF_PROG_TEST_RUN")
        .return_value
}

#[test]
fn lesson_programs_return_their_verdicts() {
    if !common::privileged() {
        return;
    }
    let mut storage = MaybeUninit::uninit();
    let skel = xdp_pass::XdpPassSkelBuilder::default()
        .open(&mut storage)
        .and_then(|open| open.load())
        .expect("load xdp_pass skeleton");
    assert_eq!(verdict(&skel.progs.xdp_prog_simple), XDP_PASS);

    let mut storage = MaybeUninit::uninit();
    let skel = xdp_prog::XdpProgSkelBuilder::default()
        .open(&mut storage)
        .and_then(|open| open.load())
        .expect("load xdp_prog skeleton");
    assert_eq!(verdict(&skel.progs.xdp_pass_func), XDP_PASS);
    assert_eq!(verdict(&skel.progs.xdp_drop_func), XDP_DROP);
    assert_eq!(verdict(&skel.progs.xdp_abort_func), XDP_ABORTED);
}
