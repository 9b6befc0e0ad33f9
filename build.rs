//! Puts the commit into `zdd --version`: `zdd 0.1.0 (b38ebc9 2026-11-30)`, with `-dirty`
//! when tracked files differ from it, or `(unknown commit)` outside a git checkout of zdd
//! itself (a crate tarball, a source archive). Read by `cli.rs` as `ZDD_VERSION`.

use std::path::Path;
use std::process::Command;

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let commit = match git(&manifest_dir, &["rev-parse", "--show-toplevel"]) {
        // A tarball unpacked inside some other repository must not take that one's commit.
        Some(top) if same_dir(&top, &manifest_dir) => {
            watch_git_state(&manifest_dir);
            describe(&manifest_dir)
        }
        _ => None,
    };
    let commit = commit.unwrap_or_else(|| "unknown commit".to_owned());
    println!("cargo:rustc-env=ZDD_VERSION={version} ({commit})");
    println!("cargo:rerun-if-changed=build.rs");
}

/// `b38ebc9 2026-11-30`, or `b38ebc9-dirty 2026-11-30`.
fn describe(dir: &str) -> Option<String> {
    let hash = git(dir, &["rev-parse", "--short", "HEAD"])?;
    let date = git(dir, &["log", "-1", "--format=%cs", "HEAD"])?;
    // Tracked files only: build output and scratch files are not "dirty". Without
    // `--no-optional-locks`, status would rewrite the index under a running git command.
    let dirty = git(
        dir,
        &[
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no",
        ],
    )
    .is_some();
    Some(format!("{hash}{} {date}", if dirty { "-dirty" } else { "" }))
}

/// Rerun when HEAD moves (checkout, commit) or sources change. `--git-path` finds the real
/// files in a worktree too, where `.git` is a file pointing elsewhere. Not the index: `git
/// status` and `git diff` rewrite it, and each rerun recompiles the crate.
fn watch_git_state(dir: &str) {
    let mut paths = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(head_ref) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        paths.push(head_ref);
    }
    for path in paths {
        if let Some(file) = git(dir, &["rev-parse", "--git-path", &path]) {
            let file = Path::new(dir).join(file);
            if file.exists() {
                println!("cargo:rerun-if-changed={}", file.display());
            }
        }
    }
    // An edited source makes the build dirty (and is recompiled anyway).
    for tracked in ["src", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={tracked}");
    }
}

fn git(dir: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).current_dir(dir).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn same_dir(a: &str, b: &str) -> bool {
    match (Path::new(a).canonicalize(), Path::new(b).canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
