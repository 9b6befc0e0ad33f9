//! A templated `serial` is rendered once, when the playbook loads, with the play's vars
//! and `-e`: `zdd plan`, `zdd apply`, `zdd status` and `--resume` cut the same batches.

mod support;

use support::Lab;

#[test]
fn plan_apply_status_and_resume_agree_on_a_templated_serial() {
    let lab = Lab::start(3);
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path();
    let playbook = cwd.join("rolling.yml");
    std::fs::write(
        &playbook,
        "- hosts: webappservers\n  gather_facts: false\n  serial: [\"{{ first }}\", \"{{ rest }}\"]\n  vars:\n    rest: \"{{ first | int + 1 }}\"\n  tasks:\n    \
         - name: Break where asked\n      shell: test ! -e {{ playbook_dir }}/break-{{ inventory_hostname }}\n",
    )
    .unwrap();
    let zdd = |command: &str| {
        lab.zdd()
            .current_dir(cwd)
            .arg(command)
            .arg(&playbook)
            .extra("first=1")
    };

    let plan = zdd("plan").run();
    plan.assert_code(0);
    let shown = plan.redacted();
    for line in ["serial: [1, 2]", "    1/2: web1", "    2/2: web2, web3"] {
        assert!(shown.contains(line), "no `{line}` in:\n{shown}");
    }

    std::fs::write(cwd.join("break-web3"), "").unwrap();
    zdd("apply").run().assert_code(2);
    // `status` reads the batches the journal recorded.
    let status = lab.zdd().current_dir(cwd).status(&playbook).run();
    status.assert_code(0);
    let shown = status.redacted();
    for line in [
        "  batch 1/2 web1: completed",
        "  batch 2/2 web2, web3: failed",
        "starting at play `webappservers` batch 2/2 (web2, web3)",
    ] {
        assert!(shown.contains(line), "no `{line}` in:\n{shown}");
    }

    std::fs::remove_file(cwd.join("break-web3")).unwrap();
    let resumed = zdd("apply").arg("--resume").run();
    resumed.assert_code(0);
    let output = resumed.all_output();
    assert!(
        output.contains("batch 1/2 (web1) completed in the run being resumed: skipping it"),
        "{output}"
    );
    assert!(!output.contains("[web1]"), "web1 ran again:\n{output}");
}
