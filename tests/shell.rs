//! The framed shells SSH hosts run ordinary commands in (src/host/shell.rs), on the lab:
//! the same answers as a fresh session per command, become with and without a password,
//! and a command that times out killed on the host.

mod support;

use std::time::{Duration, Instant};
use support::{pids_matching, Lab};
use zdd::host::ssh::SshHost;
use zdd::host::{
    Become, CommandOutput, ConnectSpec, ConnectionSettings, Host, HostError, Password, RemoteCommand,
};
use zdd::inventory::Inventory;

async fn connect(lab: &Lab, host: &str, user: Option<&str>, dir: &tempfile::TempDir) -> SshHost {
    let inv = Inventory::load(&lab.inventory()).unwrap();
    let mut spec =
        ConnectSpec::from_vars(host, &inv.host_vars(host), &ConnectionSettings::default()).unwrap();
    if let Some(user) = user {
        spec.user = Some(user.to_owned());
    }
    SshHost::connect(&spec, &dir.path().join(user.unwrap_or("ctl")))
        .await
        .unwrap()
}

/// Command `i` of a varied set: output with and without a final newline, stderr, exit
/// codes, a syntax error, standard input, quotes, become.
fn command(i: usize) -> RemoteCommand {
    let cmd = match i % 10 {
        0 => RemoteCommand::new(format!("echo line {i}")),
        1 => RemoteCommand::new(format!("printf 'no newline {i}'; printf 'err {i}' >&2")),
        2 => RemoteCommand::new(format!("echo out; exit {}", i % 7)),
        3 => RemoteCommand::new("if then fi ("),
        4 => RemoteCommand::new("cat; echo \"[$?]\"").stdin(format!("in'put {i}\n\\x").into_bytes()),
        5 => RemoteCommand::new("cat"),
        6 => RemoteCommand::new("echo \"it's $((6 * 7))\" '\"quoted\"'; pwd"),
        7 => RemoteCommand::new("id -un").run_as(Some(Become::sudo("root"))),
        8 => RemoteCommand::new("wc -c").stdin(vec![b'x'; 70_000 + i]),
        _ => RemoteCommand::new("echo $HOME; umask").run_as(Some(Become::sudo("root"))),
    };
    cmd
}

#[tokio::test]
async fn two_hundred_commands_answer_as_fresh_sessions_do() {
    let lab = Lab::start(1);
    let dir = tempfile::tempdir().unwrap();
    let host = connect(&lab, "web1", None, &dir).await;
    let mut framed = Vec::new();
    for i in 0..200 {
        framed.push(host.run(&command(i)).await.unwrap());
    }
    host.set_framed(false);
    let mut fresh = Vec::new();
    for i in 0..200 {
        fresh.push(host.run(&command(i)).await.unwrap());
    }
    for (i, (framed, fresh)) in framed.iter().zip(&fresh).enumerate() {
        // dash names itself in a syntax error: `sh: 1:` from `sh -c`, `sh: 2:` from `sh -s`...
        let normal = |out: &CommandOutput| CommandOutput {
            stderr: out
                .stderr
                .split_once("Syntax error")
                .map_or(out.stderr.clone(), |(_, rest)| rest.to_owned()),
            ..out.clone()
        };
        assert_eq!(
            normal(framed),
            normal(fresh),
            "command {i}: {:?}",
            command(i).script
        );
    }
    assert_eq!(framed[7].stdout, "root\n");
    assert_eq!(framed[2].rc, 2);
    assert_eq!(framed[1].stdout, "no newline 1");
    host.close().await;
}

#[tokio::test]
async fn become_with_a_password_through_the_shell_and_a_wrong_one_refused() {
    let lab = Lab::start(1);
    let dir = tempfile::tempdir().unwrap();
    let host = connect(&lab, "web1", Some("deploy-pw"), &dir).await;
    let mut root = Become::sudo("root");
    root.password = Some(Password::new("zdd-lab-pw").unwrap());
    for _ in 0..3 {
        let out = host
            .run(
                &RemoteCommand::new("id -un; cat")
                    .stdin(b"data".to_vec())
                    .run_as(Some(root.clone())),
            )
            .await
            .unwrap();
        assert_eq!((out.rc, out.stdout.as_str()), (0, "root\ndata"), "{out:?}");
    }
    // Without a password sudo refuses, framed or not: a become error as always.
    let refused = host
        .run(&RemoteCommand::new("id -un").run_as(Some(Become::sudo("root"))))
        .await;
    assert!(matches!(refused, Err(HostError::Become(_))), "{refused:?}");
    let mut wrong = root.clone();
    wrong.password = Some(Password::new("not-the-password").unwrap());
    let refused = host.run(&RemoteCommand::new("id -un").run_as(Some(wrong))).await;
    assert!(matches!(refused, Err(HostError::Become(_))), "{refused:?}");
    let out = host.run(&RemoteCommand::new("id -un")).await.unwrap();
    assert_eq!(out.stdout, "deploy-pw\n");
    host.close().await;
}

#[test]
fn a_task_that_times_out_leaves_no_process_on_the_host() {
    let lab = Lab::start(1);
    let dir = tempfile::tempdir().unwrap();
    // A duration no other process on this machine sleeps, to find ours.
    let nap = format!("300.{}", std::process::id());
    let playbook = dir.path().join("timeout.yml");
    std::fs::write(
        &playbook,
        format!(
            "- hosts: web1\n  gather_facts: false\n  tasks:\n    - command: sleep {nap}\n      timeout: 2\n      ignore_errors: true\n    - command: sleep {nap}\n      become: true\n      timeout: 2\n"
        ),
    )
    .unwrap();
    let sleeping = || pids_matching(|line| line.contains(&format!("sleep {nap}")));
    let started = Instant::now();
    let out = lab.zdd().apply(&playbook).run();
    assert_eq!(out.code, Some(2), "{}", out.stdout);
    assert_eq!(
        out.stdout.matches("Timed out after 2 second(s)").count(),
        2,
        "{}",
        out.stdout
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(
        sleeping(),
        Vec::<u32>::new(),
        "the timed-out command still runs on the host"
    );
}
