//! The command line itself: usage errors are invalid input (exit 5), help is not an error.

use std::process::Command;

fn zdd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_zdd"))
        .args(args)
        .output()
        .expect("run zdd")
}

#[test]
fn usage_errors_exit_5_the_code_of_invalid_input() {
    for args in [
        &["apply", "site.yml", "--no-such-flag"][..],
        &["no-such-command"],
        &["apply"],
        &["apply", "site.yml", "--forks", "many"],
    ] {
        let out = zdd(args);
        assert_eq!(
            out.status.code(),
            Some(5),
            "zdd {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("error: "),
            "zdd {args:?}"
        );
    }
}

#[test]
fn help_and_version_exit_0() {
    for args in [&["--help"][..], &["apply", "--help"], &["--version"]] {
        let out = zdd(args);
        assert_eq!(out.status.code(), Some(0), "zdd {args:?}");
        assert!(!out.stdout.is_empty(), "zdd {args:?} prints on stdout");
    }
}
