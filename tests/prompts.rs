//! `vars_prompt`: asked on a terminal (a pseudo-terminal here) before any host is touched;
//! `private` answers are not echoed, `confirm` asks twice, an empty answer takes the
//! default, `-e` skips the question; without a terminal, a question with no default is an
//! error naming where it was written (exit 5).

mod support;

use support::Zdd;

const PLAYBOOK: &str = "- hosts: localhost\n  gather_facts: false\n  vars_prompt:\n    \
    - name: version\n      prompt: Which version\n      default: \"1.0\"\n      private: false\n    \
    - name: password\n      confirm: true\n  tasks:\n    \
    - copy:\n        content: \"{{ version }} {{ password }}\"\n        dest: \"{{ out }}\"\n";

fn setup() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let playbook = dir.path().join("prompt.yml");
    std::fs::write(&playbook, PLAYBOOK).unwrap();
    let out = dir.path().join("answers");
    (dir, playbook, out)
}

#[test]
fn asks_on_a_terminal_with_default_confirm_and_no_echo() {
    let (_dir, playbook, out) = setup();
    let run = Zdd::new()
        .apply(&playbook)
        .arg("--no-progress")
        .arg("-e")
        .arg(format!("out={}", out.display()))
        .run_on_terminal_typing(1.5, &["", "s3cret-a", "s3cret-b", "s3cret-a", "s3cret-a"]);
    run.assert_code(0);
    let screen = run.stdout.replace('\r', "");
    assert!(screen.contains("Which version [1.0]: \n"), "{screen}");
    assert!(
        screen.contains("password: \nconfirm password: \n***** VALUES ENTERED DO NOT MATCH ****\n"),
        "{screen}"
    );
    assert!(
        !screen.contains("s3cret"),
        "a private answer was echoed: {screen}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "1.0 s3cret-a");
}

#[test]
fn extra_vars_skip_the_question_and_no_terminal_takes_the_default() {
    let (_dir, playbook, out) = setup();
    let run = Zdd::new()
        .apply(&playbook)
        .args(["-e", "password=given"])
        .arg("-e")
        .arg(format!("out={}", out.display()))
        .run();
    run.assert_code(0);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "1.0 given");
}

#[test]
fn no_terminal_and_no_default_is_an_error_before_any_host() {
    let (dir, playbook, out) = setup();
    let run = Zdd::new()
        .apply(&playbook)
        .arg("-e")
        .arg(format!("out={}", out.display()))
        .redact(dir.path().display(), "[DIR]")
        .run();
    run.assert_code(5);
    assert!(!out.exists(), "a task ran");
    insta::assert_snapshot!(run.redacted());
}
