//! Getting in and becoming, on the real lab: `-K` (asked on a terminal, or read from
//! standard input) and `ansible_become_password` against the lab's `deploy-pw`, whose sudo
//! asks for its password; a wrong one refused before any host changes; `-k` against the
//! lab's sshd with password authentication; `become_method: su` as root; methods zdd
//! does not know refused before any host. The passwords are never in the output, the
//! JSON, the journal, the audit log or on the process list.

mod support;

use std::path::{Path, PathBuf};
use support::{Lab, Zdd};

/// `deploy-pw`'s password in the lab (examples/lab/lab.sh).
const PASSWORD: &str = "zdd-lab-pw";

/// The command lines that showed the password while `run` ran, but for this test
/// binary's own typing at a terminal (another test, `printf` in a harness shell).
fn password_on_process_list<T>(run: impl FnOnce() -> T) -> (T, Vec<String>) {
    let (result, mut seen) = support::process_lines_showing(PASSWORD, run);
    seen.retain(|line| !line.contains("| script -q -e -c"));
    (result, seen)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const WHO_AM_I: &str = "- hosts: web1\n  gather_facts: false\n  tasks:\n    \
    - name: Touch as the login user\n      file:\n        path: \"{{ marker }}\"\n        state: touch\n    \
    - name: As root\n      shell: \"sleep 1; id -un; cat\"\n      args:\n        stdin: through sudo\n      \
      become: true\n      register: who\n    \
    - debug:\n        msg: \"{{ who.stdout_lines }}\"\n    \
    - debug:\n        var: ansible_become_password\n";

#[test]
fn ask_become_pass_on_a_terminal_then_a_wrong_one_refused_before_any_change() {
    let lab = Lab::start(1);
    let work = tempfile::tempdir().unwrap();
    let playbook = write(work.path(), "who.yml", WHO_AM_I);
    let marker = format!("/home/deploy-pw/zdd-access-{}", std::process::id());
    let _ = std::fs::remove_file(&marker);
    let zdd = |lab: &Lab| {
        lab.zdd()
            .current_dir(work.path())
            .apply(&playbook)
            .args(["-e", "ansible_user=deploy-pw", "-e"])
            .arg(format!("marker={marker}"))
            .arg("--no-progress")
    };

    let run = zdd(&lab).arg("-K").run_on_terminal_typing(1.5, &[PASSWORD]);
    run.assert_code(0);
    let screen = run.stdout.replace('\r', "");
    assert!(screen.contains("BECOME password: \n"), "{screen}");
    assert!(
        screen.contains("\"msg\": [\n        \"root\",\n        \"through sudo\"\n    ]"),
        "sudo ran the task as root, its stdin intact: {screen}"
    );
    assert!(!screen.contains(PASSWORD), "the password was echoed: {screen}");
    std::fs::remove_file(&marker).expect("the first task ran");

    let run = zdd(&lab).arg("-K").run_with_stdin("not-the-password\n");
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("error: preflight failed on 1 host(s); nothing was changed:\n  web1: become password rejected by sudo for user root\n"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("not-the-password"), "{}", run.stderr);
    assert!(
        !Path::new(&marker).exists(),
        "a task ran before the password was checked"
    );

    // `become_ask_pass` in ansible.cfg asks as -K does (here on standard input).
    let project = tempfile::tempdir().unwrap();
    write(
        project.path(),
        "ansible.cfg",
        "[privilege_escalation]\nbecome_ask_pass = True\n",
    );
    let run = zdd(&lab)
        .current_dir(project.path())
        .run_with_stdin(&format!("{PASSWORD}\n"));
    run.assert_code(0);
    std::fs::remove_file(&marker).expect("the first task ran");
    // An unknown method from the environment is refused, naming where it came from.
    let run = zdd(&lab).env("ANSIBLE_BECOME_METHOD", "pbrun").run();
    run.assert_code(5);
    assert!(
        run.stderr
            .contains("error: become_method (env ANSIBLE_BECOME_METHOD) `pbrun` is not supported by zdd"),
        "{}",
        run.stderr
    );

    // No password at all: sudo's own reason, and what to pass.
    let run = zdd(&lab).run();
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("web1: sudo -n -u root failed: sudo: a password is required (pass -K"),
        "{}",
        run.stderr
    );
}

#[test]
fn become_password_from_the_inventory_is_in_no_output_log_or_process_list() {
    let lab = Lab::start(1);
    let work = tempfile::tempdir().unwrap();
    let playbook = write(work.path(), "who.yml", WHO_AM_I);
    let inventory = std::fs::read_to_string(lab.inventory()).unwrap();
    let inventory = write(
        work.path(),
        "inventory.ini",
        &format!(
            "{inventory}\n[webappservers:vars]\nansible_user=deploy-pw\nansible_become_password={PASSWORD}\n"
        ),
    );
    let marker = format!("/home/deploy-pw/zdd-access-inv-{}", std::process::id());
    let audit = work.path().join("audit.jsonl");
    let (run, seen) = password_on_process_list(|| {
        Zdd::new()
            .current_dir(work.path())
            .apply(&playbook)
            .inventory(&inventory)
            .arg("-e")
            .arg(format!("marker={marker}"))
            .args(["-vv", "--output", "json", "--no-progress", "--audit-log"])
            .arg(&audit)
            .run()
    });
    let _ = std::fs::remove_file(&marker);
    run.assert_code(0);
    assert!(
        run.stdout.contains(r#""msg":["root","through sudo"]"#),
        "{}",
        run.stdout
    );
    assert_eq!(seen, Vec::<String>::new(), "the password was on the process list");
    let journal: String = std::fs::read_dir(work.path().join(".zdd/journal"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    for (what, text) in [
        ("stdout (JSON)", run.stdout.clone()),
        ("stderr (-vv)", run.stderr.clone()),
        ("audit log", std::fs::read_to_string(&audit).unwrap()),
        ("journal", journal),
    ] {
        assert!(!text.contains(PASSWORD), "the {what} holds the password:\n{text}");
    }
}

#[test]
fn ask_pass_logs_in_with_the_ssh_password_through_askpass() {
    let lab = Lab::start(1);
    let work = tempfile::tempdir().unwrap();
    let playbook = write(
        work.path(),
        "login.yml",
        "- hosts: web1\n  gather_facts: false\n  tasks:\n    \
         - command: sh -c 'sleep 1; id -un'\n      register: who\n    \
         - debug:\n        var: who.stdout\n",
    );
    // Keys are off: only the password can let zdd in.
    let no_keys = format!(
        "ansible_ssh_common_args='-o UserKnownHostsFile={} -o PubkeyAuthentication=no'",
        lab.known_hosts().display()
    );
    let zdd = || {
        lab.zdd().current_dir(work.path()).apply(&playbook).args([
            "-e",
            "ansible_user=deploy-pw",
            "-e",
            &no_keys,
            "--no-progress",
            "-vvv",
        ])
    };
    let (run, seen) = password_on_process_list(|| zdd().arg("-k").run_with_stdin(&format!("{PASSWORD}\n")));
    run.assert_code(0);
    assert!(
        run.stdout.contains("\"who.stdout\": \"deploy-pw\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("SSH_ASKPASS_REQUIRE=\"force\""),
        "{}",
        run.stderr
    );
    assert_eq!(seen, Vec::<String>::new(), "the password was on the process list");
    assert!(!run.stdout.contains(PASSWORD) && !run.stderr.contains(PASSWORD));

    // A wrong password: unreachable (exit 4) at once, ssh asked once.
    let started = std::time::Instant::now();
    let run = zdd().arg("-k").run_with_stdin("wrong\n");
    run.assert_code(4);
    assert!(run.stderr.contains("Permission denied"), "{}", run.stderr);
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());

    // -k and -K on a terminal: an empty become password is the SSH password, as in Ansible.
    let run = zdd()
        .args(["-k", "-K", "-e", "ansible_become=true"])
        .run_on_terminal_typing(1.5, &[PASSWORD, ""]);
    run.assert_code(0);
    let screen = run.stdout.replace('\r', "");
    assert!(
        screen.contains("SSH password: \nBECOME password[defaults to SSH password]: \n"),
        "{screen}"
    );
    assert!(screen.contains("\"who.stdout\": \"root\""), "{screen}");
    assert!(!screen.contains(PASSWORD), "the password was echoed: {screen}");

    // `ansible_ssh_pass` in the inventory takes the same way, no flag needed.
    let run = zdd().arg("-e").arg(format!("ansible_ssh_pass={PASSWORD}")).run();
    run.assert_code(0);
}

#[test]
fn su_as_root_becomes_another_user_with_its_stdin_intact() {
    let work = tempfile::tempdir().unwrap();
    let playbook = write(
        work.path(),
        "su.yml",
        "- hosts: localhost\n  gather_facts: false\n  become: true\n  become_user: deploy\n  tasks:\n    \
         - shell: \"id -un; echo $HOME; cat\"\n      args:\n        stdin: through su\n      register: who\n    \
         - debug:\n        msg: \"{{ who.stdout_lines }}\"\n",
    );
    let run = Zdd::new()
        .no_inventory()
        .current_dir(work.path())
        .apply(&playbook)
        .args(["--become-method", "su", "--no-progress"])
        .run();
    run.assert_code(0);
    assert!(
        run.stdout.contains(
            "\"msg\": [\n        \"deploy\",\n        \"/home/deploy\",\n        \"through su\"\n    ]"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn su_with_a_password_and_unknown_methods_are_refused_before_any_host() {
    let lab = Lab::start(1);
    let work = tempfile::tempdir().unwrap();
    let playbook = write(
        work.path(),
        "su.yml",
        "- hosts: web1\n  gather_facts: false\n  become: true\n  become_method: su\n  tasks:\n    \
         - command: id -un\n",
    );
    let run = lab
        .zdd()
        .current_dir(work.path())
        .apply(&playbook)
        .args(["-K", "--no-progress"])
        .run_with_stdin("whatever\n");
    run.assert_code(5);
    insta::assert_snapshot!("su_with_a_password", run.redacted());

    // su where it would ask (not root): refused by the preflight, before su reads anything.
    let run = lab
        .zdd()
        .current_dir(work.path())
        .apply(&playbook)
        .arg("--no-progress")
        .run();
    run.assert_code(2);
    insta::assert_snapshot!("su_that_asks_a_password", run.redacted());

    let run = lab
        .zdd()
        .current_dir(work.path())
        .apply(&playbook)
        .args(["-e", "ansible_become_method=doas", "--no-progress"])
        .run();
    run.assert_code(5);
    insta::assert_snapshot!("unknown_become_method_variable", run.redacted());

    let pbrun = write(
        work.path(),
        "pbrun.yml",
        "- hosts: web1\n  gather_facts: false\n  tasks:\n    - command: id -un\n      become: true\n      become_method: pbrun\n",
    );
    let run = lab
        .zdd()
        .current_dir(work.path())
        .redact(work.path().display(), "[DIR]")
        .apply(&pbrun)
        .run();
    run.assert_code(5);
    insta::assert_snapshot!("unknown_become_method_keyword", run.redacted());
}
