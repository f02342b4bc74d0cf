//! `xdp-loader`: parse the command line, run it, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use xdp_tutorial::cli::Cli;
use xdp_tutorial::error::{Exit, Failure};
use xdp_tutorial::{libbpf_log, run};

fn main() -> ExitCode {
    // A closed stdout (`xdp-loader map dump M | head -1`) ends the process
    // quietly, as it does C tools, instead of a panic in println!. Every
    // change to the system is complete before its lines are printed.
    // SAFETY: setting a signal's disposition has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // clap exits with 2 on usage errors, like the C tutorial's EXIT_FAIL_OPTION.
    let cli = Cli::parse();
    libbpf_log::init(cli.verbose);
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => match err.downcast_ref::<Failure>() {
            Some(failure) => {
                failure.report();
                ExitCode::from(failure.exit as u8)
            }
            None => {
                eprintln!("Error: {err:#}");
                ExitCode::from(Exit::Fail as u8)
            }
        },
    }
}
