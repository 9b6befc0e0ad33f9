//! End to end: the real zdd binary against the real lab (sshd per host, haproxy with an
//! admin socket, busybox httpd per host), all on loopback. The screens users read (the
//! recap, OUT OF ROTATION, INTERRUPTED) are snapshots in tests/snapshots/.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;
use support::{HostStats, Lab, Outcome};

const LAB_PLAYBOOK: &str = "examples/lab/zero-downtime.yml";

/// What the lab playbook counts for a host it upgraded from scratch: facts, disable, the
/// three tasks, the handler, the wait and enable (all but facts and the wait change).
const UPGRADED: HostStats = HostStats {
    ok: 8,
    changed: 6,
    unreachable: 0,
    failed: 0,
    skipped: 0,
    rescued: 0,
    ignored: 0,
};

#[test]
fn rolling_deploy_under_traffic_drops_no_request_and_upgrades_every_host() {
    let lab = Lab::start(3);
    let before: Vec<String> = lab.hosts().iter().map(|h| lab.web_pid(h)).collect();
    let probe = lab.probe(4);
    let out = lab.zdd().apply(LAB_PLAYBOOK).extra("version=2").run();
    let counts = probe.stop();
    out.assert_code(0);
    assert!(
        counts.requests >= 50,
        "the probe sent too few requests to prove anything: {counts:?}"
    );
    assert_eq!(
        counts.failed, 0,
        "requests failed during the rollout: {counts:?}\n{out}"
    );
    for (host, old_pid) in lab.hosts().iter().zip(before) {
        assert_eq!(lab.version(host), "2", "{host} was not upgraded");
        assert_ne!(
            lab.web_pid(host),
            old_pid,
            "{host}'s web server was not restarted"
        );
        lab.assert_up(host);
    }
    let recap = out.recap();
    assert_eq!(
        recap,
        BTreeMap::from([
            ("web1".to_owned(), UPGRADED),
            ("web2".to_owned(), UPGRADED),
            ("web3".to_owned(), UPGRADED),
        ])
    );
    // serial: 1, one host a batch: the whole screen is the same on every run.
    insta::assert_snapshot!("rollout_succeeded", out.redacted());
}

#[test]
fn second_run_changes_no_configuration_template() {
    let lab = Lab::start(2);
    lab.zdd()
        .apply(LAB_PLAYBOOK)
        .extra("version=3")
        .run()
        .assert_code(0);
    let second = lab.zdd().apply(LAB_PLAYBOOK).extra("version=3").run();
    second.assert_code(0);
    let config = second.task_results("Write the web server configuration");
    assert_eq!(config, ["ok: [web1]", "ok: [web2]"], "{second}");
    for host in lab.hosts() {
        assert_eq!(second.recap_of(&host).changed, 5, "{second}");
    }
}

#[test]
fn failed_upgrade_leaves_the_host_out_of_rotation_and_stops_the_rollout() {
    let lab = Lab::start(3);
    let hosts = lab.hosts();
    let (web1, web2, web3) = (&hosts[0], &hosts[1], &hosts[2]);
    // The upgrade of web2 fails: its document root is not a directory any more.
    let doc_root = lab.doc_root(web2);
    let original = std::fs::read_to_string(doc_root.join("index.html")).unwrap();
    lab.break_doc_root(web2);
    let out = lab.zdd().apply(LAB_PLAYBOOK).extra("version=4").run();
    out.assert_code(2);
    assert_eq!(
        lab.version(web1),
        "4",
        "web1 ran before the failure and is upgraded"
    );
    lab.assert_up(web1);
    lab.assert_maint(web2);
    // serial: 1 and the whole batch failed: Ansible stops the play; web3 is untouched.
    assert_eq!(lab.version(web3), "1");
    lab.assert_up(web3);
    // web2: facts, disable (changed), configuration (changed), clean out, then the copy fails.
    let failed = HostStats {
        ok: 4,
        changed: 2,
        failed: 1,
        ..HostStats::default()
    };
    let recap = out.recap();
    assert_eq!(
        recap,
        BTreeMap::from([("web1".to_owned(), UPGRADED), ("web2".to_owned(), failed)]),
        "{out}"
    );
    assert_eq!(
        out.screen("OUT OF ROTATION").as_deref(),
        Some(
            format!(
                "web2: loadbalancer/web2 is disabled on lb; to put it back, run there:\n    echo \"enable server loadbalancer/web2\" | socat stdio {}",
                lab.socket().display()
            )
            .as_str()
        ),
        "{out}"
    );
    assert_eq!(out.screen("NO MORE HOSTS LEFT").as_deref(), Some(""), "{out}");
    insta::assert_snapshot!("rollout_failed_out_of_rotation", out.redacted());
    lab.restore_doc_root(web2);
    assert_eq!(
        std::fs::read_to_string(doc_root.join("index.html")).unwrap(),
        original
    );
}

#[test]
fn haproxy_refusal_is_a_failure_even_though_socat_exits_zero() {
    let lab = Lab::start(1);
    let host = &lab.hosts()[0].clone();
    let before = lab.page(host);
    let out = lab
        .zdd()
        .apply(LAB_PLAYBOOK)
        .extra("version=5")
        .extra("haproxy_backend=nosuchbackend")
        .run();
    out.assert_code(2);
    let disable = out.task_results("Disable server in haproxy");
    assert_eq!(disable.len(), 1, "{out}");
    let prefix = format!("failed: [web1 -> lb({})] (item=lb) => ", lab.lb_address());
    let body = disable[0]
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("not `{prefix}...`:\n{out}"));
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        body["stdout"], "No such backend.",
        "HAProxy's answer should be shown"
    );
    assert_eq!(out.recap_of(host).failed, 1, "{out}");
    assert_eq!(
        lab.page(host),
        before,
        "the host must not be upgraded after a failed disable"
    );
}

#[test]
fn unreachable_host_is_found_before_anything_changes() {
    let lab = Lab::start(2);
    let hosts = lab.hosts();
    let web2 = &hosts[1];
    lab.stop_sshd(web2);
    let before = lab.page(&hosts[0]);
    let out = lab.zdd().apply(LAB_PLAYBOOK).extra("version=6").run();
    out.assert_code(4);
    assert_eq!(
        out.redacted(),
        "exit: 4\nerror: 1 host(s) unreachable; nothing was changed:\n  web2: ssh: connect to host 127.0.[NET].12 port 2222: Connection refused\n"
    );
    assert_eq!(lab.page(&hosts[0]), before, "web1 must not be touched");
    lab.assert_up(&hosts[0]);
}

#[test]
fn invalid_playbook_is_refused_with_file_and_line_before_any_connection() {
    let lab = Lab::start(1);
    let dir = tempfile::tempdir().unwrap();
    let playbook = dir.path().join("typo.yml");
    std::fs::write(
        &playbook,
        "- hosts: webappservers\n  tasks:\n    - name: Disable\n      shell: echo hi\n      delegateto: lb\n",
    )
    .unwrap();
    let out = lab.zdd().apply(&playbook).run();
    out.assert_code(5);
    let location = format!("{}:5:7", playbook.display());
    assert!(
        out.stderr.lines().any(|l| l == format!(" --> {location}")),
        "no line ` --> {location}`:\n{out}"
    );
    assert!(
        out.stderr
            .lines()
            .any(|l| l.ends_with("did you mean `delegate_to`?")),
        "{out}"
    );
    assert_eq!(out.stdout, "", "nothing ran");
}

#[test]
fn sigint_finishes_the_batch_and_leaves_no_ssh_master_behind() {
    let lab = Lab::start(2);
    let dir = tempfile::tempdir().unwrap();
    let playbook = dir.path().join("slow.yml");
    std::fs::write(
        &playbook,
        "- hosts: webappservers\n  serial: 1\n  gather_facts: false\n  tasks:\n    - shell: sleep 2\n    - shell: touch /tmp/zdd-sigint-{{ inventory_hostname }}-{{ marker }}\n",
    )
    .unwrap();
    let marker = std::process::id().to_string();
    let started = std::time::Instant::now();
    let mut zdd = lab
        .zdd()
        .apply(&playbook)
        .extra(format!("marker={marker}"))
        .spawn();
    // Interrupt once the first batch is running its first task.
    zdd.wait_for_line("TASK [shell]", Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(300));
    let masters_before = support::ssh_masters_of(zdd.pid());
    assert!(
        !masters_before.is_empty(),
        "zdd should hold ssh masters while it runs"
    );
    zdd.interrupt();
    let out = zdd.wait();
    assert!(started.elapsed().as_secs() < 30);
    out.assert_code(130);
    let done = |h: &str| std::path::Path::new(&format!("/tmp/zdd-sigint-{h}-{marker}")).exists();
    assert!(done(&lab.hosts()[0]), "the batch in flight must finish:\n{out}");
    assert!(
        !done(&lab.hosts()[1]),
        "no new batch may start after the signal:\n{out}"
    );
    let _ = std::fs::remove_file(format!("/tmp/zdd-sigint-{}-{marker}", lab.hosts()[0]));
    for pid in masters_before {
        assert!(!support::alive(pid), "ssh master {pid} outlived zdd");
    }
}

#[test]
fn missing_load_balancer_socket_is_found_in_preflight_before_anything_changes() {
    let lab = Lab::start(2);
    let hosts = lab.hosts();
    let before: Vec<String> = hosts.iter().map(|h| lab.page(h)).collect();
    let out = lab
        .zdd()
        .apply(LAB_PLAYBOOK)
        .extra("version=7")
        .extra("haproxy_socket=/tmp/zdd-no-such-haproxy.sock")
        .run();
    out.assert_code(2);
    // No task ran: stdout is empty, stderr says what preflight found.
    assert_eq!(
        out.redacted(),
        "exit: 2\nerror: preflight failed on 1 host(s); nothing was changed:\n  lb: no HAProxy socket at /tmp/zdd-no-such-haproxy.sock\n"
    );
    for (host, page) in hosts.iter().zip(before) {
        assert_eq!(lab.page(host), page);
        lab.assert_up(host);
    }
}

#[test]
fn sudo_that_does_not_work_is_found_in_preflight() {
    let lab = Lab::start(1);
    let out = lab
        .zdd()
        .apply(LAB_PLAYBOOK)
        .extra("version=8")
        .extra("ansible_become_user=zdd-no-such-user")
        .run();
    out.assert_code(2);
    assert_eq!(out.stdout, "", "no task may run");
    assert!(out.stderr.starts_with("error: preflight failed on "), "{out}");
    // Each host's problem on a line of its own (sudo may add lines of its own below).
    let line = "  web1: sudo -n -u zdd-no-such-user failed: sudo: unknown user zdd-no-such-user";
    assert!(out.stderr.lines().any(|l| l == line), "no line `{line}`:\n{out}");
    lab.assert_up(&lab.hosts()[0]);
}

#[test]
fn preflight_reports_what_it_checked() {
    let lab = Lab::start(2);
    let out = lab.zdd().apply(LAB_PLAYBOOK).extra("version=9").run();
    out.assert_code(0);
    assert_eq!(
        out.redact(&out.screen("PREFLIGHT").unwrap()),
        "ok: 3 hosts reachable, sudo works on 3, HAProxy answers on lb:[LAB]/haproxy.sock ([DURATION])"
    );
}

/// The lab playbook with a two-second step at the start of `tasks` (the host is out of
/// rotation then), in a temporary directory that sees the lab's templates.
fn slow_lab_playbook(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(support::lab_playbook()).unwrap();
    let slow = text.replacen(
        "  tasks:\n",
        "  tasks:\n\n  - name: Slow upgrade step\n    shell: sleep 2\n",
        1,
    );
    assert_ne!(slow, text, "the lab playbook has a tasks section");
    let path = dir.join("slow-zero-downtime.yml");
    std::fs::write(&path, slow).unwrap();
    std::os::unix::fs::symlink(
        support::repo_root().join("examples/lab/templates"),
        dir.join("templates"),
    )
    .unwrap();
    path
}

/// `zdd apply PLAYBOOK -e EXTRA`, interrupted by `signals` SIGINTs once a line starting
/// with `trigger` is printed.
fn interrupt_apply(
    lab: &Lab,
    playbook: &std::path::Path,
    extra: &str,
    trigger: &str,
    signals: usize,
) -> Outcome {
    let mut zdd = lab.zdd().apply(playbook).extra(extra).spawn();
    zdd.wait_for_line(trigger, Duration::from_secs(60));
    for _ in 0..signals {
        zdd.interrupt();
        std::thread::sleep(Duration::from_millis(100));
    }
    zdd.wait()
}

#[test]
fn ctrl_c_finishes_the_batch_in_flight_and_leaves_every_host_up() {
    let lab = Lab::start(3);
    let dir = tempfile::tempdir().unwrap();
    let playbook = slow_lab_playbook(dir.path());
    let out = interrupt_apply(&lab, &playbook, "version=11", "TASK [Slow upgrade step]", 1);
    out.assert_code(130);
    let hosts = lab.hosts();
    for host in &hosts {
        lab.assert_up(host);
    }
    assert_eq!(lab.version(&hosts[0]), "11", "the batch in flight finishes");
    assert_eq!(lab.version(&hosts[1]), "1");
    assert_eq!(
        out.screen("INTERRUPTED").as_deref(),
        Some("completed: web1\nfailed: none\nnot started: web2, web3"),
        "{out}"
    );
    assert_eq!(out.screen("OUT OF ROTATION"), None, "{out}");
    insta::assert_snapshot!("interrupted_after_the_batch", out.redacted());
}

#[test]
fn second_ctrl_c_stops_after_the_task_and_says_how_to_put_the_host_back() {
    let lab = Lab::start(2);
    let dir = tempfile::tempdir().unwrap();
    let playbook = slow_lab_playbook(dir.path());
    let out = interrupt_apply(&lab, &playbook, "version=12", "TASK [Slow upgrade step]", 2);
    out.assert_code(130);
    let web1 = &lab.hosts()[0];
    lab.assert_maint(web1);
    let expected = format!(
        "web1: loadbalancer/web1 is disabled on lb; to put it back, run there:\n    echo \"enable server loadbalancer/web1\" | socat stdio {}",
        lab.socket().display()
    );
    assert_eq!(out.screen("OUT OF ROTATION"), Some(expected), "{out}");
    insta::assert_snapshot!("interrupted_twice_out_of_rotation", out.redacted());
    // The printed command is the right one: it puts web1 back.
    assert_eq!(lab.haproxy_command("enable server loadbalancer/web1").trim(), "");
    lab.assert_up(web1);
}

/// The lab playbook without its disable/enable steps, and with an upgrade that takes half
/// a second while the content is gone: what a rollout without the load balancer looks like.
fn no_disable_lab_playbook(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(support::lab_playbook()).unwrap();
    let start = text.find("  pre_tasks:").unwrap();
    let end = text.find("  tasks:").unwrap();
    let mut variant = format!("{}{}", &text[..start], &text[end..]);
    let post = variant.find("  post_tasks:").unwrap();
    variant.truncate(post);
    let variant = variant.replacen(
        "      state: absent\n",
        "      state: absent\n\n  - name: Upgrade takes a moment\n    shell: sleep 0.5\n",
        1,
    );
    assert!(variant.contains("sleep 0.5") && !variant.contains("disable server"));
    let path = dir.join("no-disable.yml");
    std::fs::write(&path, variant).unwrap();
    std::os::unix::fs::symlink(
        support::repo_root().join("examples/lab/templates"),
        dir.join("templates"),
    )
    .unwrap();
    path
}

/// The fields of the one line under PROBE RECAP: `URL : requests=N failed=M p50=...`.
fn probe_recap(out: &Outcome) -> BTreeMap<String, String> {
    let screen = out
        .screen("PROBE RECAP")
        .unwrap_or_else(|| panic!("no probe recap:\n{out}"));
    let (_url, fields) = screen
        .split_once(" : ")
        .unwrap_or_else(|| panic!("not a probe recap: {screen:?}"));
    let fields: BTreeMap<String, String> = fields
        .split(" (first failure")
        .next()
        .unwrap()
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("`{kv}` in {screen:?}"));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["failed", "max", "p50", "p90", "p99", "requests"],
        "{screen}"
    );
    fields
}

/// `requests` and `failed` of the probe recap.
fn probe_counts(out: &Outcome) -> (u64, u64) {
    let fields = probe_recap(out);
    let count = |k: &str| fields[k].parse().unwrap_or_else(|e| panic!("{k}: {e}"));
    (count("requests"), count("failed"))
}

#[test]
fn probe_sees_downtime_without_a_disable_step_and_none_with_it() {
    let lab = Lab::start(2);
    let dir = tempfile::tempdir().unwrap();
    let careless = no_disable_lab_playbook(dir.path());
    let url = lab.haproxy_url();
    let out = lab
        .zdd()
        .apply(&careless)
        .extra("version=13")
        .args(["--probe", &url, "--probe-concurrency", "4"])
        .run();
    out.assert_code(0);
    let (requests, failed) = probe_counts(&out);
    assert!(requests > 50, "{out}");
    assert!(
        failed > 0,
        "content removed while in rotation must cost requests:\n{out}"
    );

    let slow = dir.path().join("slow");
    std::fs::create_dir(&slow).unwrap();
    let careful = slow_lab_playbook(&slow);
    let out = lab
        .zdd()
        .apply(&careful)
        .extra("version=14")
        .args(["--probe", &url, "--max-failed-requests", "0"])
        .run();
    out.assert_code(0);
    let (requests, failed) = probe_counts(&out);
    assert!(requests > 50, "{out}");
    assert_eq!(failed, 0, "{out}");
}

#[test]
fn probe_budget_stops_the_rollout_after_the_batch_that_broke_it() {
    let lab = Lab::start(3);
    let dir = tempfile::tempdir().unwrap();
    let careless = no_disable_lab_playbook(dir.path());
    let url = lab.haproxy_url();
    let out = lab
        .zdd()
        .apply(&careless)
        .extra("version=15")
        .args(["--probe", &url, "--max-failed-requests", "0"])
        .run();
    out.assert_code(2);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("[WARNING]: stopping after batch 1/3: the probe counted ")),
        "{out}"
    );
    let hosts = lab.hosts();
    assert_eq!(lab.version(&hosts[0]), "15");
    assert_eq!(
        lab.version(&hosts[1]),
        "1",
        "no batch may start after the budget broke"
    );
    assert_eq!(lab.version(&hosts[2]), "1");
    assert_eq!(out.recap().keys().collect::<Vec<_>>(), ["web1"], "{out}");
}

#[test]
fn check_diff_shows_what_would_change_and_changes_nothing() {
    let lab = Lab::start(1);
    let web1 = lab.hosts()[0].clone();
    let before = lab.page(&web1);
    let out = lab
        .zdd()
        .apply(LAB_PLAYBOOK)
        .extra("version=21")
        .args(["--check", "--diff"])
        .run();
    out.assert_code(0);
    let text = &out.stdout;
    let index = lab.doc_root(&web1).join("index.html");
    let index = index.display();
    // The file module's state change, then the template's content change.
    assert!(
        text.contains(&format!(
            "--- before\n+++ after\n@@ -1,4 +1,4 @@\n {{\n     \"path\": \"{index}\",\n-    \"state\": \"file\"\n+    \"state\": \"absent\"\n }}\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("--- before: {index}\n+++ after: {index}\n")),
        "{text}"
    );
    assert!(
        text.contains("-<p>version: 1</p>\n+<p>version: 21</p>\n"),
        "{text}"
    );
    insta::assert_snapshot!("check_diff", out.redacted());
    assert_eq!(lab.page(&web1), before, "--check must not change the host");
    // --check must not take the host out.
    lab.assert_up(&web1);
}

/// ansible.cfg settings that act on the run itself: `log_path` gets the run's output, each
/// line prefixed as Ansible's log is, with `no_log` results censored as on the screen;
/// `control_path_dir` holds the masters' control sockets; `retries` starts a master again
/// before a host is unreachable.
#[test]
fn ansible_cfg_log_path_control_path_dir_and_retries_act_on_the_run() {
    let lab = Lab::start(1);
    let dir = tempfile::tempdir().unwrap();
    let sockets = dir.path().join("cp");
    std::fs::write(
        dir.path().join("ansible.cfg"),
        format!(
            "[defaults]\nlog_path = run.log\n[ssh_connection]\ncontrol_path_dir = {}\nretries = 1\n",
            sockets.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("site.yml"),
        "- hosts: web1\n  gather_facts: false\n  tasks:\n    - name: a secret\n      ansible.builtin.command: echo S3CRET\n      no_log: true\n    - ansible.builtin.command: echo visible\n",
    )
    .unwrap();
    let out = lab
        .zdd()
        .current_dir(dir.path())
        .env_remove("ANSIBLE_CONFIG")
        .apply("site.yml")
        .arg("-vvv")
        .run();
    out.assert_code(0);
    let log = std::fs::read_to_string(dir.path().join("run.log")).unwrap();
    let prefix =
        regex::Regex::new(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} p=\d+ u=\S+ n=zdd INFO\| ").unwrap();
    assert!(log.lines().all(|l| prefix.is_match(l)), "{log}");
    assert!(log.contains("| TASK [a secret] **"), "{log}");
    assert!(log.contains("| web1 ") && log.contains("ok=2"), "{log}");
    assert!(!log.contains("S3CRET"), "a no_log result reached the log:\n{log}");
    // The masters' sockets were under control_path_dir (their directory is gone since).
    assert!(
        out.stderr
            .contains(&format!("\"-S\" \"{}/zdd-", sockets.display())),
        "{}",
        out.stderr
    );
    assert!(sockets.is_dir());
    // A host nothing answers on: one more try, a second later, then unreachable.
    let ghost = dir.path().join("ghost.ini");
    std::fs::write(
        &ghost,
        format!("ghost ansible_host={}.99 ansible_port=2222\n", lab.net()),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("ghost.yml"),
        "- hosts: ghost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: 'true'\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = support::Zdd::new()
        .current_dir(dir.path())
        .env_remove("ANSIBLE_CONFIG")
        .apply("ghost.yml")
        .inventory(&ghost)
        .arg("-vvv")
        .run();
    out.assert_code(4);
    assert!(out.stderr.contains("retry 1 of 1"), "{}", out.stderr);
    assert!(started.elapsed() >= Duration::from_secs(1));
}

/// `wait_for_connection` on a host whose sshd goes down (with the session zdd's master
/// rides on) and comes back 2 s later on the same address, port and host key: zdd drops
/// the dead master, reconnects until a command runs, and the next tasks run over the new
/// connection; the audit log holds the commands on both sides of the outage.
#[test]
fn wait_for_connection_waits_for_an_sshd_that_comes_back() {
    let lab = Lab::start(1);
    let dir = lab.dir().display().to_string();
    let work = tempfile::tempdir().unwrap();
    let bounce = lab.dir().join("bounce-sshd-web1");
    std::fs::write(
        &bounce,
        format!(
            "#!/bin/sh\n\
             # web1's sshd goes down with its sessions for 2 s, then comes back as lab.sh started it.\n\
             pid=$(awk '$2 == \"sshd-web1\" {{ p = $1 }} END {{ print p }}' {dir}/pids)\n\
             sleep 0.5\n\
             kill $(ps -o pid= --ppid \"$pid\") \"$pid\"\n\
             date +%s.%N >{dir}/down-at\n\
             sleep 2\n\
             setsid /usr/sbin/sshd -D -e -f {dir}/sshd_config.web1 </dev/null >>{dir}/log/sshd.web1.log 2>&1 &\n\
             echo \"$! sshd-web1\" >>{dir}/pids\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&bounce, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let result = lab.dir().join("waited");
    let playbook = work.path().join("outage.yml");
    std::fs::write(
        &playbook,
        format!(
            "- hosts: web1\n  gather_facts: false\n  tasks:\n\
             \x20   - shell: setsid {bounce} </dev/null >/dev/null 2>&1 &\n      become: true\n\
             \x20   - wait_for_connection:\n        delay: 1\n        sleep: 1\n        timeout: 30\n      register: waited\n\
             \x20   - shell: echo \"{{{{ waited.elapsed }}}} {{{{ waited.changed }}}} $(cat {dir}/down-at)\" > {result}\n      become: true\n",
            bounce = bounce.display(),
            result = result.display(),
        ),
    )
    .unwrap();
    let audit = work.path().join("audit.jsonl");
    let started = std::time::Instant::now();
    let out = lab.zdd().apply(&playbook).arg("--audit-log").arg(&audit).run();
    out.assert_code(0);
    let took = started.elapsed();
    let text = std::fs::read_to_string(&result).unwrap();
    let words: Vec<&str> = text.split_whitespace().collect();
    let elapsed: u64 = words[0].parse().unwrap();
    assert_eq!(words[1], "False", "{text}");
    // Down for 2 s, from half a second after the first task: the wait began at 1 s (the
    // upper bound leaves room for a loaded machine, where a handshake takes seconds).
    assert!((2..=20).contains(&elapsed), "elapsed {elapsed}: {out}");
    eprintln!("wait_for_connection: elapsed={elapsed}s, run {took:?}");
    assert_eq!(out.recap_of("web1").changed, 2, "{out}");
    let logged = std::fs::read_to_string(&audit).unwrap();
    assert!(
        logged.contains("bounce-sshd-web1") && logged.contains("waited"),
        "{logged}"
    );
}
