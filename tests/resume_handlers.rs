//! Handlers a stopped run left pending run when it is resumed, on the real lab: stopped
//! (a second Ctrl-C) after a config changed and before its restart handler ran, `--resume`
//! finds the config unchanged, so only the journal can say the restart is still owed.

mod support;

use std::time::Duration;
use support::Lab;

#[test]
fn resume_runs_the_handlers_a_stopped_batch_left_pending() {
    let lab = Lab::start(1);
    let work = tempfile::tempdir().unwrap();
    let doc_root = lab.doc_root("web1");
    let playbook = work.path().join("config.yml");
    std::fs::write(
        &playbook,
        "- hosts: webappservers\n  serial: 1\n  become: true\n  gather_facts: false\n  tasks:\n    \
         - name: Write the config\n      copy:\n        content: \"setting 2\\n\"\n        \
           dest: \"{{ doc_root }}/app.conf\"\n      notify: restart web\n    \
         - name: Slow upgrade step\n      \
           shell: \"if [ -f {{ doc_root }}/slow ]; then sleep 3; fi\"\n  \
         handlers:\n    - name: restart web\n      shell: \"date > {{ doc_root }}/restarted\"\n",
    )
    .unwrap();
    std::fs::write(doc_root.join("slow"), "").unwrap();
    let zdd = || lab.zdd().current_dir(work.path()).apply(&playbook);

    let mut first = zdd().spawn();
    first.wait_for_line("TASK [Slow upgrade step]", Duration::from_secs(30));
    for _ in 0..2 {
        first.interrupt();
        std::thread::sleep(Duration::from_millis(100));
    }
    first.wait().assert_code(130);
    assert_eq!(
        std::fs::read_to_string(doc_root.join("app.conf")).unwrap(),
        "setting 2\n"
    );
    assert!(
        !doc_root.join("restarted").exists(),
        "the handler had not run yet"
    );

    std::fs::remove_file(doc_root.join("slow")).unwrap();
    let resumed = zdd().arg("--resume").run();
    resumed.assert_code(0);
    assert!(
        resumed.human().contains(
            "[WARNING]: --resume: web1 was notified of restart web and never ran it: it runs with web1's batch\n"
        ),
        "{resumed}"
    );
    assert_eq!(
        resumed.task_results("Write the config"),
        ["ok: [web1]"],
        "the config is unchanged now: {resumed}"
    );
    // Owed from before: it runs at the batch's first handler flush (after pre_tasks).
    assert_eq!(
        resumed.screen("RUNNING HANDLER [restart web]").as_deref(),
        Some("changed: [web1]"),
        "{resumed}"
    );
    assert!(doc_root.join("restarted").exists(), "the owed restart ran");
}
