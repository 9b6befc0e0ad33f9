use super::*;
use crate::journal::{ExtraVarsInput, Identity, RollbackMark, RunInputs, SwitchRecord, FORMAT};

fn inputs(version: &str) -> RunInputs {
    RunInputs {
        extra_vars: vec![ExtraVarsInput::Text {
            text: format!("version={version}"),
        }],
        zdd_version: "0.1.0".into(),
        user: "deploy".into(),
        ..RunInputs::default()
    }
}

/// A run started at `T<n>` of `-e version=<version>`.
fn run(n: u32, state: RunState, version: &str) -> RunRecord {
    RunRecord {
        started: format!("T{n}"),
        finished: Some(format!("T{n}+")),
        state,
        exit_code: Some(if state == RunState::Completed { 0 } else { 2 }),
        playbook_sha256: "p".into(),
        inputs: Some(inputs(version)),
        switches: Vec::new(),
        pid: 1,
    }
}

fn rollback_run(n: u32, state: RunState, version: &str, of: u32, to: u32) -> RunRecord {
    let mut r = run(n, state, version);
    r.inputs.as_mut().unwrap().rollback = Some(RollbackMark {
        of: format!("T{of}"),
        to: format!("T{to}"),
        color: None,
    });
    r
}

fn switched(mut r: RunRecord, from: Option<&str>, to: &str) -> RunRecord {
    r.switches.push(SwitchRecord {
        host: "lb".into(),
        path: "/etc/nginx/conf.d/app-upstream.conf".into(),
        upstream: "app".into(),
        from: from.map(str::to_owned),
        to: to.into(),
        at: format!("{}+", r.started),
    });
    r
}

/// The journal whose current run is the last of `runs`, the others its history.
fn journal_of(mut runs: Vec<RunRecord>) -> Journal {
    let last = runs.pop().unwrap();
    Journal {
        format: FORMAT,
        identity: Identity {
            playbook: "/srv/deploy.yml".into(),
            inventory: vec!["/srv/hosts.ini".into()],
            playbook_sha256: last.playbook_sha256.clone(),
            extra_vars_sha256: "e".into(),
            limit: None,
        },
        pid: last.pid,
        started: last.started.clone(),
        updated: "u".into(),
        finished: last.finished.clone(),
        state: last.state,
        exit_code: last.exit_code,
        error: None,
        resumed_from: None,
        plan: Vec::new(),
        shuffle_seed: None,
        in_flight: None,
        batches: Vec::new(),
        out_of_rotation: Vec::new(),
        inputs: last.inputs.clone(),
        switches: last.switches.clone(),
        history: runs,
    }
}

fn decide(runs: Vec<RunRecord>, blue_green: bool) -> Result<RollbackPlan, Diagnostic> {
    plan_rollback(&journal_of(runs), Path::new("j.json"), blue_green, |_| false)
}

/// (undone, re-run, color) by their start times.
fn chosen(runs: Vec<RunRecord>, blue_green: bool) -> (String, String, Option<String>) {
    let plan = decide(runs, blue_green).unwrap_or_else(|d| panic!("{}", d.message));
    (plan.undo.started, plan.target.started, plan.color)
}

fn pair(undo: &str, target: &str) -> (String, String, Option<String>) {
    (undo.into(), target.into(), None)
}

use RunState::{Completed, Failed, Interrupted};

#[test]
fn rolling_back_the_live_deploy_re_runs_the_one_before_it() {
    let plan = decide(vec![run(1, Completed, "2"), run(2, Completed, "3")], false).unwrap();
    assert_eq!(
        (plan.undo.started.as_str(), plan.target.started.as_str()),
        ("T2", "T1")
    );
    assert_eq!(
        plan.target.inputs.unwrap().extra_vars,
        [ExtraVarsInput::Text {
            text: "version=2".into()
        }]
    );
    assert_eq!(plan.color, None);
}

#[test]
fn which_run_is_undone_and_which_re_run_across_failures_and_earlier_rollbacks() {
    // A failed deploy is undone by re-running the deploy still in effect.
    assert_eq!(
        chosen(vec![run(1, Completed, "2"), run(2, Failed, "3")], false),
        pair("T2", "T1")
    );
    // Failed and interrupted runs in between are not rolled back to.
    assert_eq!(
        chosen(
            vec![
                run(1, Completed, "1"),
                run(2, Failed, "2"),
                run(3, Interrupted, "2"),
                run(4, Completed, "3")
            ],
            false
        ),
        pair("T4", "T1")
    );
    // After a completed rollback (v3 undone, v2 back), the next one goes on to v1.
    assert_eq!(
        chosen(
            vec![
                run(1, Completed, "1"),
                run(2, Completed, "2"),
                run(3, Completed, "3"),
                rollback_run(4, Completed, "2", 3, 2)
            ],
            false
        ),
        pair("T2", "T1")
    );
    // A rollback that failed is tried again with the same target.
    assert_eq!(
        chosen(
            vec![
                run(1, Completed, "2"),
                run(2, Completed, "3"),
                rollback_run(3, Failed, "2", 2, 1)
            ],
            false
        ),
        pair("T2", "T1")
    );
    // --check runs changed nothing: never undone, never re-run.
    let mut check = run(3, Completed, "4");
    check.inputs.as_mut().unwrap().check = true;
    assert_eq!(
        chosen(vec![run(1, Completed, "2"), run(2, Completed, "3"), check], false),
        pair("T2", "T1")
    );
}

#[test]
fn no_earlier_success_is_an_error_that_lists_the_runs_found() {
    let err = decide(vec![run(1, Failed, "1"), run(2, Completed, "2")], false).unwrap_err();
    assert_eq!(
        err.message,
        "nothing to roll back to: no successful run before the run started T2 in the journal j.json; \
         it holds 2 runs: started T1 failed (-e version=1); started T2 completed (-e version=2)"
    );
    let err = decide(vec![run(1, Completed, "1")], false).unwrap_err();
    assert!(
        err.message
            .contains("it holds 1 run: started T1 completed (-e version=1)"),
        "{}",
        err.message
    );
}

#[test]
fn a_run_still_going_or_without_recorded_inputs_is_refused() {
    let mut going = run(2, RunState::Running, "3");
    going.pid = 7;
    let err = plan_rollback(
        &journal_of(vec![run(1, Completed, "2"), going]),
        Path::new("j.json"),
        false,
        |pid| pid == 7,
    )
    .unwrap_err();
    assert!(err.message.contains("is still running"), "{}", err.message);

    let mut old = run(1, Completed, "2");
    old.inputs = None;
    let err = decide(vec![old, run(2, Completed, "3")], false).unwrap_err();
    assert!(
        err.message.contains("did not record its inputs"),
        "{}",
        err.message
    );

    let mut withheld = run(1, Completed, "2");
    withheld.inputs.as_mut().unwrap().extra_vars = vec![ExtraVarsInput::Withheld];
    let err = decide(vec![withheld, run(2, Completed, "3")], false).unwrap_err();
    assert!(err.message.contains("held a secret"), "{}", err.message);
}

#[test]
fn a_blue_green_run_that_switched_is_switched_back_with_its_own_inputs() {
    let runs = vec![
        switched(run(1, Completed, "2"), None, "blue"),
        switched(run(2, Completed, "3"), Some("blue"), "green"),
    ];
    assert_eq!(
        chosen(runs.clone(), true),
        ("T2".into(), "T2".into(), Some("blue".into()))
    );
    // The same journal for a playbook that does not read zdd_rollback_to: re-run T1.
    assert_eq!(chosen(runs, false), pair("T2", "T1"));
    // A failed deploy after the switch does not count: the last successful one does.
    let runs = vec![
        switched(run(1, Completed, "2"), Some("green"), "blue"),
        switched(run(2, Failed, "3"), Some("blue"), "green"),
    ];
    assert_eq!(
        chosen(runs, true),
        ("T1".into(), "T1".into(), Some("green".into()))
    );
}

#[test]
fn a_blue_green_run_with_nothing_to_switch_back_to_is_re_run_with_a_note() {
    let plan = decide(
        vec![
            run(1, Completed, "1"),
            switched(run(2, Completed, "2"), None, "blue"),
        ],
        true,
    )
    .unwrap();
    assert_eq!(
        (plan.undo.started.as_str(), plan.target.started.as_str()),
        ("T2", "T1")
    );
    assert_eq!(plan.color, None);
    assert_eq!(
        plan.notes,
        [
            "the last successful run (started T2) switched app on lb to blue from no color: \
          re-running the run before it instead"
        ]
    );
}
