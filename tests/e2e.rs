//! End to end: the real zdd binary against the real lab (sshd per host, haproxy with an
//! admin socket, busybox httpd per host), all on loopback.

mod support;

use std::process::Output;
use support::Lab;

const LAB_PLAYBOOK: &str = "examples/lab/zero-downtime.yml";

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `zdd apply PLAYBOOK -i INVENTORY -e V...` for each of `extra`.
fn apply(lab: &Lab, playbook: &str, extra: &[&str]) -> Output {
    let args: Vec<&str> = extra.iter().flat_map(|e| ["-e", *e]).collect();
    apply_with(lab, playbook, &args)
}

/// `zdd apply PLAYBOOK -i INVENTORY ARGS...`, run to the end.
fn apply_with(lab: &Lab, playbook: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
    lab.zdd()
        .arg("apply")
        .arg(playbook)
        .arg("-i")
        .arg(lab.inventory())
        .args(args)
        .output()
        .expect("run zdd")
}

/// The `PLAY RECAP` line of a host, e.g. `ok=7 changed=5 unreachable=0 failed=0 ...`.
fn recap_of(out: &str, host: &str) -> String {
    let recap = out.split("PLAY RECAP").nth(1).expect("a PLAY RECAP");
    recap
        .lines()
        .find(|l| l.split_whitespace().next() == Some(host))
        .unwrap_or_else(|| panic!("no recap line for {host} in:\n{out}"))
        .split(':')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The result lines (`ok: [...]`, `changed: [...]`) printed under `TASK [name]`.
fn task_results<'a>(out: &'a str, task: &str) -> Vec<&'a str> {
    let banner = format!("TASK [{task}]");
    out.split(&banner)
        .skip(1)
        .flat_map(|section| section.lines().skip(1).take_while(|l| !l.is_empty()))
        .collect()
}

#[test]
fn rolling_deploy_under_traffic_drops_no_request_and_upgrades_every_host() {
    let lab = Lab::start(3);
    let before: Vec<String> = lab.hosts().iter().map(|h| lab.web_pid(h)).collect();
    let probe = lab.probe(4);
    let out = apply(&lab, LAB_PLAYBOOK, &["version=2"]);
    let counts = probe.stop();
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "zdd failed:\n{text}\n{}",
        stderr(&out)
    );
    assert!(
        counts.requests >= 50,
        "the probe sent too few requests to prove anything: {counts:?}"
    );
    assert_eq!(
        counts.failed, 0,
        "requests failed during the rollout: {counts:?}\n{text}"
    );
    for (host, old_pid) in lab.hosts().iter().zip(before) {
        assert!(
            lab.page(host).contains("version: 2"),
            "{host} was not upgraded: {}",
            lab.page(host)
        );
        assert_ne!(
            lab.web_pid(host),
            old_pid,
            "{host}'s web server was not restarted"
        );
        assert!(
            lab.server_state(host).contains("UP"),
            "{host} is not back in rotation"
        );
        assert!(
            recap_of(&text, host).contains("failed=0"),
            "{}",
            recap_of(&text, host)
        );
    }
    // serial: 1 -> one PLAY banner per host, each batch disabling then enabling its host.
    assert_eq!(text.matches("PLAY [").count(), lab.hosts().len());
    assert!(text.contains("RUNNING HANDLER ["), "no handler ran:\n{text}");
}

#[test]
fn second_run_changes_no_configuration_template() {
    let lab = Lab::start(2);
    let first = apply(&lab, LAB_PLAYBOOK, &["version=3"]);
    assert_eq!(first.status.code(), Some(0), "{}", stdout(&first));
    let second = apply(&lab, LAB_PLAYBOOK, &["version=3"]);
    let text = stdout(&second);
    assert_eq!(second.status.code(), Some(0), "{text}");
    let config = task_results(&text, "Write the web server configuration");
    assert_eq!(config.len(), 2, "expected one result per host:\n{text}");
    assert!(
        config.iter().all(|l| l.starts_with("ok: ")),
        "config template changed on a second run:\n{text}"
    );
}

#[test]
fn failed_upgrade_leaves_the_host_out_of_rotation_and_stops_the_rollout() {
    let lab = Lab::start(3);
    let hosts = lab.hosts();
    let web2 = &hosts[1];
    // The upgrade of web2 fails: its document root is not a directory any more.
    let doc_root = lab.doc_root(web2);
    let original = std::fs::read_to_string(doc_root.join("index.html")).unwrap();
    lab.break_doc_root(web2);
    let out = apply(&lab, LAB_PLAYBOOK, &["version=4"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let (web1, web3) = (&hosts[0], &hosts[2]);
    assert!(
        lab.page(web1).contains("version: 4"),
        "web1 ran before the failure and is upgraded"
    );
    assert!(lab.server_state(web1).contains("UP"));
    assert!(
        lab.server_state(web2).contains("MAINT"),
        "a failed host must stay out of rotation"
    );
    assert!(recap_of(&text, web2).contains("failed=1"), "{text}");
    assert!(
        text.contains("web2: loadbalancer/web2 is disabled on lb; to put it back"),
        "{text}"
    );
    // serial: 1 and the whole batch failed: Ansible stops the play; web3 is untouched.
    assert!(text.contains("NO MORE HOSTS LEFT"), "{text}");
    assert!(!lab.page(web3).contains("version: 4"));
    assert!(lab.server_state(web3).contains("UP"));
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
    let out = apply(
        &lab,
        LAB_PLAYBOOK,
        &["version=5", "haproxy_backend=nosuchbackend"],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("No such backend"),
        "HAProxy's answer should be shown:\n{text}"
    );
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
    let out = apply(&lab, LAB_PLAYBOOK, &["version=6"]);
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains(web2.as_str()), "{}", stderr(&out));
    assert_eq!(lab.page(&hosts[0]), before, "web1 must not be touched");
    assert!(lab.server_state(&hosts[0]).contains("UP"));
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
    let out = apply(&lab, playbook.to_str().unwrap(), &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("typo.yml:5:7"), "{err}");
    assert!(err.contains("did you mean `delegate_to`?"), "{err}");
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
    let mut child = lab
        .zdd()
        .args(["apply", playbook.to_str().unwrap(), "-i"])
        .arg(lab.inventory())
        .args(["-e", &format!("marker={marker}")])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read the output as it comes; interrupt once the first batch is running its first task.
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    let reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let collector = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in reader.lines().map_while(Result::ok) {
            let _ = lines_tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let started = std::time::Instant::now();
    while !lines_rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("zdd printed no task within 30 s")
        .starts_with("TASK [shell]")
    {}
    std::thread::sleep(std::time::Duration::from_millis(300));
    let zdd_pid = child.id();
    let masters_before = support::ssh_masters_of(zdd_pid);
    assert!(
        !masters_before.is_empty(),
        "zdd should hold ssh masters while it runs"
    );
    unsafe { libc::kill(zdd_pid as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    let text = collector.join().unwrap();
    assert!(started.elapsed().as_secs() < 30);
    assert_eq!(status.code(), Some(130), "{text}");
    let done = |h: &str| std::path::Path::new(&format!("/tmp/zdd-sigint-{h}-{marker}")).exists();
    assert!(done(&lab.hosts()[0]), "the batch in flight must finish:\n{text}");
    assert!(
        !done(&lab.hosts()[1]),
        "no new batch may start after the signal:\n{text}"
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
    let out = apply(
        &lab,
        LAB_PLAYBOOK,
        &["version=7", "haproxy_socket=/tmp/zdd-no-such-haproxy.sock"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}\n{err}", stdout(&out));
    assert!(err.contains("preflight failed"), "{err}");
    assert!(
        err.contains("lb: no HAProxy socket at /tmp/zdd-no-such-haproxy.sock"),
        "{err}"
    );
    assert!(
        !stdout(&out).contains("TASK ["),
        "no task may run:\n{}",
        stdout(&out)
    );
    for (host, page) in hosts.iter().zip(before) {
        assert_eq!(lab.page(host), page);
        assert!(lab.server_state(host).contains("UP"));
    }
}

#[test]
fn sudo_that_does_not_work_is_found_in_preflight() {
    let lab = Lab::start(1);
    let out = apply(
        &lab,
        LAB_PLAYBOOK,
        &["version=8", "ansible_become_user=zdd-no-such-user"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}\n{err}", stdout(&out));
    assert!(err.contains("web1: sudo -n -u zdd-no-such-user failed"), "{err}");
    assert!(lab.server_state(&lab.hosts()[0]).contains("UP"));
}

#[test]
fn preflight_reports_what_it_checked() {
    let lab = Lab::start(2);
    let out = apply(&lab, LAB_PLAYBOOK, &["version=9"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let socket = format!("lb:{}", lab.socket().display());
    let line = text
        .lines()
        .find(|l| l.starts_with("ok: 3 hosts reachable"))
        .unwrap_or_else(|| panic!("no preflight line:\n{text}"));
    assert!(line.contains("sudo works on 3"), "{line}");
    assert!(line.contains(&socket), "{line}");
}

/// The lab playbook with a one-second step at the start of `tasks` (the host is out of
/// rotation then), in a temporary directory that sees the lab's templates.
fn slow_lab_playbook(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(support::lab_playbook()).unwrap();
    let slow = text.replacen(
        "  tasks:\n",
        "  tasks:\n\n  - name: Slow upgrade step\n    shell: sleep 1\n",
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

/// Start `zdd apply`, send `signals` SIGINTs once a line starting with `trigger` is printed,
/// and return (exit code, stdout).
fn interrupt_apply(
    lab: &Lab,
    playbook: &std::path::Path,
    extra: &str,
    trigger: &str,
    signals: usize,
) -> (Option<i32>, String) {
    use std::io::BufRead;
    let mut child = lab
        .zdd()
        .args(["apply", playbook.to_str().unwrap(), "-i"])
        .arg(lab.inventory())
        .args(["-e", extra])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut text = String::new();
    let mut lines = reader.lines().map_while(Result::ok);
    for line in lines.by_ref() {
        text.push_str(&line);
        text.push('\n');
        if line.starts_with(trigger) {
            break;
        }
    }
    for _ in 0..signals {
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for line in lines {
        text.push_str(&line);
        text.push('\n');
    }
    (child.wait().unwrap().code(), text)
}

#[test]
fn ctrl_c_finishes_the_batch_in_flight_and_leaves_every_host_up() {
    let lab = Lab::start(3);
    let dir = tempfile::tempdir().unwrap();
    let playbook = slow_lab_playbook(dir.path());
    let (code, text) = interrupt_apply(&lab, &playbook, "version=11", "TASK [Slow upgrade step]", 1);
    assert_eq!(code, Some(130), "{text}");
    let hosts = lab.hosts();
    for host in &hosts {
        assert!(
            lab.server_state(host).contains("UP"),
            "{host} must be back in rotation:\n{text}"
        );
    }
    assert!(
        lab.page(&hosts[0]).contains("version: 11"),
        "the batch in flight finishes:\n{text}"
    );
    assert!(!lab.page(&hosts[1]).contains("version: 11"));
    assert!(
        text.contains("completed: web1\nfailed: none\nnot started: web2, web3"),
        "{text}"
    );
    assert!(!text.contains("OUT OF ROTATION"), "{text}");
}

#[test]
fn second_ctrl_c_stops_after_the_task_and_says_how_to_put_the_host_back() {
    let lab = Lab::start(2);
    let dir = tempfile::tempdir().unwrap();
    let playbook = slow_lab_playbook(dir.path());
    let (code, text) = interrupt_apply(&lab, &playbook, "version=12", "TASK [Slow upgrade step]", 2);
    assert_eq!(code, Some(130), "{text}");
    let web1 = &lab.hosts()[0];
    assert!(
        lab.server_state(web1).contains("MAINT"),
        "stopped mid-batch, web1 stays out:\n{text}"
    );
    let expected = format!(
        "web1: loadbalancer/web1 is disabled on lb; to put it back, run there:\n    echo \"enable server loadbalancer/web1\" | socat stdio {}",
        lab.socket().display()
    );
    assert!(text.contains(&expected), "{text}");
    // The printed command is the right one: it puts web1 back.
    assert_eq!(lab.haproxy_command("enable server loadbalancer/web1").trim(), "");
    assert!(lab.wait_server_state(web1, "UP", std::time::Duration::from_secs(5)));
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

/// `requests=N failed=M` from the PROBE RECAP line.
fn probe_counts(text: &str) -> (u64, u64) {
    let line = text
        .lines()
        .find(|l| l.contains(" : requests="))
        .unwrap_or_else(|| panic!("no probe recap:\n{text}"));
    let field = |name: &str| -> u64 {
        let start = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
        line[start..].split_whitespace().next().unwrap().parse().unwrap()
    };
    (field("requests"), field("failed"))
}

#[test]
fn probe_sees_downtime_without_a_disable_step_and_none_with_it() {
    let lab = Lab::start(2);
    let dir = tempfile::tempdir().unwrap();
    let careless = no_disable_lab_playbook(dir.path());
    let url = lab.haproxy_url();
    let out = apply_with(
        &lab,
        &careless,
        &["-e", "version=13", "--probe", &url, "--probe-concurrency", "4"],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let (requests, failed) = probe_counts(&text);
    assert!(requests > 50, "{text}");
    assert!(
        failed > 0,
        "content removed while in rotation must cost requests:\n{text}"
    );

    let slow = dir.path().join("slow");
    std::fs::create_dir(&slow).unwrap();
    let careful = slow_lab_playbook(&slow);
    let out = apply_with(
        &lab,
        &careful,
        &["-e", "version=14", "--probe", &url, "--max-failed-requests", "0"],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let (requests, failed) = probe_counts(&text);
    assert!(requests > 50, "{text}");
    assert_eq!(failed, 0, "{text}");
}

#[test]
fn probe_budget_stops_the_rollout_after_the_batch_that_broke_it() {
    let lab = Lab::start(3);
    let dir = tempfile::tempdir().unwrap();
    let careless = no_disable_lab_playbook(dir.path());
    let url = lab.haproxy_url();
    let out = apply_with(
        &lab,
        &careless,
        &["-e", "version=15", "--probe", &url, "--max-failed-requests", "0"],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("stopping after batch 1/3: the probe counted"),
        "{text}"
    );
    let hosts = lab.hosts();
    assert!(lab.page(&hosts[0]).contains("version: 15"));
    assert!(
        !lab.page(&hosts[1]).contains("version: 15"),
        "no batch may start after the budget broke"
    );
    assert!(!lab.page(&hosts[2]).contains("version: 15"));
}

#[test]
fn check_diff_shows_what_would_change_and_changes_nothing() {
    let lab = Lab::start(1);
    let web1 = lab.hosts()[0].clone();
    let before = lab.page(&web1);
    let out = apply_with(&lab, LAB_PLAYBOOK, &["-e", "version=21", "--check", "--diff"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
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
    assert_eq!(lab.page(&web1), before, "--check must not change the host");
    assert!(
        lab.server_state(&web1).contains("UP"),
        "--check must not take the host out"
    );
}
