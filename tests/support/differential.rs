//! Differential runs, shared by the parity cases (tests/parity.rs) and the compatibility
//! projects (tests/compat.rs): a case is copied into a run directory of its own, its lab
//! placeholders filled, then run by `ansible-playbook` and by `zdd apply` from inside that
//! directory (as a user would, so `ansible.cfg`, `roles/` and `group_vars/` are found there);
//! exit codes, `PLAY RECAP` lines, `included:` lines and each host's ordered trace of
//! effects must agree.
//!
//! Placeholders in every file and argument: `@NET@` the lab's `127.0.X`, `@CONN@` its
//! connection variables (an INI `[all:vars]` body; `@CONN_YAML@` alone on a line: the same as
//! YAML at that indentation; `@CONN_KEY@`: without `ansible_user` and `ansible_port`),
//! `@LAB_USER@`, `@LAB_PORT@`, `@LAB_KEY@` one of them each (for `ansible.cfg`),
//! `@LAB_DIR@` the lab's directory (its `haproxy.sock`),
//! `@LAB_INVENTORY@` the lab's own inventory.
//!
//! Both tools get `-e trace=FILE -e workdir=DIR`: tasks trace their effects with
//! `echo "{{ inventory_hostname }} what" >> {{ trace }}`, and write files under `{{ workdir }}`.

use super::{repo_root, Lab, Zdd};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Cases run this many at a time: both tools mostly wait on SSH and Python start-up.
const WORKERS: usize = 6;

/// One thing to run with both tools.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    /// The directory copied for each run; both tools run from inside the copy.
    pub src: PathBuf,
    /// The playbook, relative to the case directory.
    pub playbook: String,
    /// Arguments for both tools after the playbook (placeholders are filled).
    pub args: Vec<String>,
    /// Arguments for zdd only.
    pub args_zdd: Vec<String>,
    /// The exit code ansible-playbook must give: a check on the case itself, so that a case
    /// broken for both tools alike does not pass as "same".
    pub ansible_exit: Option<i32>,
    /// zdd refuses this input before touching any host; the note says why (see parity.rs).
    pub differs: Option<String>,
    /// Make the run directory writable by everyone (tasks running as the lab's `deploy`
    /// user may write beside the playbook). Ansible then ignores an `ansible.cfg` in it, so
    /// projects that carry one keep their directory private.
    pub world_writable: bool,
}

/// ansible-playbook: `$ANSIBLE_PLAYBOOK`, the venv `scripts/install-ansible` makes, the
/// shared one, then `PATH`.
pub fn ansible_playbook() -> PathBuf {
    if let Ok(p) = std::env::var("ANSIBLE_PLAYBOOK") {
        return PathBuf::from(p);
    }
    let candidates = [
        repo_root().join(".venv-ansible/bin/ansible-playbook"),
        PathBuf::from("/work/venv-ansible/bin/ansible-playbook"),
    ];
    candidates
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("ansible-playbook"))
}

/// The collections `scripts/install-ansible` puts beside ansible-playbook's venv
/// (ansible.posix, community.general), for modules outside ansible-core.
pub fn ansible_collections() -> Option<PathBuf> {
    let bin = ansible_playbook();
    let dir = bin.parent()?.parent()?.join("collections");
    dir.is_dir().then_some(dir)
}

/// Panics with the fix when ansible-playbook does not run.
pub fn assert_ansible_runs() {
    let found = Command::new(ansible_playbook())
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{} does not run: run scripts/install-ansible",
        ansible_playbook().display()
    );
}

/// The directories under `dir` that `is_case` accepts and whose names contain one of the
/// comma-separated words of `$filter_var` (all when it is unset), sorted.
pub fn select(dir: &Path, filter_var: &str, is_case: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let filter = std::env::var(filter_var).ok();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| is_case(p))
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            filter
                .as_deref()
                .is_none_or(|f| f.split(',').any(|f| name.contains(f)))
        })
        .collect();
    cases.sort();
    cases
}

/// The lines of an argument file (one argument a line; blanks and `#` comments skipped).
pub fn arg_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

struct Tool {
    code: i32,
    stdout: String,
    stderr: String,
    trace: BTreeMap<String, Vec<String>>,
    raw_trace: String,
}

/// Copy a case into `dest`, filling the lab placeholders; executable files (inventory
/// scripts) stay executable.
fn copy_case(src: &Path, dest: &Path, lab: &Lab) {
    std::fs::create_dir_all(dest).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let to = dest.join(entry.file_name());
        if path.is_dir() {
            copy_case(&path, &to, lab);
        } else {
            // Binary files (an archive for `unarchive`) are copied as they are.
            match std::fs::read_to_string(&path) {
                Ok(text) => std::fs::write(&to, fill(&text, lab)).unwrap(),
                Err(_) => {
                    std::fs::copy(&path, &to).unwrap();
                }
            }
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            if mode & 0o111 != 0 {
                set_mode(&to, 0o755);
            }
        }
    }
}

pub fn fill(text: &str, lab: &Lab) -> String {
    let lab_inventory = std::fs::read_to_string(lab.inventory()).unwrap();
    let conn: String = lab_inventory
        .split("[all:vars]")
        .nth(1)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("ansible_"))
        .map(|l| format!("{l}\n"))
        .collect();
    // `@CONN_KEY@`: the same without `ansible_user` and `ansible_port`, for cases that
    // reach hosts through `remote_user` and `port`.
    let conn_key: String = conn
        .lines()
        .filter(|l| !l.starts_with("ansible_user=") && !l.starts_with("ansible_port="))
        .map(|l| format!("{l}\n"))
        .collect();
    // `@LAB_USER@`, `@LAB_PORT@`, `@LAB_KEY@`: single connection values, for projects that
    // set them in `ansible.cfg` or group_vars instead of inventory lines.
    let conn_value = |key: &str| {
        conn.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_default()
            .to_owned()
    };
    let text = text
        .replace("@LAB_USER@", &conn_value("ansible_user"))
        .replace("@LAB_PORT@", &conn_value("ansible_port"))
        .replace("@LAB_KEY@", &conn_value("ansible_ssh_private_key_file"))
        .replace("@NET@", lab.net())
        .replace("@CONN_KEY@", &conn_key)
        .replace("@CONN@", &conn)
        .replace("@LAB_INVENTORY@", &lab.inventory().display().to_string())
        .replace("@LAB_DIR@", &lab.dir().display().to_string());
    // `@CONN_YAML@` on a line of its own: the same variables as YAML, at its indentation.
    let filled: String = text
        .lines()
        .map(|line| match line.find("@CONN_YAML@") {
            Some(indent) => conn
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| format!("{}{k}: {v}\n", &line[..indent]))
                .collect::<String>(),
            None => format!("{line}\n"),
        })
        .collect();
    // A file without a final newline keeps it that way (templates are compared byte for byte).
    if text.ends_with('\n') {
        filled
    } else {
        filled.trim_end_matches('\n').to_owned()
    }
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn parse_trace(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut per_host: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (host, rest) = line.split_once(' ').unwrap_or((line, ""));
        per_host
            .entry(host.to_owned())
            .or_default()
            .push(rest.trim().to_owned());
    }
    per_host
}

/// `PLAY RECAP` host lines, trailing blanks trimmed.
fn recap(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("PLAY RECAP"))
        .filter(|l| l.contains(" : ok="))
        .map(|l| l.trim_end().to_owned())
        .collect()
}

/// The `included: FILE for HOSTS` lines, with FILE relative to the tool's run directory
/// and the hosts sorted (Ansible lists them, and the instances, in the order their
/// results came back), sorted.
fn included_lines(stdout: &str, tool: &str) -> Vec<String> {
    let marker = format!("/{tool}/");
    let mut lines: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("included: "))
        .map(|rest| {
            let (file, hosts) = rest.split_once(" for ").unwrap_or((rest, ""));
            let file = file.split_once(&marker).map_or(file, |(_, f)| f);
            let (hosts, item) = hosts.split_once(" => ").unwrap_or((hosts, ""));
            let mut hosts: Vec<&str> = hosts.split(", ").collect();
            hosts.sort();
            format!("{file} for {} {item}", hosts.join(", "))
        })
        .collect();
    lines.sort();
    lines
}

fn run_tool(name: &str, case: &Case, run: &Path, lab: &Lab) -> Tool {
    let dir = run.join(name);
    copy_case(&case.src, &dir, lab);
    set_mode(&dir, if case.world_writable { 0o777 } else { 0o755 });
    let trace = dir.join("trace");
    std::fs::write(&trace, "").unwrap();
    set_mode(&trace, 0o666);
    std::fs::create_dir_all(dir.join("work")).unwrap();
    set_mode(&dir.join("work"), 0o777);
    let mut args: Vec<String> = case.args.iter().map(|a| fill(a, lab)).collect();
    if name == "zdd" {
        args.extend(case.args_zdd.iter().map(|a| fill(a, lab)));
    }
    let extra = [
        format!("trace={}", trace.display()),
        format!("workdir={}", dir.join("work").display()),
    ];
    let (code, stdout, stderr) = if name == "ansible" {
        let home = dir.join(".home");
        std::fs::create_dir_all(home.join(".ansible/tmp")).unwrap();
        let out: Output = Command::new(ansible_playbook())
            .envs([
                ("ANSIBLE_PIPELINING", "1"),
                ("ANSIBLE_NOCOLOR", "1"),
                ("ANSIBLE_FORCE_COLOR", "0"),
                ("ANSIBLE_STDOUT_CALLBACK", "default"),
                ("ANSIBLE_RETRY_FILES_ENABLED", "0"),
                ("ANSIBLE_PYTHON_INTERPRETER", "/usr/bin/python3"),
                ("ANSIBLE_DEPRECATION_WARNINGS", "0"),
            ])
            .env("ANSIBLE_LOCAL_TEMP", home.join(".ansible/tmp"))
            .envs(ansible_collections().map(|c| ("ANSIBLE_COLLECTIONS_PATH", c)))
            .env("HOME", &home)
            .env_remove("ANSIBLE_CONFIG")
            .env_remove("ANSIBLE_ROLES_PATH")
            // Ansible's default (True), unless a case's ansible.cfg says otherwise.
            .env_remove("ANSIBLE_HOST_KEY_CHECKING")
            .current_dir(&dir)
            .arg(&case.playbook)
            .args(&args)
            .args(extra.iter().flat_map(|e| ["-e", e.as_str()]))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {name}: {e}"));
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    } else {
        // Cases share the lab's inventory and run side by side by design (each writes only
        // its own trace and work dir): each gets a rollout lock of its own.
        let out = Zdd::new()
            .apply(&case.playbook)
            .args(&args)
            .extra(&extra[0])
            .extra(&extra[1])
            .current_dir(&dir)
            .env_remove("ANSIBLE_CONFIG")
            .env_remove("ANSIBLE_ROLES_PATH")
            .env_remove("ANSIBLE_HOST_KEY_CHECKING")
            .env("ZDD_LOCK_DIR", dir.join(".locks"))
            // Modules zdd does not have run through the same Ansible as the oracle.
            .env("ZDD_ANSIBLE", ansible_playbook())
            .env(
                "ANSIBLE_COLLECTIONS_PATH",
                ansible_collections().unwrap_or_default(),
            )
            .run();
        (out.code.unwrap_or(-1), out.stdout, out.stderr)
    };
    let raw_trace = std::fs::read_to_string(&trace).unwrap_or_default();
    Tool {
        code,
        stdout,
        stderr,
        trace: parse_trace(&raw_trace),
        raw_trace,
    }
}

fn outputs(tool: &str, t: &Tool) -> String {
    format!(
        "--- {tool}: exit {}\n--- stdout\n{}--- stderr\n{}--- trace\n{}",
        t.code, t.stdout, t.stderr, t.raw_trace
    )
}

/// zdd must refuse the case before touching any host, as its `differs` note says.
fn check_refusal(case: &Case, note: &str, zdd: &Tool) -> Vec<String> {
    let mut problems = Vec::new();
    let want = note
        .lines()
        .find_map(|l| l.strip_prefix("exit: "))
        .map_or(5, |c| c.trim().parse().expect("`exit: N` in zdd-differs"));
    if zdd.code != want {
        problems.push(format!("zdd exit {} (want {want})", zdd.code));
    }
    let file = Path::new(&case.playbook).file_name().unwrap().to_string_lossy();
    if want == 5 && !zdd.stderr.contains(&format!("{file}:")) {
        problems.push(format!("no {file}:LINE location in zdd's stderr"));
    }
    for want in note.lines().filter_map(|l| l.strip_prefix("expect: ")) {
        if !zdd.stderr.contains(want.trim()) {
            problems.push(format!("zdd's stderr lacks `{}`", want.trim()));
        }
    }
    if !zdd.raw_trace.is_empty() {
        problems.push("zdd touched a host (the trace is not empty)".into());
    }
    problems
}

/// What differs between the two runs (empty: they agree).
fn compare(case: &Case, ansible: &Tool, zdd: &Tool) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(want) = case.ansible_exit.filter(|&w| w != ansible.code) {
        problems.push(format!(
            "the case is broken: ansible-playbook exit {} (the case says {want})",
            ansible.code
        ));
    }
    if ansible.code != zdd.code {
        problems.push(format!("exit: ansible {} zdd {}", ansible.code, zdd.code));
    }
    let (ra, rz) = (recap(&ansible.stdout), recap(&zdd.stdout));
    if ra != rz {
        problems.push(format!(
            "recap differs:\n  ansible:\n    {}\n  zdd:\n    {}",
            ra.join("\n    "),
            rz.join("\n    ")
        ));
    }
    if ra.is_empty() && ansible.code != 5 && ansible.code != 4 {
        problems.push("ansible printed no recap".into());
    }
    if ansible.trace != zdd.trace {
        problems.push(format!(
            "trace differs:\n  ansible: {:?}\n  zdd:     {:?}",
            ansible.trace, zdd.trace
        ));
    }
    let (ia, iz) = (
        included_lines(&ansible.stdout, "ansible"),
        included_lines(&zdd.stdout, "zdd"),
    );
    if ia != iz {
        problems.push(format!(
            "`included:` lines differ:\n  ansible: {ia:?}\n  zdd:     {iz:?}"
        ));
    }
    problems
}

/// Run one case; `Err` describes the mismatch. `keep`: keep the run directories and print
/// both outputs.
pub fn check_case(case: &Case, lab: &Lab, keep: bool) -> Result<(), String> {
    let run = tempfile::Builder::new().prefix("zp-").tempdir().unwrap();
    set_mode(run.path(), 0o755);
    let mut shown = Vec::new();
    let problems = match &case.differs {
        Some(note) => {
            let zdd = run_tool("zdd", case, run.path(), lab);
            shown.push(outputs("zdd", &zdd));
            check_refusal(case, note, &zdd)
        }
        None => {
            let ansible = run_tool("ansible", case, run.path(), lab);
            let zdd = run_tool("zdd", case, run.path(), lab);
            shown.push(outputs("ansible", &ansible));
            shown.push(outputs("zdd", &zdd));
            compare(case, &ansible, &zdd)
        }
    };
    if keep {
        eprintln!("== {}\n{}", case.name, shown.join("\n"));
        let kept = run.keep();
        eprintln!("== {}: kept {}", case.name, kept.display());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n{}", problems.join("\n"), shown.join("\n")))
    }
}

/// Run `cases` on one lab of `hosts` web servers, `WORKERS` at a time; panics listing every
/// mismatch. `suite` names the suite in the progress lines (`parity NAME: ok (1.2s)`).
pub fn run_all(suite: &str, cases: Vec<Case>, hosts: usize, keep: bool) {
    assert!(!cases.is_empty(), "no {suite} cases selected");
    assert_ansible_runs();
    let started = Instant::now();
    let lab = Lab::start(hosts);
    let total = cases.len();
    let retry = cases.clone();
    let queue = Arc::new(Mutex::new(cases));
    let failures = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            let queue = queue.clone();
            let failures = failures.clone();
            let lab = &lab;
            s.spawn(move || loop {
                let Some(case) = queue.lock().unwrap().pop() else {
                    break;
                };
                let t = Instant::now();
                let result = check_case(&case, lab, keep);
                eprintln!(
                    "{suite} {}: {} ({:.1}s)",
                    case.name,
                    if result.is_ok() { "ok" } else { "MISMATCH" },
                    t.elapsed().as_secs_f64()
                );
                if let Err(why) = result {
                    eprintln!("{suite} {}: first difference:\n{why}", case.name);
                    failures.lock().unwrap().push((case.name.clone(), why));
                }
            });
        }
    });
    // A case that mismatched while WORKERS cases shared the lab runs once more on its own:
    // the parity runs load the machine (ansible-playbook forks) and a trace written by a
    // background job can then land late. A real difference mismatches again; a case that
    // passes alone is named on stderr with its first run's difference, never hidden.
    let first = std::mem::take(&mut *failures.lock().unwrap());
    let mut failures = Vec::new();
    for (name, why) in first {
        let case = retry.iter().find(|c| c.name == name).expect("a case of this run");
        let t = Instant::now();
        match check_case(case, &lab, keep) {
            Ok(()) => eprintln!(
                "{suite} {name}: ok when run alone ({:.1}s); under load it mismatched:\n{why}",
                t.elapsed().as_secs_f64()
            ),
            Err(again) => {
                eprintln!("{suite} {name}: MISMATCH again when run alone");
                failures.push((name, format!("{why}\n--- run alone:\n{again}")));
            }
        }
    }
    eprintln!(
        "{suite}: {total} cases, {} mismatched, {:.1}s",
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    let names: Vec<&str> = failures.iter().map(|(n, _)| n.as_str()).collect();
    let details: Vec<String> = failures
        .iter()
        .map(|(n, why)| format!("=== case {n}\n{why}"))
        .collect();
    assert!(
        failures.is_empty(),
        "{suite} mismatched: {}\n\n{}",
        names.join(", "),
        details.join("\n\n")
    );
}
