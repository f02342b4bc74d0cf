//! Numeric options on the real binary: the inputs that once panicked (exit
//! 101) are refused as usage errors (exit 2) naming the option. The property
//! over every numeric flag and many adversarial inputs is the unit test
//! `numbers::every_flag` (it walks clap's definition, so it needs no binary).

mod common;

use common::*;

#[test]
fn huge_and_non_finite_intervals_are_usage_errors() {
    let cases: [&[&str]; 7] = [
        &["stats", "lo", "-i", "1e30"],
        &["monitor", "-i", "1e30"],
        &["monitor", "-i", "NaN"],
        &["stats", "lo", "-i", "inf"],
        &["stats", "lo", "--interval=-1"],
        &["monitor", "-c", "0"],
        &["bench", "live", "--seconds", "1e30"],
    ];
    for args in cases {
        // clap's own usage error ("error: invalid value ..."), exit 2.
        let run = loader(args);
        assert_eq!(run.code, 2, "{args:?}: {run:#?}");
        assert!(!run.stderr.contains("panicked"), "{args:?}: {run:#?}");
        assert!(
            run.stderr.contains("--interval")
                || run.stderr.contains("--count")
                || run.stderr.contains("--seconds"),
            "{args:?}: {run:#?}"
        );
    }
}
