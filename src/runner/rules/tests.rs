//! The failure rules as a table: each row a batch, one task's outcomes, and what Ansible
//! does next (checked against ansible-playbook by the parity cases named in each row).

use super::*;

/// How a host came out of a task.
#[derive(Clone, Copy)]
enum Out {
    Ok,
    Changed,
    Failed,
    /// Failed with `ignore_errors`: the host stays.
    Ignored,
    Unreachable,
}

fn outcome(host: &str, out: Out) -> HostOutcome {
    let (status, failed, changed) = match out {
        Out::Ok => (Status::Ok, false, false),
        Out::Changed => (Status::Changed, false, true),
        Out::Failed => (Status::Failed, true, false),
        Out::Ignored => (Status::Failed, false, false),
        Out::Unreachable => (Status::Unreachable, false, false),
    };
    HostOutcome {
        host: host.into(),
        status,
        failed,
        changed,
    }
}

fn strings(hosts: &[&str]) -> Vec<String> {
    hosts.iter().map(|h| h.to_string()).collect()
}

struct Row {
    case: &'static str,
    rules: PlayRules,
    task_fatal: bool,
    batch: &'static [&'static str],
    outcomes: &'static [(&'static str, Out)],
    /// Hosts of the batch failed so far, this task's included.
    failed_in_batch: usize,
    active: &'static [&'static str],
    /// `None`: the batch goes on; else the NO MORE HOSTS reason and the stopped hosts.
    stop: Option<(&'static str, &'static [&'static str])>,
}

const NONE: PlayRules = PlayRules {
    any_errors_fatal: false,
    max_fail_percentage: None,
    force_handlers: false,
};

const fn max_fail(p: f64) -> PlayRules {
    PlayRules {
        max_fail_percentage: Some(p),
        ..NONE
    }
}

const ROWS: &[Row] = &[
    Row {
        case: "all ok: nobody leaves",
        rules: NONE,
        task_fatal: false,
        batch: &["web1", "web2"],
        outcomes: &[("web1", Out::Ok), ("web2", Out::Changed)],
        failed_in_batch: 0,
        active: &["web1", "web2"],
        stop: None,
    },
    Row {
        case: "a failed host leaves the play, the others go on (failed_host_leaves_play)",
        rules: NONE,
        task_fatal: false,
        batch: &["web1", "web2", "web3"],
        outcomes: &[("web1", Out::Ok), ("web2", Out::Failed), ("web3", Out::Ok)],
        failed_in_batch: 1,
        active: &["web1", "web3"],
        stop: None,
    },
    Row {
        case: "ignore_errors: the host stays",
        rules: NONE,
        task_fatal: false,
        batch: &["web1", "web2"],
        outcomes: &[("web1", Out::Ignored), ("web2", Out::Ok)],
        failed_in_batch: 0,
        active: &["web1", "web2"],
        stop: None,
    },
    Row {
        case: "an unreachable host leaves like a failed one",
        rules: NONE,
        task_fatal: false,
        batch: &["web1", "web2"],
        outcomes: &[("web1", Out::Unreachable), ("web2", Out::Ok)],
        failed_in_batch: 0,
        active: &["web2"],
        stop: None,
    },
    Row {
        case: "every host of the batch failed: the rollout ends (batch_all_failed_ends_play)",
        rules: NONE,
        task_fatal: false,
        batch: &["web1", "web2"],
        outcomes: &[("web1", Out::Failed), ("web2", Out::Unreachable)],
        failed_in_batch: 1,
        active: &[],
        stop: Some(("every host of the batch failed", &[])),
    },
    Row {
        case: "any_errors_fatal on the play stops every host (any_errors_fatal)",
        rules: PlayRules {
            any_errors_fatal: true,
            ..NONE
        },
        task_fatal: false,
        batch: &["web1", "web2", "web3"],
        outcomes: &[("web1", Out::Ok), ("web2", Out::Failed), ("web3", Out::Ok)],
        failed_in_batch: 1,
        active: &[],
        stop: Some(("any_errors_fatal: web2 failed", &["web1", "web3"])),
    },
    Row {
        case: "any_errors_fatal on the task (any_errors_fatal_task_and_block)",
        rules: NONE,
        task_fatal: true,
        batch: &["web1", "web2"],
        outcomes: &[("web1", Out::Failed), ("web2", Out::Ok)],
        failed_in_batch: 1,
        active: &[],
        stop: Some(("any_errors_fatal: web1 failed", &["web2"])),
    },
    Row {
        case: "any_errors_fatal without a failure does nothing",
        rules: PlayRules {
            any_errors_fatal: true,
            ..NONE
        },
        task_fatal: true,
        batch: &["web1", "web2"],
        outcomes: &[("web1", Out::Ignored), ("web2", Out::Changed)],
        failed_in_batch: 0,
        active: &["web1", "web2"],
        stop: None,
    },
    Row {
        case: "max_fail_percentage exceeded: 1 of 3 is over 30 (max_fail_percentage_exceeded)",
        rules: max_fail(30.0),
        task_fatal: false,
        batch: &["web1", "web2", "web3"],
        outcomes: &[("web1", Out::Ok), ("web2", Out::Failed), ("web3", Out::Ok)],
        failed_in_batch: 1,
        active: &[],
        stop: Some((
            "1 of 3 hosts failed, over max_fail_percentage 30",
            &["web1", "web3"],
        )),
    },
    Row {
        case: "max_fail_percentage at the limit is not over it (max_fail_percentage_at_limit)",
        rules: max_fail(50.0),
        task_fatal: false,
        batch: &["web1", "web2"],
        outcomes: &[("web1", Out::Failed), ("web2", Out::Ok)],
        failed_in_batch: 1,
        active: &["web2"],
        stop: None,
    },
    Row {
        case: "max_fail_percentage counts earlier failures of the batch",
        rules: max_fail(40.0),
        task_fatal: false,
        batch: &["web1", "web2", "web3", "web4"],
        outcomes: &[("web2", Out::Failed), ("web3", Out::Ok), ("web4", Out::Ok)],
        failed_in_batch: 2,
        active: &[],
        stop: Some((
            "2 of 4 hosts failed, over max_fail_percentage 40",
            &["web3", "web4"],
        )),
    },
    Row {
        case: "max_fail_percentage 0: any failure is over it",
        rules: max_fail(0.0),
        task_fatal: false,
        batch: &["web1", "web2", "web3", "web4"],
        outcomes: &[
            ("web1", Out::Failed),
            ("web2", Out::Ok),
            ("web3", Out::Ok),
            ("web4", Out::Ok),
        ],
        failed_in_batch: 1,
        active: &[],
        stop: Some((
            "1 of 4 hosts failed, over max_fail_percentage 0",
            &["web2", "web3", "web4"],
        )),
    },
];

#[test]
fn after_a_task_the_rules_decide_who_stays_and_whether_the_rollout_goes_on() {
    for row in ROWS {
        let mut state = BatchState::new(&strings(row.batch));
        // Hosts earlier tasks already lost are not in the outcomes.
        let mut active: Vec<String> = row.outcomes.iter().map(|(h, _)| h.to_string()).collect();
        let outcomes: Vec<HostOutcome> = row.outcomes.iter().map(|(h, o)| outcome(h, *o)).collect();
        let verdict = state.after_task(
            &mut active,
            &row.rules,
            row.task_fatal,
            &[0],
            &outcomes,
            row.failed_in_batch,
        );
        let want = match row.stop {
            None => Verdict::Continue,
            Some((reason, stopped)) => Verdict::Stop {
                reason: reason.into(),
                stopped: strings(stopped),
            },
        };
        assert_eq!(verdict, want, "{}", row.case);
        assert_eq!(active, strings(row.active), "{}", row.case);
    }
}

#[test]
fn changed_hosts_are_notified_and_failed_ones_lose_their_notifications() {
    let mut state = BatchState::new(&strings(&["web1", "web2", "web3"]));
    let mut active = state.batch.clone();
    let first = [
        outcome("web1", Out::Changed),
        outcome("web2", Out::Changed),
        outcome("web3", Out::Ok),
    ];
    assert_eq!(
        state.after_task(&mut active, &NONE, false, &[0, 2], &first, 0),
        Verdict::Continue
    );
    assert_eq!(state.notified["web1"], IndexSet::from([0, 2]));
    assert!(!state.notified.contains_key("web3"), "ok is not changed");
    let second = [outcome("web1", Out::Ok), outcome("web2", Out::Failed)];
    state.after_task(&mut active, &NONE, false, &[1], &second, 1);
    assert!(
        !state.notified.contains_key("web2"),
        "a failed host runs no handler"
    );
    assert_eq!(state.take_handler_hosts(&active, 0, false, |_| false), ["web1"]);
    assert_eq!(
        state.take_handler_hosts(&active, 0, false, |_| false),
        Vec::<String>::new(),
        "once per flush"
    );
    assert_eq!(state.take_handler_hosts(&active, 2, false, |_| false), ["web1"]);
}

#[test]
fn force_handlers_keeps_a_failed_hosts_notifications_but_not_an_unreachable_ones() {
    let rules = PlayRules {
        force_handlers: true,
        ..NONE
    };
    let mut state = BatchState::new(&strings(&["web1", "web2", "web3"]));
    let mut active = state.batch.clone();
    let changed: Vec<HostOutcome> = ["web1", "web2", "web3"]
        .iter()
        .map(|h| outcome(h, Out::Changed))
        .collect();
    state.after_task(&mut active, &rules, false, &[0], &changed, 0);
    let fails = [
        outcome("web1", Out::Ok),
        outcome("web2", Out::Failed),
        outcome("web3", Out::Unreachable),
    ];
    assert_eq!(
        state.after_task(&mut active, &rules, false, &[], &fails, 1),
        Verdict::Continue
    );
    assert_eq!(active, ["web1"]);
    // web2 failed but is reachable: force_handlers runs its handler (force_handlers case);
    // the caller's `failed` says failed and reachable.
    assert_eq!(
        state.take_handler_hosts(&active, 0, true, |h| h == "web2"),
        ["web1", "web2"]
    );
    assert_eq!(
        state.take_handler_hosts(&active, 0, true, |h| h == "web2"),
        Vec::<String>::new()
    );
}

#[test]
fn end_host_leaves_without_failing_and_without_its_handlers() {
    let mut state = BatchState::new(&strings(&["web1", "web2"]));
    let mut active = state.batch.clone();
    let changed = [outcome("web1", Out::Changed), outcome("web2", Out::Changed)];
    state.after_task(&mut active, &NONE, false, &[0], &changed, 0);
    state.end_hosts(&mut active, &strings(&["web2"]));
    assert_eq!(active, ["web1"]);
    assert!(!state.notified.contains_key("web2"));
    assert_eq!(state.take_handler_hosts(&active, 0, false, |_| false), ["web1"]);
}

#[test]
fn inside_a_block_failed_hosts_leave_it_but_keep_their_notifications() {
    let mut state = BatchState::new(&strings(&["web1", "web2"]));
    let mut alive = strings(&["web1", "web2"]);
    state.record_in_block(
        &mut alive,
        &[0],
        &[outcome("web1", Out::Changed), outcome("web2", Out::Changed)],
    );
    state.record_in_block(
        &mut alive,
        &[],
        &[outcome("web1", Out::Ok), outcome("web2", Out::Failed)],
    );
    assert_eq!(alive, ["web1"]);
    assert!(
        state.notified.contains_key("web2"),
        "a rescue may still save web2"
    );
}

/// (entering, failed in the tasks, any_errors_fatal, unreachable hosts) -> rescue hosts.
#[test]
fn rescue_runs_for_the_failed_hosts_or_with_any_errors_fatal_for_every_reachable_one() {
    let entering = strings(&["web1", "web2", "web3"]);
    let web3_unreachable = |h: &str| (false, h == "web3");
    let table: &[(&[&str], bool, &[&str])] = &[
        (&["web2"], false, &["web2"]),
        (&["web2", "web3"], false, &["web2", "web3"]),
        // block_rescue with any_errors_fatal: the hosts it stopped run the rescue too.
        (&["web2"], true, &["web1", "web2"]),
    ];
    for (failed, fatal, want) in table {
        assert_eq!(
            rescue_hosts(&entering, &strings(failed), *fatal, &web3_unreachable),
            strings(want),
            "failed {failed:?}, any_errors_fatal {fatal}"
        );
    }
}

#[test]
fn always_runs_for_every_host_that_entered_and_is_still_reachable() {
    let entering = strings(&["web1", "web2", "web3"]);
    let reachable = |_: &str| (false, false);
    // (alive, failed, rescued, any_errors_fatal, has_rescue) -> always hosts
    type Hosts = &'static [&'static str];
    let table: &[(Hosts, Hosts, Hosts, bool, bool, Hosts)] = &[
        // block_always_without_rescue: the failed host runs always too.
        (
            &["web1", "web3"],
            &["web2"],
            &[],
            false,
            false,
            &["web1", "web2", "web3"],
        ),
        // block_rescue_always: rescued.
        (
            &["web1", "web3"],
            &["web2"],
            &["web2"],
            false,
            true,
            &["web1", "web2", "web3"],
        ),
        // any_errors_fatal_block_always: the stopped hosts run always.
        (&[], &["web2"], &[], true, false, &["web1", "web2", "web3"]),
        // a rescue that fails again drops the host from its list; it still runs always.
        (&["web1"], &["web2"], &[], false, true, &["web1", "web2"]),
    ];
    for (alive, failed, rescued, fatal, has_rescue, want) in table {
        assert_eq!(
            always_hosts(
                &entering,
                &strings(alive),
                &strings(failed),
                &strings(rescued),
                *fatal,
                *has_rescue,
                &reachable
            ),
            strings(want),
            "alive {alive:?} failed {failed:?} rescued {rescued:?} fatal {fatal} rescue {has_rescue}"
        );
    }
    let web3_gone = |h: &str| (false, h == "web3");
    assert_eq!(
        always_hosts(&entering, &[], &strings(&["web2"]), &[], true, false, &web3_gone),
        strings(&["web1", "web2"]),
        "the unreachable web3 runs nothing"
    );
}

#[test]
fn a_top_level_block_reports_the_hosts_it_lost() {
    let entering = strings(&["web1", "web2", "web3"]);
    let flags = |h: &str| (h == "web2", h == "web3");
    let lost = lost_in_block(&entering, &strings(&["web1"]), &flags);
    assert_eq!(
        lost,
        [
            HostOutcome {
                host: "web2".into(),
                status: Status::Failed,
                failed: true,
                changed: false
            },
            HostOutcome {
                host: "web3".into(),
                status: Status::Unreachable,
                failed: true,
                changed: false
            }
        ]
    );
}
