use super::*;
use crate::events::{Event, HostResult, Reporter, Status};
use crate::journal::{Identity, Journal, JournalReporter, JournalWriter, Resume};
use serde_json::json;
use std::sync::{Arc, Mutex};

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/vault/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn inline_values_are_kept_as_typed_and_a_plain_file_by_its_values() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vars.yml");
    std::fs::write(&file, "version: 2\nchannel: stable\n").unwrap();
    let recorded = record_extra_vars(&[
        "version=3".into(),
        r#"{"a": [1, 2]}"#.into(),
        format!("@{}", file.display()),
    ]);
    assert_eq!(
        recorded[0],
        ExtraVarsInput::Text {
            text: "version=3".into()
        }
    );
    assert_eq!(
        recorded[1],
        ExtraVarsInput::Text {
            text: r#"{"a": [1, 2]}"#.into()
        }
    );
    let ExtraVarsInput::File { file: path, vars } = &recorded[2] else {
        panic!("{recorded:?}")
    };
    assert!(path.is_absolute());
    assert_eq!(
        serde_json::to_value(vars).unwrap(),
        json!({"version": 2, "channel": "stable"})
    );
    // Replayed as the values they were, whatever the file says later.
    std::fs::write(&file, "version: 9\n").unwrap();
    assert_eq!(
        recorded[2].replay().unwrap(),
        r#"{"version":2,"channel":"stable"}"#
    );
    assert_eq!(
        recorded[2].describe(),
        format!("@{} (version=2 channel=stable)", path.display())
    );
}

#[test]
fn a_vaulted_file_is_recorded_by_reference_and_never_by_value() {
    // A whole vaulted file (its plaintext is `extra_secret: extra-Zr5-secret`) and a plain
    // file with an inline `!vault` value: neither needs decrypting to be recognised.
    for name in ["extra-vars.yml", "inline.yml"] {
        let path = fixture(name);
        let recorded = record_extra_vars(&[format!("@{path}")]);
        let ExtraVarsInput::VaultedFile { file, sha256 } = &recorded[0] else {
            panic!("{name}: {recorded:?}")
        };
        assert_eq!(file, &std::fs::canonicalize(&path).unwrap());
        assert_eq!(Some(sha256.clone()), crate::journal::file_sha256(file));
        let text = serde_json::to_string(&recorded).unwrap();
        assert!(
            !text.contains("extra-Zr5-secret") && !text.contains("visible"),
            "{text}"
        );
        assert_eq!(recorded[0].replay().unwrap(), format!("@{}", file.display()));
        assert!(recorded[0].describe().ends_with(" (vaulted)"));
    }
}

#[test]
fn a_value_that_came_out_of_the_vault_is_withheld_or_recorded_by_reference() {
    crate::vault::register_secret("rollback-test-s3cret");
    let recorded = record_extra_vars(&["token=rollback-test-s3cret".into()]);
    assert_eq!(recorded, [ExtraVarsInput::Withheld]);
    assert_eq!(recorded[0].replay(), None);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("copied.yml");
    std::fs::write(&file, "token: rollback-test-s3cret\n").unwrap();
    let recorded = record_extra_vars(&[format!("@{}", file.display())]);
    assert!(
        matches!(recorded[0], ExtraVarsInput::VaultedFile { .. }),
        "{recorded:?}"
    );
    assert!(!serde_json::to_string(&recorded).unwrap().contains("s3cret"));
}

#[test]
fn a_secret_looking_key_is_withheld_inline_and_referenced_in_a_file() {
    // Not from the vault: typed on the command line or kept in a plain file. The journal
    // (and what it replays) must not hold it either.
    for arg in [
        "db_password=plain-Qx7-hush version=3",
        r#"{"api_token": "plain-Qx7-hush"}"#,
        "repo=https://ci:plain-Qx7-hush@git.example/app.git",
    ] {
        let recorded = record_extra_vars(&[arg.into()]);
        assert_eq!(recorded, [ExtraVarsInput::Withheld], "{arg}");
        assert_eq!(recorded[0].describe(), "(withheld: it holds a secret)");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deploy.yml");
    std::fs::write(&file, "version: 3\ndb_password: plain-Qx7-hush\n").unwrap();
    let recorded = record_extra_vars(&[format!("@{}", file.display())]);
    let ExtraVarsInput::SecretFile { file: path, sha256 } = &recorded[0] else {
        panic!("{recorded:?}")
    };
    assert_eq!(Some(sha256.clone()), crate::journal::file_sha256(path));
    assert_eq!(recorded[0].replay().unwrap(), format!("@{}", path.display()));
    assert!(!serde_json::to_string(&recorded).unwrap().contains("Qx7"));
    // Nothing secret-looking: kept as typed, as before.
    assert_eq!(
        record_extra_vars(&["version=3 channel=stable".into()])[0]
            .replay()
            .unwrap(),
        "version=3 channel=stable"
    );
}

fn upstream_result(host: &str, delegate: Option<&str>, status: Status, result: Value) -> Event {
    Event::HostResult(HostResult {
        host: host.into(),
        delegate: delegate.map(str::to_owned),
        delegate_address: None,
        task: "Switch nginx".into(),
        status,
        changed: result["changed"] == json!(true),
        item: None,
        looped: false,
        ignored: false,
        rc: None,
        duration_ms: 1,
        result,
        show_result: false,
    })
}

fn switch_result(color: &str, previous: Value, changed: bool) -> Value {
    json!({
        "changed": changed,
        "path": "/etc/nginx/conf.d/app-upstream.conf",
        "upstream": "app",
        "color": color,
        "previous_color": previous,
        "servers": ["127.0.0.1:8082"],
        "previous_servers": ["127.0.0.1:8081"],
    })
}

fn writer(dir: &std::path::Path, check: bool) -> (std::path::PathBuf, Arc<Mutex<JournalWriter>>) {
    let path = dir.join("j.json");
    let identity = Identity {
        playbook: "/srv/bg.yml".into(),
        inventory: vec![],
        playbook_sha256: "p".into(),
        extra_vars_sha256: "e".into(),
        limit: None,
    };
    let plan = crate::plan::RolloutPlan {
        plays: Vec::new(),
        limit: None,
        seed: 0,
    };
    let inputs = RunInputs {
        check,
        ..RunInputs::default()
    };
    let w = JournalWriter::begin(&path, identity, &plan, &Resume::default(), inputs, Vec::new()).unwrap();
    (path, Arc::new(Mutex::new(w)))
}

#[test]
fn each_color_switch_an_nginx_upstream_task_made_is_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let (path, w) = writer(dir.path(), false);
    let mut reporter = JournalReporter::new(w);
    // Delegated to the load balancer: recorded where it ran.
    reporter.event(&upstream_result(
        "web1",
        Some("lb"),
        Status::Changed,
        switch_result("green", json!("blue"), true),
    ));
    // Not switches: the same color again, a failed switch, another module's result,
    // a first switch is one (from no color).
    reporter.event(&upstream_result(
        "lb",
        None,
        Status::Ok,
        switch_result("green", json!("green"), false),
    ));
    reporter.event(&upstream_result(
        "lb",
        None,
        Status::Failed,
        switch_result("blue", json!("green"), true),
    ));
    reporter.event(&upstream_result(
        "lb",
        None,
        Status::Changed,
        json!({"changed": true, "color": "blue"}),
    ));
    reporter.event(&upstream_result(
        "lb2",
        None,
        Status::Changed,
        switch_result("blue", Value::Null, true),
    ));
    let journal = Journal::load(&path).unwrap().unwrap();
    let got: Vec<(&str, &str, &str, Option<&str>, &str)> = journal
        .switches
        .iter()
        .map(|s| {
            (
                s.host.as_str(),
                s.path.as_str(),
                s.upstream.as_str(),
                s.from.as_deref(),
                s.to.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "lb",
                "/etc/nginx/conf.d/app-upstream.conf",
                "app",
                Some("blue"),
                "green"
            ),
            ("lb2", "/etc/nginx/conf.d/app-upstream.conf", "app", None, "blue"),
        ]
    );
    // The next run carries this one, switches and all, in its history.
    let history = journal.history_for_next();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].switches, journal.switches);
}

#[test]
fn a_check_run_journals_no_switch() {
    let dir = tempfile::tempdir().unwrap();
    let (path, w) = writer(dir.path(), true);
    let mut reporter = JournalReporter::new(w);
    reporter.event(&upstream_result(
        "lb",
        None,
        Status::Changed,
        switch_result("green", json!("blue"), true),
    ));
    assert!(Journal::load(&path).unwrap().unwrap().switches.is_empty());
}

#[test]
fn the_history_keeps_the_last_runs_only() {
    let dir = tempfile::tempdir().unwrap();
    let (_, w) = writer(dir.path(), false);
    let mut journal = w.lock().unwrap().journal().clone();
    let old = journal.record();
    journal.history = (0..HISTORY + 5)
        .map(|n| RunRecord {
            started: format!("T{n}"),
            ..old.clone()
        })
        .collect();
    let next = journal.history_for_next();
    assert_eq!(next.len(), HISTORY);
    assert_eq!(next[0].started, "T6");
    assert_eq!(next.last().unwrap().started, journal.started);
}
