use super::*;
use crate::error::exit;
use crate::events::HostResult;
use crate::events::{Event, Reporter, Status};
use crate::runner::RunSummary;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn identity(hash: &str) -> Identity {
    Identity {
        playbook: "/srv/deploy.yml".into(),
        inventory: vec!["/srv/hosts.ini".into()],
        playbook_sha256: hash.into(),
        extra_vars_sha256: "e".into(),
        limit: None,
    }
}

/// A new run of the journal at `path`, with nothing planned.
fn fresh_run(path: &std::path::Path) -> JournalWriter {
    JournalWriter::begin(
        path,
        identity("abc"),
        &empty_plan(),
        &Resume::default(),
        RunInputs::default(),
        Vec::new(),
    )
    .unwrap()
}

fn host(outcome: HostOutcome) -> HostRecord {
    HostRecord {
        outcome,
        task: None,
        msg: None,
    }
}

fn batch(index: usize, hosts: &[(&str, HostOutcome)]) -> BatchRecord {
    BatchRecord {
        play_index: 1,
        play: "web".into(),
        batch: index,
        batches: 3,
        hosts: hosts.iter().map(|(h, o)| (h.to_string(), host(*o))).collect(),
        started: "t0".into(),
        finished: "t1".into(),
        duration_ms: 5,
        interrupted: false,
        note: None,
        earlier_run: None,
        pending_handlers: IndexMap::new(),
    }
}

fn journal(state: RunState, batches: Vec<BatchRecord>) -> Journal {
    Journal {
        format: FORMAT,
        identity: identity("abc"),
        pid: 1,
        started: "2024-01-01T00:00:00.000Z".into(),
        updated: "x".into(),
        finished: None,
        state,
        exit_code: Some(2),
        error: None,
        resumed_from: None,
        plan: vec![PlannedPlay {
            name: "web".into(),
            hosts: vec!["web1".into(), "web2".into(), "web3".into()],
            batches: vec![vec!["web1".into()], vec!["web2".into()], vec!["web3".into()]],
        }],
        shuffle_seed: None,
        in_flight: None,
        batches,
        out_of_rotation: Vec::new(),
        inputs: None,
        switches: Vec::new(),
        history: Vec::new(),
    }
}

fn failed_run() -> Journal {
    journal(
        RunState::Failed,
        vec![
            batch(1, &[("web1", HostOutcome::Completed)]),
            batch(2, &[("web2", HostOutcome::Failed)]),
        ],
    )
}

#[test]
fn timestamps_are_rfc3339_utc_with_millis() {
    assert_eq!(utc_timestamp(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    // 2000-02-29 12:34:56.789 (a leap day), 951827696 s after the epoch.
    let t = SystemTime::UNIX_EPOCH + Duration::from_millis(951_827_696_789);
    assert_eq!(utc_timestamp(t), "2000-02-29T12:34:56.789Z");
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_599);
    assert_eq!(utc_timestamp(t), "2024-12-31T23:59:59.000Z");
}

#[test]
fn timestamps_read_back_to_the_millisecond() {
    for ms in [0u64, 1_714_566_896_789, 951_782_400_000, 4_102_444_799_999] {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        assert_eq!(parse_utc_timestamp(&utc_timestamp(t)), Some(ms));
    }
    assert_eq!(
        parse_utc_timestamp("2024-05-01T12:34:56Z"),
        Some(1_714_566_896_000)
    );
    assert_eq!(
        parse_utc_timestamp("2024-05-01T12:34:56.5Z"),
        Some(1_714_566_896_500)
    );
    assert_eq!(parse_utc_timestamp("t0"), None);
    assert_eq!(parse_utc_timestamp("2024-13-01T00:00:00Z"), None);
}

#[test]
fn default_path_is_named_after_playbook_and_inventory() {
    assert_eq!(
        default_path(Path::new("playbooks/zero-downtime.yml"), &["/x/lab.ini".into()]),
        Path::new(".zdd/journal/zero-downtime-lab.json")
    );
    assert_eq!(
        default_path(Path::new("site.yml"), &[]),
        Path::new(".zdd/journal/site-localhost.json")
    );
}

#[test]
fn resume_skips_completed_batches_and_reruns_the_failed_one() {
    let prev = failed_run();
    let r = plan_resume(Some(&prev), Path::new("j.json"), &identity("abc"), false, |_| {
        false
    })
    .unwrap();
    assert_eq!(r.skip, HashSet::from([(1, vec!["web1".to_string()])]));
    assert_eq!(r.carried.len(), 1);
    assert_eq!(r.carried[0].earlier_run.as_deref(), Some(prev.started.as_str()));
    assert_eq!(r.resumed_from.as_deref(), Some(prev.started.as_str()));
    assert!(
        r.notes[0].contains("starting at play `web` batch 2/3 (web2)"),
        "{:?}",
        r.notes
    );
}

#[test]
fn resume_of_a_resumed_run_keeps_the_first_runs_batches() {
    let mut prev = failed_run();
    prev.batches[0].earlier_run = Some("first".into());
    let r = plan_resume(Some(&prev), Path::new("j.json"), &identity("abc"), false, |_| {
        false
    })
    .unwrap();
    assert_eq!(r.carried[0].earlier_run.as_deref(), Some("first"));
}

#[test]
fn a_changed_playbook_is_refused_unless_forced() {
    let prev = failed_run();
    let err = plan_resume(Some(&prev), Path::new("j.json"), &identity("def"), false, |_| {
        false
    })
    .unwrap_err();
    assert!(
        err.message.contains("/srv/deploy.yml changed since that run"),
        "{}",
        err.message
    );
    assert!(err.hint.as_deref().unwrap_or("").contains("--resume --force"));
    let r = plan_resume(Some(&prev), Path::new("j.json"), &identity("def"), true, |_| {
        false
    })
    .unwrap();
    assert_eq!(r.skip.len(), 1);
    assert!(r.notes[0].contains("--force"), "{:?}", r.notes);
}

#[test]
fn other_identity_differences_are_named() {
    let mut other = identity("abc");
    other.limit = Some("web2".into());
    other.extra_vars_sha256 = "f".into();
    let diffs = other.differences(&identity("abc"));
    assert_eq!(diffs.len(), 2, "{diffs:?}");
    assert!(diffs.iter().any(|d| d.contains("--limit is web2")));
}

#[test]
fn a_completed_run_or_no_journal_starts_fresh() {
    let done = journal(
        RunState::Completed,
        vec![batch(1, &[("web1", HostOutcome::Completed)])],
    );
    let r = plan_resume(
        Some(&done),
        Path::new("j.json"),
        &identity("other"),
        false,
        |_| false,
    )
    .unwrap();
    assert!(r.skip.is_empty() && r.carried.is_empty());
    assert!(r.notes[0].contains("completed: starting a fresh run"));
    let r = plan_resume(None, Path::new("j.json"), &identity("abc"), false, |_| false).unwrap();
    assert!(r.skip.is_empty());
    assert!(r.notes[0].contains("no journal at j.json"));
}

#[test]
fn an_interrupted_batch_is_not_completed() {
    let mut b = batch(1, &[("web1", HostOutcome::Completed)]);
    assert!(b.completed());
    b.interrupted = true;
    assert!(!b.completed());
    let b = batch(
        1,
        &[("web1", HostOutcome::Completed), ("web2", HostOutcome::Failed)],
    );
    assert!(!b.completed());
}

#[test]
fn next_batch_is_the_first_planned_one_not_completed() {
    let j = failed_run();
    let (play_index, play, b, total, hosts) = j.next_batch().unwrap();
    assert_eq!(
        (play_index, play, b, total, hosts),
        (1, "web", 2, 3, &["web2".to_string()][..])
    );
}

#[test]
fn save_replaces_the_file_whole_and_load_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/j.json");
    let j = failed_run();
    j.save(&path).unwrap();
    j.save(&path).unwrap();
    assert_eq!(Journal::load(&path).unwrap(), Some(j));
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["j.json"], "a temporary file was left behind");
    assert_eq!(Journal::load(&dir.path().join("none.json")).unwrap(), None);
    std::fs::write(&path, "{").unwrap();
    assert_eq!(Journal::load(&path).unwrap_err().exit_code(), exit::INVALID);
}

fn failed_result(hostname: &str, task: &str, result: serde_json::Value) -> Event {
    Event::HostResult(HostResult {
        host: hostname.into(),
        delegate: None,
        delegate_address: None,
        task: task.into(),
        status: Status::Failed,
        changed: false,
        item: None,
        looped: false,
        ignored: false,
        rc: None,
        duration_ms: 1,
        result,
        show_result: false,
    })
}

#[test]
fn the_reporter_records_each_batch_with_each_hosts_outcome_and_failure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.json");
    let writer = fresh_run(&path);
    let writer = Arc::new(Mutex::new(writer));
    let mut reporter = JournalReporter::new(writer.clone());
    let start = |index: usize, hosts: &[&str]| Event::BatchStart {
        play: "web".into(),
        play_index: 1,
        index,
        total: 2,
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
    };
    reporter.event(&start(1, &["web1", "web2"]));
    let in_flight = Journal::load(&path).unwrap().unwrap().in_flight.unwrap();
    assert_eq!(in_flight.hosts, ["web1", "web2"]);
    reporter.event(&failed_result(
        "web2",
        "Copy content",
        json!({"msg": "non-zero return code", "stderr": "Not a directory", "rc": 1}),
    ));
    reporter.event(&failed_result("web2", "later", json!({"msg": "second"})));
    reporter.event(&Event::BatchEnd {
        play: "web".into(),
        play_index: 1,
        index: 1,
        total: 2,
        completed: vec!["web1".into()],
        failed: vec!["web2".into()],
        unreachable: vec![],
        interrupted: false,
        duration_ms: 7,
        pending_handlers: IndexMap::new(),
    });
    let j = Journal::load(&path).unwrap().unwrap();
    assert_eq!(j.state, RunState::Running);
    assert!(j.in_flight.is_none());
    let b = &j.batches[0];
    assert_eq!(b.hosts["web1"], host(HostOutcome::Completed));
    assert_eq!(b.hosts["web2"].outcome, HostOutcome::Failed);
    assert_eq!(b.hosts["web2"].task.as_deref(), Some("Copy content"));
    assert_eq!(
        b.hosts["web2"].msg.as_deref(),
        Some("non-zero return code: Not a directory")
    );
    assert!(!b.completed());
    writer.lock().unwrap().finish(
        Ok(&RunSummary {
            failed_hosts: vec!["web2".into()],
            ..Default::default()
        }),
        2,
    );
    let j = Journal::load(&path).unwrap().unwrap();
    assert_eq!((j.state, j.exit_code), (RunState::Failed, Some(2)));
    assert!(j.finished.is_some());

    // Beside it, every event heard as `--output json` writes it, then how the run ended.
    let events_file = dir.path().join("j.events.ndjson");
    assert_eq!(events_path(&path), events_file);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&events_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "private, as the journal");
    let text = std::fs::read_to_string(&events_file).unwrap();
    let timed: Vec<crate::report::html::Timed> =
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let kinds: Vec<&str> = text
        .lines()
        .map(|l| l.split('"').nth(3).unwrap_or_default())
        .collect();
    assert_eq!(
        kinds,
        [
            "batch_start",
            "host_result",
            "host_result",
            "batch_end",
            "run_end"
        ]
    );
    assert_eq!(timed[4].event, Event::RunEnd { exit_code: 2 });
    // The next run of this journal starts it over.
    drop(writer);
    fresh_run(&path);
    assert_eq!(std::fs::read_to_string(&events_file).unwrap(), "");
}

#[test]
fn finish_records_interruptions_errors_and_the_probes_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.json");
    let mut w = fresh_run(&path);
    let interrupted = RunSummary {
        interrupted: true,
        ..Default::default()
    };
    w.finish(Ok(&interrupted), 130);
    assert_eq!(w.journal().state, RunState::Interrupted);
    w.finish(
        Err(&Error::Unreachable(vec![("web1".into(), "refused".into())])),
        4,
    );
    let j = Journal::load(&path).unwrap().unwrap();
    assert_eq!((j.state, j.exit_code), (RunState::Failed, Some(4)));
    assert!(j.error.unwrap().contains("web1 (refused)"));
    w.finish(Ok(&RunSummary::default()), 0);
    assert_eq!(w.journal().state, RunState::Completed);
    // The probe's budget, broken by the last batch: the batches completed, the run failed.
    w.finish(Ok(&RunSummary::default()), 2);
    assert_eq!(w.journal().state, RunState::Failed);
    assert!(w.journal().error.as_deref().unwrap().contains("exit 2"));
    let gated = RunSummary {
        stopped_by: Some("the probe counted 3 failed requests".into()),
        ..Default::default()
    };
    w.finish(Ok(&gated), 2);
    assert_eq!(w.journal().state, RunState::Failed);
    assert_eq!(
        w.journal().error.as_deref(),
        Some("the probe counted 3 failed requests")
    );
}

fn empty_plan() -> crate::plan::RolloutPlan {
    crate::plan::RolloutPlan {
        plays: Vec::new(),
        limit: None,
        seed: 0,
    }
}

#[test]
fn a_journal_whose_writer_still_runs_is_never_resumed_even_with_force() {
    let running = journal(
        RunState::Running,
        vec![batch(1, &[("web1", HostOutcome::Completed)])],
    );
    for force in [false, true] {
        let err = plan_resume(
            Some(&running),
            Path::new("j.json"),
            &identity("abc"),
            force,
            |pid| pid == 1,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "cannot resume: the run that writes j.json (zdd pid 1, started 2024-01-01T00:00:00.000Z) is still running"
        );
    }
    // Killed (its pid is gone): resumable as before.
    let r = plan_resume(
        Some(&running),
        Path::new("j.json"),
        &identity("abc"),
        false,
        |_| false,
    )
    .unwrap();
    assert_eq!(r.skip.len(), 1);
}

#[test]
fn handlers_a_stopped_batch_left_pending_run_when_it_is_resumed() {
    let mut stopped = batch(1, &[("web1", HostOutcome::Interrupted)]);
    stopped.interrupted = true;
    stopped.pending_handlers = IndexMap::from([("web1".to_string(), vec!["restart web".to_string()])]);
    let prev = journal(RunState::Interrupted, vec![stopped]);
    let r = plan_resume(Some(&prev), Path::new("j.json"), &identity("abc"), false, |_| {
        false
    })
    .unwrap();
    assert_eq!(
        r.pending_handlers,
        HashMap::from([((1, "web1".to_string()), vec!["restart web".to_string()])])
    );
    assert!(r.skip.is_empty(), "the stopped batch runs again");
    assert!(
        r.notes.contains(
            &"--resume: web1 was notified of restart web and never ran it: it runs with web1's batch"
                .to_string()
        ),
        "{:?}",
        r.notes
    );
}
