//! The workshop's rolling update written with roles (playbooks/rolling-roles.yml, with
//! roles/common and roles/web at the repository root, found through ansible.cfg's
//! roles_path): run on the lab under the probe, it must drop no request and leave every web
//! server serving the new version. ansible-playbook runs it the same way, which shows the
//! playbook is the Ansible one, unchanged.

mod support;

use std::process::{Command, Stdio};
use support::differential::ansible_playbook;
use support::{repo_root, Lab, ProbeCounts};

const PLAYBOOK: &str = "playbooks/rolling-roles.yml";

/// The role tasks and handler as Ansible names them in its output.
const ROLE_TASKS: [&str; 6] = [
    "TASK [common : Make sure the document root exists]",
    "TASK [common : Make sure the configuration directory exists]",
    "TASK [web : Write the web server configuration]",
    "TASK [web : Pretend upgrade by cleaning out content]",
    "TASK [web : Copy over webapp content]",
    "RUNNING HANDLER [web : Restart web server]",
];

/// What a rollout under the probe must show: requests all answered, every host upgraded
/// and restarted, and back UP in haproxy.
fn assert_rolled_out(lab: &Lab, counts: &ProbeCounts, old_pids: &[String], output: &str) {
    assert!(
        counts.requests >= 50,
        "the probe sent too few requests to prove anything: {counts:?}"
    );
    assert_eq!(
        counts.failed, 0,
        "requests failed during the rollout: {counts:?}\n{output}"
    );
    for (host, old_pid) in lab.hosts().iter().zip(old_pids) {
        assert_eq!(lab.version(host), "2", "{host} was not upgraded\n{output}");
        assert_ne!(
            &lab.web_pid(host),
            old_pid,
            "{host}'s web server was not restarted by the role's handler"
        );
        lab.assert_up(host);
    }
    for task in ROLE_TASKS {
        assert_eq!(
            output.matches(task).count(),
            lab.hosts().len(),
            "`{task}` once per batch (serial: 1):\n{output}"
        );
    }
}

#[test]
fn zdd_rolls_out_the_roles_playbook_with_no_failed_request() {
    let lab = Lab::start_strict(3);
    let old_pids: Vec<String> = lab.hosts().iter().map(|h| lab.web_pid(h)).collect();
    let probe = lab.probe(4);
    let out = lab.zdd().apply(PLAYBOOK).extra("version=2").run();
    let counts = probe.stop();
    out.assert_code(0);
    assert_rolled_out(&lab, &counts, &old_pids, &out.stdout);
    for host in lab.hosts() {
        let stats = out.recap_of(&host);
        assert_eq!((stats.failed, stats.unreachable), (0, 0), "{out}");
    }
}

#[test]
fn ansible_playbook_rolls_out_the_same_playbook_with_no_failed_request() {
    let lab = Lab::start_strict(3);
    let old_pids: Vec<String> = lab.hosts().iter().map(|h| lab.web_pid(h)).collect();
    let home = tempfile::tempdir().unwrap();
    let probe = lab.probe(4);
    let out = Command::new(ansible_playbook())
        .envs([
            ("ANSIBLE_PIPELINING", "1"),
            ("ANSIBLE_NOCOLOR", "1"),
            ("ANSIBLE_STDOUT_CALLBACK", "default"),
            ("ANSIBLE_RETRY_FILES_ENABLED", "0"),
            ("ANSIBLE_PYTHON_INTERPRETER", "/usr/bin/python3"),
        ])
        .env("HOME", home.path())
        .env_remove("ANSIBLE_CONFIG")
        .env_remove("ANSIBLE_ROLES_PATH")
        .current_dir(repo_root())
        .arg(PLAYBOOK)
        .arg("-i")
        .arg(lab.inventory())
        .args(["-e", "version=2"])
        .stdin(Stdio::null())
        .output()
        .expect("run ansible-playbook (scripts/install-ansible installs it)");
    let counts = probe.stop();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ansible-playbook: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_rolled_out(&lab, &counts, &old_pids, &stdout);
}
