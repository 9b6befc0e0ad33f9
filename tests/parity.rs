//! Differential tests: every case under tests/parity/cases/ runs with `ansible-playbook`
//! and with zdd against the same lab hosts; exit codes, `PLAY RECAP` lines and each host's
//! ordered trace of effects must agree.
//!
//! A case is a directory with `playbook.yml` and optionally:
//! - `inventory.ini` (else the lab's own): `@NET@` becomes the lab's `127.0.X`, `@CONN@`
//!   the lab's connection variables (a `[all:vars]` body; `@CONN_YAML@` alone on a line:
//!   the same as YAML at that indentation; `@CONN_KEY@`: without `ansible_user` and
//!   `ansible_port`); `inventory.yml` works the same way;
//! - `args`: extra command-line arguments, one per line (`args-zdd`: for zdd only);
//! - any other files the playbook reads (`vars.yml`, `group_vars/`, ...);
//! - `zdd-differs`: zdd deliberately refuses this input before touching any host (the file
//!   says why); the case then asserts exit 5, a `playbook.yml:LINE` location on stderr, and
//!   an empty trace, and does not run Ansible. A line `expect: TEXT` in it must appear in
//!   zdd's stderr; a line `exit: N` expects another exit code (4: zdd connects to every
//!   host before the first task, and stops there if one is unreachable).
//!
//! Tasks trace their effects with `echo "{{ inventory_hostname }} what" >> {{ trace }}`;
//! `{{ workdir }}` is a writable directory of the run's own.
//!
//! `PARITY_CASE=a,b` runs only the cases whose names contain `a` or `b`; `PARITY_KEEP=1`
//! keeps the run directories and prints both outputs.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use support::{repo_root, Lab, Zdd};

/// Cases run this many at a time: both tools mostly wait on SSH and Python start-up.
const WORKERS: usize = 6;

/// ansible-playbook: `$ANSIBLE_PLAYBOOK`, the venv `scripts/install-ansible` makes, the
/// shared one, then `PATH`.
fn ansible_playbook() -> PathBuf {
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

fn cases_dir() -> PathBuf {
    repo_root().join("tests/parity/cases")
}

struct Tool {
    code: i32,
    stdout: String,
    stderr: String,
    trace: BTreeMap<String, Vec<String>>,
    raw_trace: String,
}

/// Copy a case into `dest`, filling the inventory placeholders.
fn copy_case(src: &Path, dest: &Path, lab: &Lab) {
    std::fs::create_dir_all(dest).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let to = dest.join(entry.file_name());
        if path.is_dir() {
            copy_case(&path, &to, lab);
        } else {
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&to, fill(&text, lab)).unwrap();
        }
    }
}

fn fill(text: &str, lab: &Lab) -> String {
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
    let text = text
        .replace("@NET@", lab.net())
        .replace("@CONN_KEY@", &conn_key)
        .replace("@CONN@", &conn);
    // `@CONN_YAML@` on a line of its own: the same variables as YAML, at its indentation.
    text.lines()
        .map(|line| match line.find("@CONN_YAML@") {
            Some(indent) => conn
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| format!("{}{k}: {v}\n", &line[..indent]))
                .collect::<String>(),
            None => format!("{line}\n"),
        })
        .collect()
}

fn world_writable(path: &Path, dir: bool) {
    if dir {
        std::fs::create_dir_all(path).unwrap();
    } else {
        std::fs::write(path, "").unwrap();
    }
    let mode = if dir { 0o777 } else { 0o666 };
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

fn run_tool(name: &str, case: &Path, run: &Path, lab: &Lab) -> Tool {
    let dir = run.join(name);
    copy_case(case, &dir, lab);
    world_writable(&dir, true);
    let trace = dir.join("trace");
    world_writable(&trace, false);
    world_writable(&dir.join("work"), true);
    let inventory = if dir.join("inventory.ini").exists() {
        dir.join("inventory.ini")
    } else if dir.join("inventory.yml").exists() {
        dir.join("inventory.yml")
    } else {
        lab.inventory()
    };
    let args_file = |name: &str| -> Vec<String> {
        std::fs::read_to_string(dir.join(name))
            .map(|t| {
                t.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(|l| fill(l, lab).trim().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut args = args_file("args");
    if name == "zdd" {
        args.extend(args_file("args-zdd"));
    }
    let playbook = dir.join("playbook.yml");
    let extra = [
        format!("trace={}", trace.display()),
        format!("workdir={}", dir.join("work").display()),
    ];
    let (code, stdout, stderr) = if name == "ansible" {
        let home = dir.join("home");
        std::fs::create_dir_all(home.join(".ansible/tmp")).unwrap();
        let out: Output = Command::new(ansible_playbook())
            .envs([
                ("ANSIBLE_PIPELINING", "1"),
                ("ANSIBLE_HOST_KEY_CHECKING", "True"),
                ("ANSIBLE_NOCOLOR", "1"),
                ("ANSIBLE_FORCE_COLOR", "0"),
                ("ANSIBLE_STDOUT_CALLBACK", "default"),
                ("ANSIBLE_RETRY_FILES_ENABLED", "0"),
                ("ANSIBLE_PYTHON_INTERPRETER", "/usr/bin/python3"),
                ("ANSIBLE_DEPRECATION_WARNINGS", "0"),
            ])
            .env("ANSIBLE_LOCAL_TEMP", home.join(".ansible/tmp"))
            .env("HOME", &home)
            .env_remove("ANSIBLE_CONFIG")
            .current_dir(&dir)
            .arg(&playbook)
            .arg("-i")
            .arg(&inventory)
            .args(extra.iter().flat_map(|e| ["-e", e.as_str()]))
            .args(&args)
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
            .apply(&playbook)
            .inventory(&inventory)
            .extra(&extra[0])
            .extra(&extra[1])
            .args(&args)
            .current_dir(&dir)
            .env("ZDD_LOCK_DIR", dir.join("locks"))
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

/// Run one case; `Err` describes the mismatch.
fn check_case(case: &Path, lab: &Lab) -> Result<(), String> {
    let name = case.file_name().unwrap().to_string_lossy().into_owned();
    let run = tempfile::Builder::new().prefix("zp-").tempdir().unwrap();
    std::fs::set_permissions(run.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let keep = std::env::var_os("PARITY_KEEP").is_some();
    let differs = case.join("zdd-differs");
    let result = if differs.exists() {
        let zdd = run_tool("zdd", case, run.path(), lab);
        let note = std::fs::read_to_string(&differs).unwrap();
        let mut problems = Vec::new();
        let want = note
            .lines()
            .find_map(|l| l.strip_prefix("exit: "))
            .map_or(5, |c| c.trim().parse().expect("`exit: N` in zdd-differs"));
        if zdd.code != want {
            problems.push(format!("zdd exit {} (want {want})", zdd.code));
        }
        if want == 5 && !zdd.stderr.contains("playbook.yml:") {
            problems.push("no playbook.yml:LINE location in zdd's stderr".into());
        }
        for want in note.lines().filter_map(|l| l.strip_prefix("expect: ")) {
            if !zdd.stderr.contains(want.trim()) {
                problems.push(format!("zdd's stderr lacks `{}`", want.trim()));
            }
        }
        if !zdd.raw_trace.is_empty() {
            problems.push("zdd touched a host (the trace is not empty)".into());
        }
        if keep {
            eprintln!("== {name}\n{}", outputs("zdd", &zdd));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("{}\n{}", problems.join("\n"), outputs("zdd", &zdd)))
        }
    } else {
        let ansible = run_tool("ansible", case, run.path(), lab);
        let zdd = run_tool("zdd", case, run.path(), lab);
        let mut problems = Vec::new();
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
        if keep {
            eprintln!(
                "== {name}\n{}\n{}",
                outputs("ansible", &ansible),
                outputs("zdd", &zdd)
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{}\n{}\n{}",
                problems.join("\n"),
                outputs("ansible", &ansible),
                outputs("zdd", &zdd)
            ))
        }
    };
    if keep {
        let kept = run.keep();
        eprintln!("== {name}: kept {}", kept.display());
    }
    result
}

#[test]
fn parity_with_ansible_playbook() {
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
    let filter = std::env::var("PARITY_CASE").ok();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("playbook.yml").exists())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            filter
                .as_deref()
                .is_none_or(|f| f.split(',').any(|f| name.contains(f)))
        })
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no parity cases found");
    let started = Instant::now();
    let lab = Lab::start(4);
    let queue = Arc::new(Mutex::new(cases.clone()));
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
                let name = case.file_name().unwrap().to_string_lossy().into_owned();
                let t = Instant::now();
                let result = check_case(&case, lab);
                eprintln!(
                    "parity {name}: {} ({:.1}s)",
                    if result.is_ok() { "ok" } else { "MISMATCH" },
                    t.elapsed().as_secs_f64()
                );
                if let Err(why) = result {
                    failures.lock().unwrap().push(format!("=== case {name}\n{why}"));
                }
            });
        }
    });
    let failures = failures.lock().unwrap();
    eprintln!(
        "parity: {} cases, {} mismatched, {:.1}s",
        cases.len(),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
