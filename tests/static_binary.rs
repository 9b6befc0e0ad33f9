//! The static binary that CI jobs download (scripts/build-static): the tarball checks out
//! against its sha256, and the binary in it runs `zdd --version` and `zdd check` in an
//! empty chroot (no libc, no ld.so, no /etc, no PATH), and a rolling deploy on the lab.
//!
//! It needs the Rust target x86_64-unknown-linux-musl (`rustup target add
//! x86_64-unknown-linux-musl`, from rustup's server, which scripts/install-deps tries);
//! where it is missing, each test says so and checks nothing. The musl release build it
//! starts costs about 6 minutes of CPU the first time (3 to 4 minutes on 2 idle cores),
//! seconds after that: it runs in CI because the static binary is what users download,
//! and a dependency that pulls in C code or a glibc-only call would break it unseen.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use support::{repo_root, Lab};

const TRIPLE: &str = "x86_64-unknown-linux-musl";
const NAME: &str = "zdd-x86_64-linux-musl";

/// What scripts/build-static made: the dist directory, or None without the musl target.
fn dist() -> Option<&'static Path> {
    static DIST: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIST.get_or_init(|| {
        let sysroot = Command::new("rustc").args(["--print", "sysroot"]).output();
        let sysroot = String::from_utf8(sysroot.expect("rustc --print sysroot").stdout).unwrap();
        if !Path::new(sysroot.trim())
            .join("lib/rustlib")
            .join(TRIPLE)
            .join("lib")
            .is_dir()
        {
            eprintln!(
                "skipped: the Rust target {TRIPLE} is not installed \
                 (rustup target add {TRIPLE}); the static binary was not built"
            );
            return None;
        }
        let out = Command::new(repo_root().join("scripts/build-static"))
            .current_dir(repo_root())
            .output()
            .expect("run scripts/build-static");
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "scripts/build-static failed:\n{log}");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("target"));
        Some(repo_root().join(target).join("dist"))
    })
    .as_deref()
}

/// `zdd --version` of the binary cargo built for the tests, without `-dirty`: a build
/// script reruns when sources change, not when a README does, so two builds of one
/// checkout may disagree on that alone.
fn this_version() -> String {
    support::Zdd::new()
        .arg("--version")
        .run()
        .stdout
        .replace("-dirty", "")
}

/// The tarball unpacked into an otherwise empty directory, with a playbook, its templates
/// and an inventory beside it: the root of a chroot.
fn unpacked_root(dist: &Path) -> tempfile::TempDir {
    let sha = Command::new("sha256sum")
        .args(["-c", &format!("{NAME}.tar.gz.sha256")])
        .current_dir(dist)
        .output()
        .expect("sha256sum");
    assert!(sha.status.success(), "{}", String::from_utf8_lossy(&sha.stdout));

    let root = tempfile::tempdir().unwrap();
    let tar = Command::new("tar")
        .arg("xzf")
        .arg(dist.join(format!("{NAME}.tar.gz")))
        .arg("-C")
        .arg(root.path())
        .status()
        .expect("tar");
    assert!(tar.success());
    let mut listed: Vec<String> = walk(&root.path().join(NAME));
    listed.sort();
    assert_eq!(
        listed,
        [
            "README.md",
            "completions/_zdd",
            "completions/zdd.bash",
            "completions/zdd.fish",
            "zdd",
            "zdd.1"
        ]
    );

    let project = root.path().join("project");
    std::fs::create_dir_all(project.join("templates")).unwrap();
    let repo = repo_root();
    std::fs::copy(repo.join("playbooks/zero-downtime.yml"), project.join("site.yml")).unwrap();
    std::fs::copy(
        repo.join("tests/fixtures/lab-inventory.ini"),
        project.join("inventory.ini"),
    )
    .unwrap();
    for template in std::fs::read_dir(repo.join("templates")).unwrap() {
        let template = template.unwrap().path();
        std::fs::copy(
            &template,
            project.join("templates").join(template.file_name().unwrap()),
        )
        .unwrap();
    }
    root
}

fn walk(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let sub = path.file_name().unwrap().to_string_lossy().into_owned();
            files.extend(walk(&path).into_iter().map(|f| format!("{sub}/{f}")));
        } else {
            files.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    files
}

/// `zdd ARGS` inside the chroot, from its `/`, with an empty environment. Outside root
/// (no chroot), the same binary with an empty environment and no PATH.
fn run_in_root(root: &Path, args: &[&str]) -> (i32, String, String) {
    let bin = format!("/{NAME}/zdd");
    let is_root = unsafe { libc::geteuid() } == 0;
    let mut cmd = if is_root {
        let mut cmd = Command::new("/usr/sbin/chroot");
        // chroot(8) starts its command in the new `/`, where `project/` is.
        cmd.arg(root).arg(&bin);
        cmd
    } else {
        eprintln!("not root: no chroot, only an empty environment");
        let mut cmd = Command::new(root.join(&bin[1..]));
        cmd.current_dir(root);
        cmd
    };
    cmd.args(args).env_clear();
    let out = cmd.output().expect("run the static zdd");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn static_binary_runs_version_and_check_with_nothing_else_installed() {
    let Some(dist) = dist() else { return };
    let root = unpacked_root(dist);
    // Nothing in the root but the unpacked tarball and the project: no /lib, /usr, /etc.
    let mut top: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["project", NAME]);

    let (code, stdout, stderr) = run_in_root(root.path(), &["--version"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.replace("-dirty", ""),
        this_version(),
        "the static binary is built from this checkout"
    );

    let (code, stdout, stderr) = run_in_root(
        root.path(),
        &["check", "project/site.yml", "-i", "project/inventory.ini"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stdout,
        "project/site.yml: ok (2 plays, 11 tasks and handlers, 3 inventory hosts); nothing was contacted\n"
    );

    // Errors are drawn as well without a terminal, a locale or a home directory.
    std::fs::remove_file(root.path().join("project/templates/nginx.conf.j2")).unwrap();
    let (code, _, stderr) = run_in_root(
        root.path(),
        &["check", "project/site.yml", "-i", "project/inventory.ini"],
    );
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.starts_with(
            "error: `template`: template `nginx.conf.j2` not found\n  --> project/site.yml:37:7\n"
        ),
        "{stderr}"
    );
}

/// The same binary drives a real rolling deploy: OpenSSH masters, native mux, sudo,
/// HAProxy's socket, as the glibc build does.
#[test]
fn static_binary_runs_a_rolling_deploy_on_the_lab() {
    let Some(dist) = dist() else { return };
    let root = unpacked_root(dist);
    let lab = Lab::start(2);
    let out = lab
        .zdd()
        .binary(root.path().join(NAME).join("zdd"))
        .apply("examples/lab/zero-downtime.yml")
        .extra("version=2")
        .run();
    out.assert_code(0);
    for host in lab.hosts() {
        assert_eq!(lab.version(&host), "2", "{host} was not upgraded\n{out}");
        assert_eq!(out.recap_of(&host).failed, 0);
    }
}

/// The install steps of examples/ci, run as their CI would run them, with the release URL
/// pointing at this build's tarball: each leaves this checkout's zdd where the job's later
/// steps call it.
#[test]
fn ci_examples_install_the_static_binary_they_download() {
    use yaml_rust2::{Yaml, YamlLoader};
    let Some(dist) = dist() else { return };
    let url = format!("file://{}", dist.display());
    let want = this_version();
    let examples = repo_root().join("examples/ci");
    let load = |file: &str| {
        let text = std::fs::read_to_string(examples.join(file)).unwrap();
        YamlLoader::load_from_str(&text).unwrap().remove(0)
    };
    let run = |shell: &[&str], script: &str, env: &[(&str, &Path)]| {
        let mut cmd = Command::new(shell[0]);
        cmd.args(&shell[1..]).arg(script).env("ZDD_RELEASE_URL", &url);
        for (key, value) in env {
            cmd.env(key, value);
        }
        let out = cmd.output().expect("run the install step");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{script}\n{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };

    // GitHub Actions: `run:` is `bash --noprofile --norc -eo pipefail {0}`.
    let github = load("github-actions.yml");
    let steps = github["jobs"]["deploy"]["steps"].as_vec().unwrap();
    let install = steps
        .iter()
        .find(|s| s["name"].as_str() == Some("Install zdd"))
        .expect("a step `Install zdd`");
    let temp = tempfile::tempdir().unwrap();
    let github_path = temp.path().join("github_path");
    let stdout = run(
        &["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"],
        install["run"].as_str().unwrap(),
        &[("RUNNER_TEMP", temp.path()), ("GITHUB_PATH", &github_path)],
    )
    .replace("-dirty", "");
    assert_eq!(stdout.lines().last(), want.lines().last());
    let added = std::fs::read_to_string(&github_path).unwrap();
    let zdd = Path::new(added.trim()).join("zdd");
    let version = Command::new(&zdd).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).replace("-dirty", ""),
        want
    );

    // GitLab CI: the `.install-zdd` lines, in the job's one shell (sh), then the job's own.
    let gitlab = load("gitlab-ci.yml");
    let lines: Vec<&str> = gitlab[".install-zdd"]
        .as_vec()
        .expect(".install-zdd")
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    for job in ["check", "deploy"] {
        let before = gitlab[job]["before_script"].as_vec().unwrap();
        assert!(
            before
                .iter()
                .any(|l| matches!(l, Yaml::Array(a) if a.len() == lines.len())),
            "{job} installs zdd"
        );
    }
    let temp = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let script = format!("set -e\n{}\nzdd --version", lines.join("\n"));
    let stdout = run(
        &["sh", "-c"],
        &script,
        &[("ZDD_DIR", temp.path()), ("CI_PROJECT_DIR", project.path())],
    )
    .replace("-dirty", "");
    assert!(
        stdout.ends_with(&format!(": OK\n{want}{want}")),
        "sha256sum's OK, then zdd --version from the step and from the job: {stdout}"
    );

    // Jenkins: the same names, called by the path the install stage unpacks to.
    let jenkins = std::fs::read_to_string(examples.join("Jenkinsfile")).unwrap();
    for name in [
        "\"$ZDD_RELEASE_URL/zdd-x86_64-linux-musl.tar.gz\"",
        "sha256sum -c zdd-x86_64-linux-musl.tar.gz.sha256",
        "sh '.zdd-bin/zdd-x86_64-linux-musl/zdd check ",
        "'''.zdd-bin/zdd-x86_64-linux-musl/zdd apply ",
    ] {
        assert!(jenkins.contains(name), "Jenkinsfile: no {name}");
    }
}
