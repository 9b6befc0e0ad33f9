//! `zdd rollback` and what `zdd status` says of the deploys: on the implicit localhost
//! (fast: the journal's decisions, errors, vault), and on the real lab under the probe.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use support::{Lab, Outcome, Zdd};

/// A playbook on localhost that writes `version` to `deployed.txt` beside it.
fn local_project() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let playbook = dir.path().join("deploy.yml");
    std::fs::write(
        &playbook,
        format!(
            "- hosts: localhost\n  gather_facts: false\n  vars:\n    version: \"1\"\n  tasks:\n    \
             - name: Deploy the version\n      copy:\n        content: \"{{{{ version }}}}\\n\"\n        \
             dest: {}/deployed.txt\n",
            dir.path().display()
        ),
    )
    .unwrap();
    // An inventory of its own: the rollout lock is per inventory, and tests run at once.
    support::local_inventory(dir.path());
    (dir, playbook)
}

fn zdd_in(dir: &Path) -> Zdd {
    Zdd::new()
        .current_dir(dir)
        .inventory("hosts.ini")
        .redact(dir.display(), "[CWD]")
}

fn apply(dir: &Path, playbook: &Path, extra: &[&str]) -> Outcome {
    let out = Zdd::new()
        .current_dir(dir)
        .inventory("hosts.ini")
        .apply(playbook)
        .arg("--no-progress")
        .args(extra)
        .run();
    out.assert_code(0);
    out
}

fn rollback(dir: &Path, playbook: &Path, extra: &[&str]) -> Outcome {
    Zdd::new()
        .current_dir(dir)
        .inventory("hosts.ini")
        .redact(dir.display(), "[CWD]")
        .arg("rollback")
        .arg(playbook)
        .args(extra)
        .run()
}

fn deployed(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("deployed.txt"))
        .unwrap()
        .trim()
        .to_owned()
}

fn journal(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(".zdd/journal").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn without_a_journal_or_an_earlier_success_there_is_nothing_to_roll_back() {
    let (dir, playbook) = local_project();
    let out = rollback(dir.path(), &playbook, &["--yes"]);
    out.assert_code(5);
    insta::assert_snapshot!("rollback_without_journal", out.redacted());

    apply(dir.path(), &playbook, &["-e", "version=2"]);
    let out = rollback(dir.path(), &playbook, &["--yes"]);
    out.assert_code(5);
    insta::assert_snapshot!("rollback_without_earlier_success", out.redacted());
    assert_eq!(deployed(dir.path()), "2", "nothing was touched");
}

#[test]
fn rollback_re_runs_the_earlier_inputs_and_asks_first() {
    let (dir, playbook) = local_project();
    let vars = dir.path().join("vars.yml");
    std::fs::write(&vars, "channel: stable\n").unwrap();
    apply(dir.path(), &playbook, &["-e", "version=2", "-e", "@vars.yml"]);
    std::fs::write(&vars, "channel: beta\n").unwrap();
    apply(dir.path(), &playbook, &["-e", "version=3", "-e", "@vars.yml"]);
    assert_eq!(deployed(dir.path()), "3");

    // Standard input is not a terminal: no --yes, no rollback.
    let out = rollback(dir.path(), &playbook, &[]);
    out.assert_code(5);
    assert!(
        out.stderr.contains("pass --yes to roll back without asking"),
        "{out}"
    );
    assert_eq!(deployed(dir.path()), "3");

    let out = rollback(dir.path(), &playbook, &["--yes"]);
    out.assert_code(0);
    assert_eq!(deployed(dir.path()), "2");
    let plan = out.redacted();
    let plan: Vec<&str> = plan.lines().take(4).collect();
    insta::assert_snapshot!("rollback_plan_rolling", plan.join("\n"));

    // The journal says which run was undone and whose inputs came back; the file's
    // values are those of that run, not the file's now.
    let j = journal(dir.path(), "deploy-hosts.json");
    let mark = &j["inputs"]["rollback"];
    let history = j["history"].as_array().unwrap();
    assert_eq!(mark["of"], history[1]["started"]);
    assert_eq!(mark["to"], history[0]["started"]);
    assert_eq!(
        j["inputs"]["extra_vars"][1],
        serde_json::json!({"kind": "text", "text": "{\"channel\":\"stable\"}"})
    );

    // Rolling back again goes on to the run before (none): the rollback counted as v2.
    let out = rollback(dir.path(), &playbook, &["--yes"]);
    out.assert_code(5);
    assert!(out.stderr.contains("no successful run before"), "{out}");

    let out = zdd_in(dir.path()).status(&playbook).run();
    out.assert_code(0);
    let text = out.redacted();
    let deploys: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("deploys"))
        .take(3)
        .collect();
    insta::assert_snapshot!("status_last_two_deploys", deploys.join("\n"));
    let out = zdd_in(dir.path()).status(&playbook).json().run();
    let status: Value = serde_json::from_str(&out.stdout).unwrap();
    let deploys = status["last_deploys"].as_array().unwrap();
    assert_eq!(deploys.len(), 2);
    assert_eq!(deploys[0]["state"], "completed");
    assert_eq!(deploys[0]["inputs"]["extra_vars"][0]["text"], "version=2");
    assert_eq!(deploys[1]["inputs"]["extra_vars"][0]["text"], "version=3");
    assert!(status["live_colors"].as_array().unwrap().is_empty());
}

#[test]
fn a_vaulted_extra_vars_file_is_journaled_by_reference_and_read_again_on_rollback() {
    let (dir, playbook) = local_project();
    let fixtures = support::repo_root().join("tests/fixtures/vault");
    for name in ["extra-vars.yml", "pass-default.txt"] {
        std::fs::copy(fixtures.join(name), dir.path().join(name)).unwrap();
    }
    let vault = [
        "-e",
        "@extra-vars.yml",
        "--vault-password-file",
        "pass-default.txt",
    ];
    apply(
        dir.path(),
        &playbook,
        &[&["-e", "version=2"][..], &vault].concat(),
    );
    apply(
        dir.path(),
        &playbook,
        &[&["-e", "version=3"][..], &vault].concat(),
    );
    let text = std::fs::read_to_string(dir.path().join(".zdd/journal/deploy-hosts.json")).unwrap();
    assert!(
        !text.contains("extra-Zr5-secret"),
        "a vault value in the journal:\n{text}"
    );
    let j: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(j["inputs"]["extra_vars"][1]["kind"], "vaulted_file");
    // Without the password the vaulted file cannot be read again: refused before any change.
    let out = rollback(dir.path(), &playbook, &["--yes"]);
    out.assert_code(5);
    assert_eq!(deployed(dir.path()), "3");
    let out = rollback(
        dir.path(),
        &playbook,
        &["--yes", "--vault-password-file", "pass-default.txt"],
    );
    out.assert_code(0);
    assert_eq!(deployed(dir.path()), "2");
    assert!(
        out.redacted().contains("-e @[CWD]/extra-vars.yml (vaulted)"),
        "{out}"
    );
}

/// `zdd` on the lab from `cwd`, where the journal is kept; `cwd` shows as `[CWD]`.
fn in_dir(lab: &Lab, cwd: &Path) -> Zdd {
    lab.zdd().current_dir(cwd).redact(cwd.display(), "[CWD]")
}

/// `zdd apply PLAYBOOK -e version=VERSION` succeeds.
fn deploy(zdd: Zdd, playbook: &Path, version: &str) {
    zdd.apply(playbook)
        .extra(format!("version={version}"))
        .arg("--no-progress")
        .run()
        .assert_code(0);
}

/// `zdd rollback PLAYBOOK --yes` with the probe on `url` and no failed request allowed.
fn rollback_under_probe(playbook: &Path, url: &str) -> Vec<String> {
    let mut args = vec!["rollback".to_owned(), playbook.display().to_string()];
    args.extend(
        [
            "--yes",
            "--no-progress",
            "--probe",
            url,
            "--max-failed-requests",
            "0",
        ]
        .map(String::from),
    );
    args
}

/// Apply version 2, then 3, then `zdd rollback` under the probe: every host serves 2
/// again, batch by batch through HAProxy, without a failed request.
#[test]
fn rolling_rollback_on_the_lab_serves_the_earlier_version_with_no_failed_request() {
    let lab = Lab::start(3);
    let cwd = tempfile::tempdir().unwrap();
    let playbook = support::repo_root().join("examples/lab/zero-downtime.yml");
    let zdd = || in_dir(&lab, cwd.path());
    deploy(zdd(), &playbook, "2");
    deploy(zdd(), &playbook, "3");
    for host in lab.hosts() {
        assert_eq!(lab.version(&host), "3");
    }
    let url = lab.haproxy_url();
    let out = zdd().args(rollback_under_probe(&playbook, &url)).run();
    out.assert_code(0);
    for host in lab.hosts() {
        assert_eq!(
            lab.version(&host),
            "2",
            "{host} does not serve version 2 again:\n{out}"
        );
        lab.assert_up(&host);
    }
    let (requests, failed) = probe_counts(&out);
    assert!(requests >= 50, "too few requests to prove anything:\n{out}");
    assert_eq!(failed, 0, "{out}");
}

/// `requests` and `failed` from the line under PROBE RECAP (`URL : requests=N failed=M ...`).
fn probe_counts(out: &Outcome) -> (u64, u64) {
    let screen = out
        .screen("PROBE RECAP")
        .unwrap_or_else(|| panic!("no probe recap:\n{out}"));
    let field = |name: &str| -> u64 {
        screen
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {screen:?}"))
            .parse()
            .unwrap()
    };
    (field("requests"), field("failed"))
}

/// What nginx answered, and when (epoch ms), while a rollback ran.
struct Watch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(u128, Option<String>)>>,
}

impl Watch {
    fn start(addr: String) -> Watch {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let color = match support::http_get(&addr, "/") {
                    Ok((200, body)) => ["blue", "green"]
                        .into_iter()
                        .find(|c| body.contains(&format!("<p>color: {c}</p>")))
                        .map(str::to_owned),
                    _ => None,
                };
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis();
                seen.push((now, color));
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            seen
        });
        Watch { stop, thread }
    }

    fn stop(self) -> Vec<(u128, Option<String>)> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// Blue/green: after a green deploy, `zdd rollback` switches nginx back to blue without a
/// deploy (the playbook reads `zdd_rollback_to`): blue answers within 2 s of the switch
/// task's start, no request fails, etcd and `zdd status` say blue.
#[test]
fn blue_green_rollback_switches_back_to_the_previous_color_in_seconds() {
    let lab = Lab::start_blue_green(2);
    let cwd = tempfile::tempdir().unwrap();
    let playbook = support::repo_root().join("playbooks/blue-green.yml");
    let zdd = || in_dir(&lab, cwd.path());
    deploy(zdd(), &playbook, "2");
    assert_eq!(lab.live_color_in_etcd().as_deref(), Some("green"));

    let watch = Watch::start(format!("{}:8090", lab.lb_address()));
    let url = lab.nginx_url();
    let started = std::time::Instant::now();
    let out = zdd().args(rollback_under_probe(&playbook, &url)).json().run();
    let took = started.elapsed();
    let seen = watch.stop();
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("  switch:  back to blue, no deploy: the run started "),
        "{out}"
    );
    let (requests, failed) = probe_counts(&out);
    assert!(requests >= 20, "too few requests to prove anything:\n{out}");
    assert_eq!(failed, 0, "{out}");
    assert!(
        seen.iter().all(|(_, c)| c.is_some()),
        "a request through nginx failed"
    );

    let events = out.events();
    let deployed = events.iter().any(|e| {
        e["event"] == "host_result"
            && e["task"] == "Deploy the release into the new color's document root"
            && e["status"] != "skipped"
    });
    assert!(!deployed, "a rollback deploys nothing:\n{out}");
    let switch_start = events
        .iter()
        .find(|e| {
            e["event"] == "task_start"
                && e["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("Switch the upstream"))
        })
        .and_then(|e| e["time"].as_u64())
        .unwrap_or_else(|| panic!("no switch task:\n{out}")) as u128;
    let first_blue = seen
        .iter()
        .find(|(_, c)| c.as_deref() == Some("blue"))
        .map(|(t, _)| *t)
        .unwrap_or_else(|| panic!("nginx never served blue"));
    let to_blue = first_blue.saturating_sub(switch_start);
    eprintln!(
        "rollback: {} ms in all, blue served {to_blue} ms after the switch task started, {requests} probe requests, {failed} failed",
        took.as_millis()
    );
    assert!(
        to_blue <= 2000,
        "blue served {to_blue} ms after the switch started"
    );
    assert_eq!(lab.live_color_in_etcd().as_deref(), Some("blue"));
    let (_, body) = support::http_get(&format!("{}:8090", lab.lb_address()), "/").unwrap();
    assert!(
        body.contains("<p>version: 1</p>"),
        "blue still has its version:\n{body}"
    );

    // The journal recorded the switch back and why; status shows blue live.
    let j = journal(cwd.path(), "blue-green-inventory.json");
    assert_eq!(j["inputs"]["rollback"]["color"], "blue");
    assert_eq!(j["switches"][0]["from"], "green");
    assert_eq!(j["switches"][0]["to"], "blue");
    let status = zdd().status(&playbook).run();
    status.assert_code(0);
    let live = status.redacted();
    let live = live.lines().find(|l| l.starts_with("live ")).unwrap_or_default();
    assert!(live.starts_with("live      blue (app on lb, "), "{status}");
}

/// A deploy with `--limit` (a canary) is undone on those hosts only, whatever the limit of
/// the run whose inputs come back.
#[test]
fn a_limited_deploy_is_rolled_back_on_its_own_hosts() {
    let (dir, playbook) = local_project();
    apply(dir.path(), &playbook, &["-e", "version=2"]);
    apply(dir.path(), &playbook, &["-e", "version=3", "-l", "localhost"]);
    // --plan: what would run, drawn by `zdd plan`; nothing asked, nothing touched.
    let out = rollback(dir.path(), &playbook, &["--plan"]);
    out.assert_code(0);
    assert!(
        out.stdout
            .starts_with("ROLLBACK [.zdd/journal/deploy-hosts.json]\n"),
        "{out}"
    );
    assert!(out.stdout.contains("    - Deploy the version (copy)\n"), "{out}");
    assert!(out.stdout.ends_with("nothing was contacted\n"), "{out}");
    assert_eq!(deployed(dir.path()), "3");
    let out = rollback(dir.path(), &playbook, &["--yes"]);
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("  note:    runs on `localhost` (the hosts the undone run ran on, or -l)\n"),
        "{out}"
    );
    assert_eq!(deployed(dir.path()), "2");
    let j = journal(dir.path(), "deploy-hosts.json");
    assert_eq!(j["inputs"]["limit"], "localhost");
}
