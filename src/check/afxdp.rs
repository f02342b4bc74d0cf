//! `check advanced03 [FILE.o]`: the AF_XDP lesson. Its kernel-side
//! assignment (2, every other packet to the socket) is graded by
//! `afxdp::check::every_other` with a real socket; assignment 1 is seen by
//! running `xdp-loader afxdp`, and assignment 3 is user space (`make
//! check-user` in the lesson folder). Those two are named, not counted.

use crate::afxdp::check::every_other;
use crate::builtin;
use crate::object::Source;

use super::{finish, print_line, Outcome};

pub const NAME: &str = "advanced03";
const TITLES: [&str; 3] = [
    "packets consumed in user space: xdp-loader afxdp IF af_xdp_kern.bpf.o counts them (RX)",
    "af_xdp_kern.bpf.c sends every other packet of a queue to the socket, the rest to the stack, and passes all when no socket is bound",
    "process_packet.rs answers ICMPv6 echo requests in place (addresses swapped, type 129, checksum updated) and leaves other frames alone",
];
const ELSEWHERE: [(usize, &str); 2] = [
    (1, "run `xdp-loader afxdp IF FILE.o` and watch its RX count"),
    (
        3,
        "user space: `make check-user` in lessons/advanced03-afxdp",
    ),
];

pub fn run(file: Option<&std::path::Path>, json: bool) -> anyhow::Result<()> {
    let source = match file {
        Some(path) => Source::File(path.to_path_buf()),
        None => Source::Builtin(builtin::find("xdp_afxdp").expect("the AF_XDP built-in exists")),
    };
    let prog = file.is_none().then_some("xdp_sock_prog");
    // Ctrl-C waits until the check's namespace is gone.
    let deferred = crate::signals::defer_termination();
    let result = match every_other(&source, prog) {
        Err(failure) => Err(failure.message),
        Ok(findings) => {
            let failed: Vec<String> = findings
                .iter()
                .filter(|f| !f.passed)
                .map(|f| format!("{}: {}", f.what, f.detail))
                .collect();
            match failed.is_empty() {
                true => Ok(()),
                false => Err(failed.join("; ")),
            }
        }
    };
    drop(deferred);
    if !json {
        let elsewhere = |(number, how): (usize, &str)| {
            println!(
                "assignment {number}: {}: not graded by check: {how}",
                TITLES[number - 1]
            )
        };
        elsewhere(ELSEWHERE[0]);
        print_line(2, TITLES[1], &result);
        elsewhere(ELSEWHERE[1]);
    }
    let outcomes = vec![Outcome {
        number: 2,
        title: TITLES[1],
        result,
    }];
    finish(NAME, &source.name(), outcomes, json)
}
