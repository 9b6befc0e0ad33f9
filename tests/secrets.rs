//! Secrets stay secret, on the real lab: a `no_log` task's loop items, its script under
//! `-vv`, a template error over a secret variable, and every command's script on the
//! target's process list (where any local user could read it).

mod support;

use support::Lab;

const SECRET: &str = "S3CRET-4f9a";

#[test]
fn no_log_loops_traces_and_scripts_on_the_target_never_show_the_secret() {
    let lab = Lab::start(2);
    let work = tempfile::tempdir().unwrap();
    let playbook = work.path().join("secret.yml");
    std::fs::write(
        &playbook,
        format!(
            "- hosts: webappservers\n  gather_facts: false\n  vars:\n    secret: {SECRET}\n  tasks:\n    \
             - name: Loop over credentials\n      shell: test -n \"{{{{ item.password }}}}\"\n      \
               loop:\n        - {{ user: admin, password: \"{{{{ secret }}}}\" }}\n      no_log: true\n    \
             - name: A slow script that holds the secret, as root\n      \
               shell: \"sleep 1; echo {{{{ secret }}}} > /dev/null\"\n      become: true\n      no_log: true\n    \
             - name: The same without no_log\n      shell: \"sleep 1; test {{{{ secret }}}} = {SECRET}\"\n"
        ),
    )
    .unwrap();
    let (out, seen) = support::process_lines_showing(SECRET, || {
        lab.zdd()
            .apply(&playbook)
            .args(["-vv", "--output", "json", "--no-progress"])
            .run()
    });
    out.assert_code(0);
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert_eq!(seen, Vec::<String>::new(), "the secret was on the process list");
    // The loop: Ansible's label for a censored item, in the human output and in JSON.
    assert!(
        stderr.contains("changed: [web1] => (item=(censored due to no_log))"),
        "{stderr}"
    );
    assert!(
        stdout.contains(r#""item":"(censored due to no_log)""#),
        "{stdout}"
    );
    // -vv shows the commands, but not a no_log task's.
    assert!(stderr.contains("EXEC <censored>"), "{stderr}");
    assert!(
        stderr.contains("EXEC sleep 1; test "),
        "-vv shows the other tasks: {stderr}"
    );
    let no_log_part = stdout.lines().filter(|l| !l.contains("The same without no_log"));
    for line in no_log_part {
        assert!(!line.contains(SECRET), "JSON line leaks the secret: {line}");
    }
    let leaked: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(SECRET) && !l.contains("sleep 1; test "))
        .collect();
    assert_eq!(
        leaked,
        Vec::<&str>::new(),
        "only the task without no_log may show it"
    );
}

#[test]
fn a_template_error_names_the_variable_but_not_its_value() {
    let lab = Lab::start(1);
    let work = tempfile::tempdir().unwrap();
    let playbook = work.path().join("broken.yml");
    std::fs::write(
        &playbook,
        format!(
            "- hosts: webappservers\n  gather_facts: false\n  vars:\n    db_password: {SECRET}\n  tasks:\n    \
             - name: Add to a string\n      debug:\n        msg: \"{{{{ db_password + 1 }}}}\"\n"
        ),
    )
    .unwrap();
    let junit = work.path().join("junit.xml");
    let report = work.path().join("report.html");
    let out = lab
        .zdd()
        .current_dir(work.path())
        .apply(&playbook)
        .args(["--output", "json", "--no-progress", "--junit"])
        .arg(&junit)
        .arg("--report")
        .arg(&report)
        .run();
    out.assert_code(2);
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert!(
        stderr.contains("Referenced variables (values not shown): ") && stderr.contains("db_password"),
        "the error names the variable: {stderr}"
    );
    let journal_dir = work.path().join(".zdd/journal");
    let journal: String = std::fs::read_dir(&journal_dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let junit = std::fs::read_to_string(&junit).unwrap();
    // The page marks the failure with its message, which holds no value.
    let report = std::fs::read_to_string(&report).unwrap();
    assert!(
        report.contains("<g class=\"failure\" data-host=\"web1\"")
            && report.contains("tried to use + operator"),
        "{report}"
    );
    for (what, text) in [
        ("output", stderr.as_str()),
        ("JSON", stdout.as_str()),
        ("journal", journal.as_str()),
        ("JUnit", junit.as_str()),
        ("HTML report", report.as_str()),
    ] {
        assert!(!text.contains(SECRET), "the {what} holds the secret:\n{text}");
    }
}

/// `no_log` written as a template is decided on each host at run time, and censors as
/// much as a written `no_log: true`: loop items, `-vv` commands, JSON, the journal. One
/// that cannot be decided fails the host and still hides the output.
#[test]
fn a_templated_no_log_decided_per_host_censors_everything() {
    let lab = Lab::start(2);
    let work = tempfile::tempdir().unwrap();
    let playbook = work.path().join("secret.yml");
    std::fs::write(
        &playbook,
        format!(
            "- hosts: webappservers\n  gather_facts: false\n  vars:\n    secret: {SECRET}\n    hide: \"{{{{ inventory_hostname != 'nobody' }}}}\"\n  tasks:\n    \
             - name: Loop over credentials\n      shell: test -n \"{{{{ item.password }}}}\"\n      \
               loop:\n        - {{ user: admin, password: \"{{{{ secret }}}}\" }}\n      no_log: \"{{{{ hide }}}}\"\n    \
             - name: A script that holds the secret\n      shell: \"echo {{{{ secret }}}} > /dev/null\"\n      no_log: \"{{{{ hide | bool }}}}\"\n    \
             - name: Only web1 decides\n      set_fact:\n        maybe_flag: true\n      when: inventory_hostname == 'web1'\n    \
             - name: Undecided on web2\n      shell: \"echo {{{{ secret }}}}\"\n      no_log: \"{{{{ maybe_flag }}}}\"\n"
        ),
    )
    .unwrap();
    let report = work.path().join("report.html");
    let out = lab
        .zdd()
        .current_dir(work.path())
        .apply(&playbook)
        .args(["-vv", "--output", "json", "--no-progress", "--report"])
        .arg(&report)
        .run();
    // web2 cannot render `maybe_flag`: it fails that task, its output hidden.
    out.assert_code(2);
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert!(
        stderr.contains("fatal: [web2]: FAILED! => {\"censored\": "),
        "{stderr}"
    );
    assert!(
        stderr.contains("changed: [web1] => (item=(censored due to no_log))"),
        "{stderr}"
    );
    assert!(stderr.contains("EXEC <censored>"), "{stderr}");
    let journal_dir = work.path().join(".zdd/journal");
    let journal: String = std::fs::read_dir(&journal_dir)
        .map(|dir| {
            dir.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                .collect()
        })
        .unwrap_or_default();
    // The page marks web2's failure, its result censored.
    let report = std::fs::read_to_string(&report).unwrap();
    assert!(
        report.contains("<g class=\"failure\" data-host=\"web2\"") && report.contains("no_log"),
        "{report}"
    );
    for (what, text) in [
        ("output", stderr.as_str()),
        ("JSON", stdout.as_str()),
        ("journal", journal.as_str()),
        ("HTML report", report.as_str()),
    ] {
        assert!(!text.contains(SECRET), "the {what} holds the secret:\n{text}");
    }
}

#[test]
fn a_no_log_tasks_environment_is_in_no_trace_no_audit_line_and_no_process_list() {
    let lab = Lab::start(1);
    let work = tempfile::tempdir().unwrap();
    let playbook = work.path().join("env.yml");
    let audit = work.path().join("audit.jsonl");
    std::fs::write(
        &playbook,
        format!(
            "- hosts: webappservers\n  gather_facts: false\n  environment:\n    TOKEN: {SECRET}\n  tasks:\n    \
             - name: Uses the token\n      shell: \"sleep 1; test \\\"$TOKEN\\\" = {SECRET}\"\n      become: true\n      no_log: true\n"
        ),
    )
    .unwrap();
    let (out, seen) = support::process_lines_showing(SECRET, || {
        lab.zdd()
            .apply(&playbook)
            .args(["-vv", "--output", "json", "--no-progress", "--audit-log"])
            .arg(&audit)
            .run()
    });
    out.assert_code(0);
    assert_eq!(seen, Vec::<String>::new(), "the secret was on the process list");
    assert!(out.stderr.contains("EXEC <censored>"), "{}", out.stderr);
    for (what, text) in [
        ("stdout", out.stdout.clone()),
        ("stderr", out.stderr.clone()),
        ("audit log", std::fs::read_to_string(&audit).unwrap()),
    ] {
        assert!(!text.contains(SECRET), "{what} leaks the environment: {text}");
    }
}
