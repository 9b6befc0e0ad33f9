//! Getting zdd: `--version` names the commit, `zdd completions SHELL` and `zdd man` print
//! what packagers install. The static binary itself is tests/static_binary.rs.

mod support;

use std::path::Path;
use std::process::Command;
use support::{repo_root, Zdd};

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(repo_root())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// Whether these sources are a git checkout of zdd (not a tarball, nor inside another repo).
fn in_checkout() -> bool {
    git(&["rev-parse", "--show-toplevel"])
        .is_some_and(|top| Path::new(&top).canonicalize().ok() == repo_root().canonicalize().ok())
}

/// Built in a checkout: `zdd 0.1.0 (b38ebc9 2026-11-30)` (`b38ebc9-dirty` with uncommitted
/// changes); built from sources without git (a crate tarball): `(unknown commit)`.
#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = Zdd::new().arg("--version").run();
    out.assert_code(0);
    let version = env!("CARGO_PKG_VERSION");
    if !in_checkout() {
        assert_eq!(out.stdout, format!("zdd {version} (unknown commit)\n"));
        return;
    }
    let hash = git(&["rev-parse", "--short", "HEAD"]).expect("git rev-parse");
    let date = git(&["log", "-1", "--format=%cs", "HEAD"]).expect("git log");
    let clean = format!("zdd {version} ({hash} {date})\n");
    let dirty = format!("zdd {version} ({hash}-dirty {date})\n");
    assert!(
        out.stdout == clean || out.stdout == dirty,
        "want {clean:?} (or -dirty), got {:?}",
        out.stdout
    );
}

/// build.rs itself, compiled and run as cargo would, where no git checkout of zdd holds the
/// sources: an unpacked crate tarball, alone or inside some other repository (whose commit
/// is not zdd's).
#[test]
fn build_script_says_unknown_commit_outside_a_checkout_of_zdd() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("build-script");
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args(["--edition", "2021", "-o"])
        .arg(&script)
        .arg(repo_root().join("build.rs"))
        .output()
        .expect("rustc");
    assert!(
        rustc.status.success(),
        "{}",
        String::from_utf8_lossy(&rustc.stderr)
    );

    let plain = dir.path().join("zdd-0.1.0");
    let other_repo = dir.path().join("other");
    let nested = other_repo.join("vendor/zdd-0.1.0");
    std::fs::create_dir_all(&plain).unwrap();
    std::fs::create_dir_all(&nested).unwrap();
    let init = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t", "init", "-q"])
        .current_dir(&other_repo)
        .status()
        .unwrap();
    let commit = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ])
        .current_dir(&other_repo)
        .status()
        .unwrap();
    assert!(init.success() && commit.success());

    let version_line = |manifest_dir: &Path| {
        let out = Command::new(&script)
            .env("CARGO_MANIFEST_DIR", manifest_dir)
            .env("CARGO_PKG_VERSION", "0.1.0")
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("cargo:rustc-env=ZDD_VERSION=").map(str::to_owned))
            .expect("ZDD_VERSION")
    };
    assert_eq!(version_line(&plain), "0.1.0 (unknown commit)");
    assert_eq!(version_line(&nested), "0.1.0 (unknown commit)");
    if in_checkout() {
        let hash = git(&["rev-parse", "--short", "HEAD"]).expect("git rev-parse");
        assert!(version_line(repo_root()).starts_with(&format!("0.1.0 ({hash}")));
    }
}

/// The bash script, sourced in a plain bash, registers `zdd` and completes subcommands,
/// flags and their values.
#[test]
fn bash_completion_registers_zdd_and_completes_commands_and_flags() {
    let out = Zdd::new().args(["completions", "bash"]).run();
    out.assert_code(0);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("zdd.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    // `_zdd CMD CUR PREV` is how bash calls a completion function.
    let complete = |words: &str, cword: usize, cur: &str, prev: &str| {
        format!(
            "COMP_WORDS=({words}); COMP_CWORD={cword}; _zdd zdd '{cur}' '{prev}'; echo \"${{COMPREPLY[*]}}\""
        )
    };
    let program = [
        format!("source {} || exit 9", script.display()),
        "complete -p zdd".to_owned(),
        complete("zdd ap", 1, "ap", "zdd"),
        complete("zdd apply --inv", 2, "--inv", "apply"),
        complete("zdd completions ''", 2, "", "completions"),
    ]
    .join("\n");
    let bash = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&bash.stdout);
    let stderr = String::from_utf8_lossy(&bash.stderr);
    assert!(bash.status.success() && stderr.is_empty(), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "complete -o bashdefault -o default -o nosort -F _zdd zdd",
            "apply",
            "--inventory",
            "-h --help bash elvish fish powershell zsh",
        ]
    );
}

/// zsh and fish scripts: checked by the shell itself where it is installed, by their
/// first lines anywhere.
#[test]
fn zsh_and_fish_completions_are_scripts_of_their_shell() {
    for (shell, marker, syntax_check) in [
        ("zsh", "#compdef zdd", &["-n"][..]),
        ("fish", "complete -c zdd ", &["--no-execute"]),
    ] {
        let out = Zdd::new().args(["completions", shell]).run();
        out.assert_code(0);
        assert!(out.stdout.contains(marker), "{shell}: {}", out.stdout);
        assert!(out.stdout.contains("apply") && out.stdout.contains("inventory"));
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("zdd");
        std::fs::write(&script, &out.stdout).unwrap();
        match Command::new(shell).args(syntax_check).arg(&script).output() {
            Ok(check) => assert!(
                check.status.success(),
                "{shell}: {}",
                String::from_utf8_lossy(&check.stderr)
            ),
            Err(_) => eprintln!("{shell} is not installed: its syntax check is skipped"),
        }
    }
    Zdd::new().args(["completions", "tcsh"]).run().assert_code(5);
}

/// One page, zdd(1): a section per subcommand with all its flags, examples, exit status.
#[test]
fn man_page_has_a_section_per_subcommand_and_renders() {
    use clap::CommandFactory;
    let out = Zdd::new().arg("man").run();
    out.assert_code(0);
    let page = &out.stdout;
    assert!(page.contains("\n.TH ZDD 1 "), "{page}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH EXAMPLES", ".SH \"EXIT STATUS\""] {
        assert!(page.contains(&format!("\n{section}\n")), "no {section}");
    }
    let cli = zdd::cli::Cli::command();
    let subcommands: Vec<_> = cli.get_subcommands().collect();
    assert!(subcommands.len() >= 6, "apply check plan status completions man");
    for sub in subcommands {
        let heading = format!("\n.SH \"ZDD {}\"\n", sub.get_name().to_uppercase());
        assert!(page.contains(&heading), "no section {heading:?}");
        for long in sub.get_arguments().filter_map(|a| a.get_long()) {
            let flag = format!("\\-\\-{}", long.replace('-', "\\-"));
            assert!(page.contains(&flag), "zdd {}: no {flag}", sub.get_name());
        }
    }
    for code in [0, 1, 2, 4, 5, 130] {
        assert!(page.contains(&format!(".TP\n\\fB{code}\\fR\n")), "exit {code}");
    }

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("zdd.1");
    std::fs::write(&file, page).unwrap();
    // -ww: every warning; -z: no output. A malformed request would be on stderr.
    match Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(&file)
        .output()
    {
        Ok(groff) => assert!(
            groff.status.success() && groff.stderr.is_empty(),
            "groff: {}",
            String::from_utf8_lossy(&groff.stderr)
        ),
        Err(_) => eprintln!("groff is not installed: the man page is not rendered"),
    }
    match Command::new("man")
        .arg("-l")
        .arg(&file)
        .env("MANWIDTH", "100")
        .output()
    {
        Ok(man) if man.status.success() => {
            let text = String::from_utf8_lossy(&man.stdout);
            for shown in ["ZDD(1)", "ZDD APPLY", "-i, --inventory <", "EXIT STATUS"] {
                assert!(text.contains(shown), "man -l shows no {shown:?}:\n{text}");
            }
        }
        Ok(man) => panic!("man -l: {}", String::from_utf8_lossy(&man.stderr)),
        Err(_) => eprintln!("man is not installed: the man page is not rendered"),
    }
}
