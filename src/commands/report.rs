//! `zdd report INPUT [-o OUT.html]`: draw the HTML report of a run afterwards, from a
//! saved `--output json` stream or from a journal (its events file beside it; a journal
//! of an older zdd without one is drawn from its batch records alone).

use crate::cli::ReportArgs;
use crate::error::{display_path, exit, Diagnostic, Error, Location};
use crate::events::{Event, HostResult, Status};
use crate::journal::{events_path, parse_utc_timestamp, HostOutcome, Journal};
use crate::report::html::{render_html, Timed};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the page says when only the journal was there to draw from.
pub const JOURNAL_ALONE: &str = "drawn from the journal alone: no task or probe detail";

pub fn report(args: ReportArgs) -> Result<i32, Error> {
    let events = read_input(&args.input)?;
    if events.is_empty() {
        return Err(Error::invalid(Diagnostic::new(format!(
            "{} holds no events to draw",
            display_path(&args.input)
        ))));
    }
    let out = args.out.unwrap_or_else(|| args.input.with_extension("html"));
    std::fs::write(&out, render_html(&events)).map_err(|e| {
        Error::invalid(Diagnostic::new(format!(
            "cannot write the report {}: {e}",
            display_path(&out)
        )))
    })?;
    println!("{}", display_path(&out));
    Ok(exit::OK)
}

/// The timed events of `input`: NDJSON as `--output json` writes it, or a journal.
fn read_input(input: &Path) -> Result<Vec<Timed>, Error> {
    let text = read(input)?;
    match serde_json::from_str::<Value>(&text) {
        // A journal is one JSON document without an `event`; a one-line stream is one
        // with it.
        Ok(Value::Object(map)) if !map.contains_key("event") => {
            let journal: Journal = serde_json::from_str(&text).map_err(|e| {
                Error::invalid(
                    Diagnostic::new(format!("not a zdd journal: {e}"))
                        .at(location(input, e.line(), e.column()))
                        .with_snippet_from_disk()
                        .hint(
                            "zdd report reads a journal (.zdd/journal/*.json) or the output of --output json",
                        ),
                )
            })?;
            let events_file = events_path(input);
            if events_file.exists() {
                let text = read(&events_file)?;
                parse_events(&events_file, &text)
            } else {
                Ok(journal_events(&journal))
            }
        }
        _ => parse_events(input, &text),
    }
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::invalid(Diagnostic::new(format!(
            "cannot read {}: {e}",
            display_path(path)
        )))
    })
}

fn location(path: &Path, line: usize, col: usize) -> Location {
    Location::new(Arc::new(PathBuf::from(path)), line, col.max(1))
}

/// One `Timed` event per non-empty line; the first line that is not one is an error
/// naming it.
pub fn parse_events(path: &Path, text: &str) -> Result<Vec<Timed>, Error> {
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let problem = |message: String, col: usize| {
            let hint = "each line must be one event of `zdd apply --output json`";
            Error::invalid(
                Diagnostic::new(message)
                    .at(location(path, i + 1, col))
                    .snippet(line)
                    .hint(hint),
            )
        };
        let value: Value =
            serde_json::from_str(line).map_err(|e| problem(format!("not JSON: {e}"), e.column()))?;
        let kind = match value.get("event") {
            Some(Value::String(kind)) => kind.clone(),
            _ => return Err(problem("not a zdd event: no `event` field".into(), 1)),
        };
        let timed: Timed = serde_json::from_value(value).map_err(|e| {
            let message = e.to_string();
            if message.starts_with("unknown variant") {
                problem(format!("unknown event `{kind}`"), 1)
            } else {
                problem(format!("not a `{kind}` event: {message}"), 1)
            }
        })?;
        events.push(timed);
    }
    Ok(events)
}

/// A journal without its events file (written by an older zdd): its batches with their
/// hosts' outcomes and times, the first failure of each host, what it left out of
/// rotation and the exit code, and a warning that says that is all there is.
pub fn journal_events(journal: &Journal) -> Vec<Timed> {
    let started = parse_utc_timestamp(&journal.started).unwrap_or(0);
    let mut events = vec![
        Timed {
            time: started,
            event: Event::PlaybookStart {
                playbook: journal.identity.playbook.display().to_string(),
                plays: journal.plan.len(),
            },
        },
        Timed {
            time: started,
            event: Event::Warning {
                message: JOURNAL_ALONE.into(),
            },
        },
    ];
    for batch in &journal.batches {
        let begun = parse_utc_timestamp(&batch.started).unwrap_or(started);
        let ended = parse_utc_timestamp(&batch.finished).unwrap_or(begun);
        events.push(Timed {
            time: begun,
            event: Event::BatchStart {
                play: batch.play.clone(),
                play_index: batch.play_index,
                index: batch.batch,
                total: batch.batches,
                hosts: batch.hosts.keys().cloned().collect(),
            },
        });
        let with = |outcome: HostOutcome| -> Vec<String> {
            let hosts = batch.hosts.iter().filter(|(_, h)| h.outcome == outcome);
            hosts.map(|(name, _)| name.clone()).collect()
        };
        for (host, record) in &batch.hosts {
            let status = match record.outcome {
                HostOutcome::Failed => Status::Failed,
                HostOutcome::Unreachable => Status::Unreachable,
                HostOutcome::Completed | HostOutcome::Interrupted => continue,
            };
            events.push(Timed {
                time: ended,
                event: Event::HostResult(HostResult::new(
                    host,
                    record.task.as_deref().unwrap_or_default(),
                    status,
                    serde_json::json!({ "msg": record.msg.clone().unwrap_or_default() }),
                )),
            });
        }
        events.push(Timed {
            time: ended,
            event: Event::BatchEnd {
                play: batch.play.clone(),
                play_index: batch.play_index,
                index: batch.batch,
                total: batch.batches,
                completed: with(HostOutcome::Completed),
                failed: with(HostOutcome::Failed),
                unreachable: with(HostOutcome::Unreachable),
                interrupted: batch.interrupted,
                duration_ms: batch.duration_ms,
                pending_handlers: batch.pending_handlers.clone(),
            },
        });
    }
    let last = events.last().map_or(started, |e| e.time);
    let finished = journal
        .finished
        .as_deref()
        .and_then(parse_utc_timestamp)
        .unwrap_or(last);
    for record in &journal.out_of_rotation {
        events.push(Timed {
            time: finished,
            event: Event::Rotation {
                server: record.server.clone(),
                state: record.state,
            },
        });
    }
    let out: Vec<_> = journal
        .out_of_rotation
        .iter()
        .filter(|r| r.state != crate::events::RotationState::Back)
        .map(|r| r.server.clone())
        .collect();
    if !out.is_empty() {
        events.push(Timed {
            time: finished,
            event: Event::OutOfRotation { servers: out },
        });
    }
    if let Some(exit_code) = journal.exit_code {
        events.push(Timed {
            time: finished,
            event: Event::RunEnd { exit_code },
        });
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(e: &Error) -> String {
        e.render()
    }

    #[test]
    fn each_line_is_a_timed_event() {
        let text = "{\"event\":\"run_end\",\"exit_code\":2,\"time\":5}\n\n{\"event\":\"warning\",\"message\":\"m\",\"time\":7}\n";
        let events = parse_events(Path::new("s.ndjson"), text).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].time, 5);
        assert_eq!(events[0].event, Event::RunEnd { exit_code: 2 });
    }

    #[test]
    fn a_bad_line_is_named_by_file_and_line() {
        let ok = "{\"event\":\"run_end\",\"exit_code\":0,\"time\":1}\n";
        let cases = [
            (format!("{ok}not json\n"), "not JSON"),
            (
                format!("{ok}{ok}{{\"event\":\"nonsense\",\"time\":1}}\n"),
                "unknown event `nonsense`",
            ),
            (format!("{ok}[1,2]\n"), "no `event` field"),
            (
                format!("{ok}{{\"event\":\"run_end\",\"time\":1}}\n"),
                "not a `run_end` event: missing field `exit_code`",
            ),
        ];
        for (text, message) in cases {
            let e = parse_events(Path::new("/tmp/s.ndjson"), &text).unwrap_err();
            assert_eq!(e.exit_code(), exit::INVALID);
            let line = text.lines().count();
            let shown = rendered(&e);
            assert!(shown.contains(message), "{shown}");
            assert!(shown.contains(&format!("/tmp/s.ndjson:{line}:")), "{shown}");
        }
    }

    #[test]
    fn a_journal_alone_gives_its_batches_failures_rotation_and_exit_code() {
        let journal: Journal = serde_json::from_value(serde_json::json!({
            "format": 1,
            "playbook": "/srv/site.yml", "inventory": ["/srv/hosts.ini"],
            "playbook_sha256": "a", "extra_vars_sha256": "b", "limit": null,
            "pid": 1, "started": "2024-05-01T12:00:00.000Z", "updated": "x",
            "finished": "2024-05-01T12:00:09.000Z", "state": "failed", "exit_code": 2,
            "error": null, "resumed_from": null, "plan": [], "in_flight": null,
            "batches": [{"play_index": 1, "play": "web", "batch": 1, "batches": 1,
                         "hosts": {"web1": {"outcome": "completed", "task": null, "msg": null},
                                   "web2": {"outcome": "failed", "task": "Restart", "msg": "boom"}},
                         "started": "2024-05-01T12:00:01.000Z", "finished": "2024-05-01T12:00:08.000Z",
                         "duration_ms": 7000, "interrupted": false, "note": null, "earlier_run": null}],
            "out_of_rotation": [{"server": "web/web2", "host": "web2", "load_balancer": "lb",
                                 "command": "enable", "state": "out"}]
        }))
        .unwrap();
        let events = journal_events(&journal);
        let kinds: Vec<String> = events
            .iter()
            .map(|t| {
                serde_json::to_value(&t.event).unwrap()["event"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "playbook_start",
                "warning",
                "batch_start",
                "host_result",
                "batch_end",
                "rotation",
                "out_of_rotation",
                "run_end"
            ]
        );
        assert_eq!(events[2].time, 1_714_564_801_000);
        assert_eq!(events[4].time, 1_714_564_808_000);
        let Event::HostResult(failed) = &events[3].event else {
            unreachable!()
        };
        assert_eq!((failed.host.as_str(), failed.task.as_str()), ("web2", "Restart"));
        assert_eq!(failed.result["msg"], "boom");
        assert_eq!(events[7].event, Event::RunEnd { exit_code: 2 });
    }
}
