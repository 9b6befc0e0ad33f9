//! `zdd status`: where the last rollout stands, read from its journal, with the live color
//! and the last two deploys. Connects to nothing.

use crate::cli::{OutputFormat, StatusArgs};
use crate::error::{exit, Diagnostic, Error};
use crate::events::RotationState;
use crate::journal::{self, BatchRecord, HostOutcome, Journal, RunRecord, RunState, SwitchRecord};
use serde_json::json;
use std::fmt::Write;
use std::path::{Path, PathBuf};

pub fn status(args: StatusArgs) -> Result<i32, Error> {
    let path = journal_path(&args)?;
    let watch = crate::watch::state_file::WatchState::load(&crate::watch::state_file::path_for(&path));
    let watch_alive = watch.as_ref().is_some_and(|w| journal::pid_alive(w.pid));
    let Some(journal) = Journal::load(&path)? else {
        // A watch that has not redeployed anything yet wrote no journal.
        if let Some(watch) = &watch {
            match args.output {
                OutputFormat::Human => print!("{}", watch.render_status(watch_alive)),
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({"journal": path, "watch": watch, "watch_alive": watch_alive})
                    )
                    .map_err(|e| Error::Internal(e.to_string()))?
                ),
            }
            return Ok(exit::OK);
        }
        return Err(Error::invalid(
            Diagnostic::new(format!("no journal at {}", path.display())).hint(
                "`zdd apply` writes it; pass the playbook and inventory it ran with, \
                 or --journal PATH if it ran with one",
            ),
        ));
    };
    let playbook_changed = playbook_changed(&journal);
    match args.output {
        OutputFormat::Human => {
            print!(
                "{}",
                render(&path, &journal, playbook_changed, journal::pid_alive)
            );
            if let Some(watch) = &watch {
                print!("\n{}", watch.render_status(watch_alive));
            }
        }
        OutputFormat::Json => {
            let mut value = serde_json::to_value(&journal).map_err(|e| Error::Internal(e.to_string()))?;
            let next = journal.next_batch().map(|(play_index, play, batch, batches, hosts)| {
                json!({"play_index": play_index, "play": play, "batch": batch, "batches": batches, "hosts": hosts})
            });
            value["journal"] = json!(path);
            value["resumable"] = json!(journal.resumable());
            value["next_batch"] = json!(next);
            value["playbook_changed"] = json!(playbook_changed);
            if let Some(watch) = &watch {
                value["watch"] = json!(watch);
                value["watch_alive"] = json!(watch_alive);
            }
            value["never_reached"] = json!(never_reached(&journal));
            value["live_colors"] = json!(live_colors(&journal));
            value["last_deploys"] = json!(last_deploys(&journal)
                .iter()
                .map(|r| json!({
                    "started": r.started,
                    "finished": r.finished,
                    "state": r.state,
                    "exit_code": r.exit_code,
                    "user": r.inputs.as_ref().map(|i| &i.user),
                    "inputs": r.inputs,
                    "switches": r.switches,
                }))
                .collect::<Vec<_>>());
            println!(
                "{}",
                serde_json::to_string_pretty(&value).map_err(|e| Error::Internal(e.to_string()))?
            );
        }
    }
    Ok(exit::OK)
}

/// `--journal`, the default journal of PLAYBOOK and -i, or the only journal there is.
fn journal_path(args: &StatusArgs) -> Result<PathBuf, Error> {
    if let Some(path) = &args.journal {
        return Ok(path.clone());
    }
    if let Some(playbook) = &args.playbook {
        let config = crate::config::AnsibleConfig::current().ok();
        let inventory = crate::load::effective_inventory(&args.inventory, config);
        return Ok(journal::default_path(playbook, &inventory));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(journal::DEFAULT_DIR)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    found.sort();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::invalid(
            Diagnostic::new(format!("no journal in {}", journal::DEFAULT_DIR))
                .hint("run `zdd status PLAYBOOK -i INVENTORY` where `zdd apply` ran, or pass --journal PATH"),
        )),
        many => Err(Error::invalid(
            Diagnostic::new(format!(
                "{} journals in {}: {}",
                many.len(),
                journal::DEFAULT_DIR,
                many.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .hint("say which: `zdd status PLAYBOOK -i INVENTORY` or --journal PATH"),
        )),
    }
}

/// `Some(true)` when the playbook's bytes changed since the run, `None` when it is gone.
fn playbook_changed(journal: &Journal) -> Option<bool> {
    journal::file_sha256(&journal.identity.playbook).map(|h| h != journal.identity.playbook_sha256)
}

/// Hosts of planned batches that no batch of the run (or of the runs it resumed) ran.
fn never_reached(journal: &Journal) -> Vec<String> {
    let mut out = Vec::new();
    for (p, play) in journal.plan.iter().enumerate() {
        for hosts in &play.batches {
            let ran = journal
                .batches
                .iter()
                .any(|b| b.play_index == p + 1 && b.hosts.keys().eq(hosts.iter()));
            let in_flight = journal
                .in_flight
                .as_ref()
                .is_some_and(|f| f.play_index == p + 1 && &f.hosts == hosts);
            if !ran && !in_flight {
                out.extend(
                    hosts
                        .iter()
                        .filter(|h| !out.contains(*h))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
            }
        }
    }
    out
}

/// The status as text. `alive` says whether a pid still runs (a parameter for tests).
pub fn render(
    path: &Path,
    journal: &Journal,
    playbook_changed: Option<bool>,
    alive: fn(u32) -> bool,
) -> String {
    let mut out = String::new();
    let id = &journal.identity;
    let _ = writeln!(out, "journal   {}", path.display());
    let changed = match playbook_changed {
        Some(true) => " (changed since this run)",
        Some(false) => "",
        None => " (no longer there)",
    };
    let _ = writeln!(out, "playbook  {}{changed}", id.playbook.display());
    if !id.inventory.is_empty() {
        let _ = writeln!(out, "inventory {}", id.inventory.join(", "));
    }
    if let Some(limit) = &id.limit {
        let _ = writeln!(out, "limit     {limit}");
    }
    let _ = writeln!(out, "run       {}", run_line(journal, alive));
    if let Some(from) = &journal.resumed_from {
        let _ = writeln!(out, "          resumed the run started {from}");
    }
    if let Some(error) = &journal.error {
        let _ = writeln!(out, "          stopped: {error}");
    }
    render_deploys(&mut out, journal);
    for (p, play) in journal.plan.iter().enumerate() {
        let index = p + 1;
        let _ = writeln!(out, "\nPLAY {index} [{}]", play.name);
        let mut records: Vec<&BatchRecord> =
            journal.batches.iter().filter(|b| b.play_index == index).collect();
        records.sort_by_key(|b| b.batch);
        for b in &records {
            render_batch(&mut out, b);
        }
        let total = play.batches.len();
        for (i, hosts) in play.batches.iter().enumerate() {
            if records.iter().any(|b| b.hosts.keys().eq(hosts.iter())) {
                continue;
            }
            let what = match &journal.in_flight {
                Some(f) if f.play_index == index && &f.hosts == hosts => {
                    format!("started {}, did not finish", f.started)
                }
                _ => "not reached".to_owned(),
            };
            let _ = writeln!(out, "  batch {}/{total} {}: {what}", i + 1, hosts.join(", "));
        }
    }
    let never = never_reached(journal);
    if !never.is_empty() {
        let _ = writeln!(out, "\nnever reached: {}", never.join(", "));
    }
    render_rotation(&mut out, journal);
    let _ = writeln!(out, "\n{}", resume_line(journal, playbook_changed));
    out
}

/// The color each upstream serves, by the last switch the journal recorded for it.
fn live_colors(journal: &Journal) -> Vec<SwitchRecord> {
    let mut live: Vec<SwitchRecord> = Vec::new();
    for switch in journal.runs().into_iter().flat_map(|r| r.switches) {
        live.retain(|s| (&s.host, &s.path, &s.upstream) != (&switch.host, &switch.path, &switch.upstream));
        live.push(switch);
    }
    live
}

/// The last two runs that were deploys (not `--check`), newest first.
fn last_deploys(journal: &Journal) -> Vec<RunRecord> {
    journal
        .runs()
        .into_iter()
        .rev()
        .filter(|r| !r.is_check())
        .take(2)
        .collect()
}

/// The live color (when a switch was recorded) and the last two deploys: when, who, with
/// what, how it ended.
fn render_deploys(out: &mut String, journal: &Journal) {
    for s in live_colors(journal) {
        let _ = writeln!(
            out,
            "live      {} ({} on {}, {}: switched from {} at {})",
            s.to,
            s.upstream,
            s.host,
            s.path,
            s.from.as_deref().unwrap_or("none"),
            s.at
        );
    }
    let deploys = last_deploys(journal);
    if deploys.iter().all(|r| r.inputs.is_none()) {
        return;
    }
    let _ = writeln!(out, "deploys   (last two, newest first)");
    for r in deploys {
        let outcome = match r.state {
            RunState::Completed => "completed",
            RunState::Failed => "failed",
            RunState::Interrupted => "interrupted",
            RunState::Running => "running or killed",
        };
        let code = r.exit_code.map(|c| format!(" (exit {c})")).unwrap_or_default();
        let who = r
            .inputs
            .as_ref()
            .map(|i| format!(" by {}", i.user))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}{who}: {outcome}{code}: {}",
            r.started,
            r.describe_inputs()
        );
        for s in &r.switches {
            let _ = writeln!(
                out,
                "    switched {} on {} from {} to {}",
                s.upstream,
                s.host,
                s.from.as_deref().unwrap_or("none"),
                s.to
            );
        }
    }
}

/// The servers the run left out of rotation, or may have: after a kill, the journal's last
/// word is what the run was about to send.
fn render_rotation(out: &mut String, journal: &Journal) {
    if journal.out_of_rotation.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nout of rotation, as the journal last recorded it:");
    for r in &journal.out_of_rotation {
        let s = &r.server;
        let state = match r.state {
            RotationState::Out => "out (the load balancer said so)",
            _ => "may be out (zdd was taking it out; the load balancer was not asked since)",
        };
        let _ = writeln!(
            out,
            "  {}: {} on {}: {state}; to put it back, run there:\n      {}",
            s.host, s.server, s.load_balancer, s.command
        );
    }
}

fn run_line(journal: &Journal, alive: fn(u32) -> bool) -> String {
    let code = journal
        .exit_code
        .map(|c| format!(" (exit {c})"))
        .unwrap_or_default();
    let finished = journal.finished.as_deref().unwrap_or("?");
    match journal.state {
        RunState::Completed => format!(
            "completed{code}: started {}, finished {finished}",
            journal.started
        ),
        RunState::Failed => format!("failed{code}: started {}, finished {finished}", journal.started),
        RunState::Interrupted => format!(
            "interrupted{code}: started {}, stopped {finished}",
            journal.started
        ),
        RunState::Running if alive(journal.pid) => format!(
            "running (pid {}): started {}, last update {}",
            journal.pid, journal.started, journal.updated
        ),
        RunState::Running => format!(
            "did not finish (zdd pid {} is gone: killed?): started {}, last update {}",
            journal.pid, journal.started, journal.updated
        ),
    }
}

fn render_batch(out: &mut String, b: &BatchRecord) {
    let hosts: Vec<&str> = b.hosts.keys().map(String::as_str).collect();
    let verdict = if b.completed() {
        "completed"
    } else if b.interrupted {
        "interrupted"
    } else {
        "failed"
    };
    let when = match &b.earlier_run {
        Some(run) => format!("in the run started {run}"),
        None => format!("{}, {:.1}s", b.finished, b.duration_ms as f64 / 1000.0),
    };
    let _ = writeln!(
        out,
        "  batch {}/{} {}: {verdict} ({when})",
        b.batch,
        b.batches,
        hosts.join(", ")
    );
    for (host, record) in &b.hosts {
        let outcome = match record.outcome {
            HostOutcome::Completed => continue,
            HostOutcome::Failed => "failed",
            HostOutcome::Unreachable => "unreachable",
            HostOutcome::Interrupted => "interrupted before the end of the batch",
        };
        let mut line = format!("    {host}: {outcome}");
        if let Some(task) = &record.task {
            let _ = write!(line, " at task `{task}`");
        }
        if let Some(msg) = &record.msg {
            let _ = write!(line, ": {}", msg.lines().next().unwrap_or_default());
        }
        let _ = writeln!(out, "{line}");
    }
    if let Some(note) = &b.note {
        let _ = writeln!(out, "    the run stopped: {note}");
    }
}

fn resume_line(journal: &Journal, playbook_changed: Option<bool>) -> String {
    if !journal.resumable() {
        return "`zdd apply --resume` would start a fresh run: this one completed".into();
    }
    let skipped = journal.completed_batches().count();
    let start = match journal.next_batch() {
        Some((_, play, batch, total, hosts)) => {
            format!(
                ", starting at play `{play}` batch {batch}/{total} ({})",
                hosts.join(", ")
            )
        }
        None => String::new(),
    };
    let mut line = format!(
        "`zdd apply --resume` would skip {skipped} completed batch{}{start}",
        if skipped == 1 { "" } else { "es" }
    );
    if playbook_changed == Some(true) {
        line.push_str("; but the playbook changed since, so it refuses without --force");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{HostRecord, Identity, InFlight, PlannedPlay, FORMAT};

    fn journal() -> Journal {
        let rec = |batch: usize, host: &str, outcome: HostOutcome, msg: Option<&str>| BatchRecord {
            play_index: 1,
            play: "web".into(),
            batch,
            batches: 3,
            hosts: [(
                host.to_string(),
                HostRecord {
                    outcome,
                    task: msg.map(|_| "Copy content".to_string()),
                    msg: msg.map(str::to_owned),
                },
            )]
            .into_iter()
            .collect(),
            started: "s".into(),
            finished: "2024-01-01T00:00:02.000Z".into(),
            duration_ms: 1500,
            interrupted: false,
            note: msg.map(|_| "every host of the batch failed".to_string()),
            earlier_run: None,
            pending_handlers: Default::default(),
        };
        Journal {
            format: FORMAT,
            identity: Identity {
                playbook: "/srv/deploy.yml".into(),
                inventory: vec!["/srv/hosts.ini".into()],
                playbook_sha256: "x".into(),
                extra_vars_sha256: "y".into(),
                limit: None,
            },
            pid: 42,
            started: "2024-01-01T00:00:00.000Z".into(),
            updated: "u".into(),
            finished: Some("2024-01-01T00:00:03.000Z".into()),
            state: RunState::Failed,
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
            batches: vec![
                rec(1, "web1", HostOutcome::Completed, None),
                rec(2, "web2", HostOutcome::Failed, Some("Not a directory\nmore")),
            ],
            out_of_rotation: Vec::new(),
            inputs: None,
            switches: Vec::new(),
            history: Vec::new(),
        }
    }

    #[test]
    fn a_failed_run_shows_batches_failures_unreached_hosts_and_the_resume_point() {
        let text = render(Path::new("j.json"), &journal(), Some(false), |_| false);
        assert_eq!(
            text,
            "journal   j.json
playbook  /srv/deploy.yml
inventory /srv/hosts.ini
run       failed (exit 2): started 2024-01-01T00:00:00.000Z, finished 2024-01-01T00:00:03.000Z

PLAY 1 [web]
  batch 1/3 web1: completed (2024-01-01T00:00:02.000Z, 1.5s)
  batch 2/3 web2: failed (2024-01-01T00:00:02.000Z, 1.5s)
    web2: failed at task `Copy content`: Not a directory
    the run stopped: every host of the batch failed
  batch 3/3 web3: not reached

never reached: web3

`zdd apply --resume` would skip 1 completed batch, starting at play `web` batch 2/3 (web2)
"
        );
    }

    #[test]
    fn servers_left_out_are_listed_with_how_sure_zdd_is_and_the_way_back() {
        let mut j = journal();
        let server = |name: &str| crate::events::OutOfRotation {
            server: format!("loadbalancer/{name}"),
            host: name.into(),
            load_balancer: "lb".into(),
            command: format!("echo \"enable server loadbalancer/{name}\" | socat stdio /run/h.sock"),
        };
        j.out_of_rotation = vec![
            journal::RotationRecord {
                server: server("web2"),
                state: RotationState::Out,
            },
            journal::RotationRecord {
                server: server("web3"),
                state: RotationState::MayBeOut,
            },
        ];
        let text = render(Path::new("j.json"), &j, Some(false), |_| false);
        let want = "\nout of rotation, as the journal last recorded it:
  web2: loadbalancer/web2 on lb: out (the load balancer said so); to put it back, run there:
      echo \"enable server loadbalancer/web2\" | socat stdio /run/h.sock
  web3: loadbalancer/web3 on lb: may be out (zdd was taking it out; the load balancer was not asked since); to put it back, run there:
      echo \"enable server loadbalancer/web3\" | socat stdio /run/h.sock
\n`zdd apply --resume`";
        assert!(text.contains(want), "{text}");
    }

    #[test]
    fn a_run_killed_mid_batch_shows_the_batch_in_flight() {
        let mut j = journal();
        j.state = RunState::Running;
        j.batches.truncate(1);
        j.in_flight = Some(InFlight {
            play_index: 1,
            play: "web".into(),
            batch: 2,
            batches: 3,
            hosts: vec!["web2".into()],
            started: "T2".into(),
        });
        let text = render(Path::new("j.json"), &j, Some(true), |_| false);
        assert!(
            text.contains("did not finish (zdd pid 42 is gone: killed?)"),
            "{text}"
        );
        assert!(
            text.contains("batch 2/3 web2: started T2, did not finish"),
            "{text}"
        );
        assert!(text.contains("never reached: web3\n"), "{text}");
        assert!(text.contains("refuses without --force"), "{text}");
        assert!(text.contains("(changed since this run)"), "{text}");
        let text = render(Path::new("j.json"), &j, Some(false), |_| true);
        assert!(text.contains("running (pid 42)"), "{text}");
    }

    #[test]
    fn a_completed_run_says_resume_starts_fresh() {
        let mut j = journal();
        j.state = RunState::Completed;
        let text = render(Path::new("j.json"), &j, Some(false), |_| false);
        assert!(
            text.contains("would start a fresh run: this one completed"),
            "{text}"
        );
    }

    #[test]
    fn the_live_color_and_the_last_two_deploys_with_who_and_what() {
        use crate::journal::{ExtraVarsInput, RunInputs};
        let inputs = |version: &str| {
            Some(RunInputs {
                extra_vars: vec![
                    ExtraVarsInput::Text {
                        text: format!("version={version}"),
                    },
                    ExtraVarsInput::VaultedFile {
                        file: "/srv/secrets.yml".into(),
                        sha256: "s".into(),
                    },
                ],
                zdd_version: "0.1.0".into(),
                user: "deploy".into(),
                ..RunInputs::default()
            })
        };
        let switch = |from: &str, to: &str, at: &str| SwitchRecord {
            host: "lb".into(),
            path: "/etc/nginx/conf.d/app.conf".into(),
            upstream: "app".into(),
            from: Some(from.into()),
            to: to.into(),
            at: at.into(),
        };
        let mut j = journal();
        j.state = RunState::Completed;
        j.exit_code = Some(0);
        j.batches.truncate(1);
        j.plan[0].batches.truncate(1);
        j.inputs = inputs("3");
        j.switches = vec![switch("blue", "green", "T3")];
        let mut first = j.record();
        first.started = "2023-12-31T00:00:00.000Z".into();
        first.inputs = inputs("1");
        first.switches = vec![switch("green", "blue", "T1")];
        let mut second = first.clone();
        second.started = "2023-12-31T12:00:00.000Z".into();
        second.inputs = inputs("2");
        second.state = RunState::Failed;
        second.exit_code = Some(2);
        second.switches = Vec::new();
        j.history = vec![first, second];
        let text = render(Path::new("j.json"), &j, Some(false), |_| false);
        let head: Vec<&str> = text.lines().take(9).collect();
        assert_eq!(
            head.join("\n"),
            "journal   j.json
playbook  /srv/deploy.yml
inventory /srv/hosts.ini
run       completed (exit 0): started 2024-01-01T00:00:00.000Z, finished 2024-01-01T00:00:03.000Z
live      green (app on lb, /etc/nginx/conf.d/app.conf: switched from blue at T3)
deploys   (last two, newest first)
  2024-01-01T00:00:00.000Z by deploy: completed (exit 0): -e version=3 -e @/srv/secrets.yml (vaulted)
    switched app on lb from blue to green
  2023-12-31T12:00:00.000Z by deploy: failed (exit 2): -e version=2 -e @/srv/secrets.yml (vaulted)
"
            .trim_end()
        );
        let live = live_colors(&j);
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].to, "green");
    }
}
