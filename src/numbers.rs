//! Parsers for the command line's numeric options, one per kind, so every
//! flag of a kind accepts and refuses the same inputs. clap reports a refusal
//! as a usage error (exit 2) with the reason given here.

use std::time::Duration;

/// Shortest time option: below a millisecond a sampling loop only spins.
pub const MIN_SECONDS: f64 = 0.001;
/// Longest time option: one day. Longer waits are a typo (`-i 1e30` once
/// panicked converting to a Duration).
pub const MAX_SECONDS: f64 = 86_400.0;

/// Seconds as a decimal number: finite, from 0.001 to 86400.
pub fn seconds(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds (e.g. 2 or 0.5)"))?;
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&value) {
        return Err(format!(
            "{text} seconds is out of range: give {MIN_SECONDS} to {MAX_SECONDS} (one day)"
        ));
    }
    Ok(value)
}

/// `seconds`, as a Duration (for sampling intervals).
pub fn duration(text: &str) -> Result<Duration, String> {
    seconds(text).map(Duration::from_secs_f64)
}

/// A number of things to wait for (samples, packets, lines): a whole number,
/// at least 1.
pub fn count(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("a count of 0 would stop at once: give 1 or more".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "'{text}' is not a whole number from 1 to {}",
            u64::MAX
        )),
    }
}

#[cfg(test)]
pub mod adversarial {
    //! Inputs that have broken number parsers somewhere: the deterministic
    //! stand-in for a property-test generator.

    /// Strings around every bound a numeric flag has, and the usual traps.
    pub fn inputs() -> Vec<String> {
        let mut all: Vec<String> = [
            "",
            " ",
            "-",
            "+",
            ".",
            "e",
            "--",
            "\0",
            "1 2",
            "0",
            "-0",
            "+1",
            "-1",
            "1.5",
            "-1.5",
            "0.0",
            "1e30",
            "-1e30",
            "1e309",
            "1e-300",
            "1e-3",
            "0.000999",
            "86400",
            "86400.001",
            "NaN",
            "nan",
            "-nan",
            "inf",
            "-inf",
            "infinity",
            "Infinity",
            "0x10",
            "0b1",
            "0o7",
            "1_000",
            "1,5",
            "١",
            "３",
            "ⅻ",
            "💥",
            "13",
            "14",
            "15",
            "65535",
            "65536",
            "64",
            "512",
            "1500",
            "1501",
            "2147483647",
            "2147483648",
            "4294967295",
            "4294967296",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "-18446744073709551616",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        all.push("9".repeat(400));
        all.push("1".repeat(100_000));
        all.push(format!("0.{}1", "0".repeat(400)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_accepts_only_finite_in_range() {
        assert_eq!(seconds("2"), Ok(2.0));
        assert_eq!(seconds("0.5"), Ok(0.5));
        assert_eq!(seconds("86400"), Ok(86_400.0));
        for bad in [
            "1e30", "inf", "NaN", "-1", "0", "0.0001", "86400.5", "", "x", "1e309",
        ] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        for text in adversarial::inputs() {
            if let Ok(value) = seconds(&text) {
                assert!((MIN_SECONDS..=MAX_SECONDS).contains(&value), "{text}");
                // Converting must not panic (it did for 1e30).
                let _ = Duration::from_secs_f64(value);
            }
        }
    }

    #[test]
    fn count_is_at_least_one() {
        assert_eq!(count("1"), Ok(1));
        assert_eq!(count("18446744073709551615"), Ok(u64::MAX));
        for bad in ["0", "-1", "18446744073709551616", "1.5", "", "0x10"] {
            assert!(count(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod every_flag {
    //! Every numeric option of every subcommand, found by walking clap's
    //! definition (a new flag is covered without editing this test), fed every
    //! adversarial input: clap must refuse it with exit 2 or accept a value
    //! inside the documented bounds; never panic.

    use std::any::TypeId;
    use std::time::Duration;

    use clap::{Arg, Command, CommandFactory, Parser};

    use super::adversarial;
    use crate::cli::Cli;

    fn numeric(arg: &Arg) -> bool {
        let id = arg.get_value_parser().type_id();
        [
            TypeId::of::<u16>(),
            TypeId::of::<u32>(),
            TypeId::of::<u64>(),
            TypeId::of::<usize>(),
            TypeId::of::<i64>(),
            TypeId::of::<f64>(),
            TypeId::of::<Duration>(),
        ]
        .into_iter()
        .any(|t| id == t)
    }

    /// (subcommand path, long flag) of every numeric option.
    fn numeric_flags(cmd: &Command, path: Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
        for arg in cmd.get_arguments() {
            if let Some(long) = arg.get_long().filter(|_| numeric(arg)) {
                out.push((path.clone(), long.to_string()));
            }
        }
        for sub in cmd.get_subcommands() {
            let mut deeper = path.clone();
            deeper.push(sub.get_name().to_string());
            numeric_flags(sub, deeper, out);
        }
    }

    /// Arguments a subcommand needs besides the flag under test.
    fn required_rest(path: &[String]) -> Vec<&'static str> {
        match path.join(" ").as_str() {
            "stats" | "capture" | "unload" | "afxdp" => vec!["eth0"],
            "bench" => vec!["xdp_pass_func"],
            "bench reader" => vec!["/sys/fs/bpf/pin"],
            "map dump" | "map lookup" | "map delete" => vec!["eth0:m", "0"],
            _ => vec![],
        }
    }

    fn is_time(path: &[String], long: &str) -> bool {
        let mut cmd = Cli::command();
        for name in path {
            cmd = cmd.find_subcommand(name).unwrap().clone();
        }
        let arg = cmd.get_arguments().find(|a| a.get_long() == Some(long));
        let id = arg.unwrap().get_value_parser().type_id();
        id == TypeId::of::<f64>() || id == TypeId::of::<Duration>()
    }

    #[test]
    fn no_input_panics_any_numeric_flag() {
        let mut flags = Vec::new();
        numeric_flags(&Cli::command(), Vec::new(), &mut flags);
        assert!(flags.len() >= 10, "found only {flags:?}");
        eprintln!("numeric flags: {flags:?}");
        for (path, long) in &flags {
            let mut base: Vec<String> = vec!["xdp-loader".into()];
            base.extend(path.iter().cloned());
            base.extend(required_rest(path).into_iter().map(String::from));
            for input in adversarial::inputs() {
                let mut argv = base.clone();
                argv.push(format!("--{long}={input}"));
                let parsed = std::panic::catch_unwind(|| Cli::try_parse_from(&argv).map(|_| ()));
                match parsed {
                    Err(_) => panic!("{argv:?} panicked"),
                    Ok(Ok(())) => {
                        // A time flag accepted it: then the shared parser
                        // does (a plain f64 took 1e30 and panicked later).
                        if is_time(path, long) {
                            assert!(super::seconds(&input).is_ok(), "{argv:?} accepted");
                        }
                    }
                    Ok(Err(err)) => {
                        assert_eq!(err.exit_code(), 2, "{argv:?}: {err}");
                        assert!(
                            !matches!(
                                err.kind(),
                                clap::error::ErrorKind::MissingRequiredArgument
                                    | clap::error::ErrorKind::UnknownArgument
                                    | clap::error::ErrorKind::InvalidSubcommand
                            ),
                            "{argv:?} did not reach the value check: {err}"
                        );
                    }
                }
            }
        }
    }
}
