//! `zdd watch`: every interval, check each watched host (and the service through the load
//! balancer) at once, fold the results into each target's state, and hand the first
//! critical one to the healer (never two redeploys at once). Runs until a signal, or for
//! `--for`.

use crate::cli::{ApplyArgs, WatchArgs};
use crate::commands::apply::{reporters, watch_signals, Loaded};
use crate::error::{exit, Diagnostic, Error};
use crate::events::{Event, EventSink};
use crate::journal::utc_timestamp;
use crate::lock::{self, RolloutLock};
use crate::plan::RolloutPlan;
use crate::report::notify::{post_reported, NotifyUrl};
use crate::runner::StopSignal;
use crate::watch::check::{self, CheckResult};
use crate::watch::engine::{redeploy_args, HealOutcome, HealRequest, Healer, SERVICE};
use crate::watch::spec::{self, Check, SpecFlags};
use crate::watch::state_file::{self, Ended, LastCheck, WatchState};
use crate::watch::tracker::{HealthState, Tracker};
use indexmap::IndexMap;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// One watched target: a host, or the service.
struct Watched {
    check: Check,
    tracker: Tracker,
    /// When its checks made it critical (the fault detected), for the healing timeline.
    critical_since: Option<SystemTime>,
    /// A failed redeploy (or a busy lock) waits until then.
    not_before: Option<Instant>,
}

pub async fn watch(args: WatchArgs) -> Result<i32, Error> {
    let notify = match &args.notify {
        Some(url) => Some(NotifyUrl::parse(url).map_err(|e| Error::invalid(Diagnostic::new(e)))?),
        None => None,
    };
    let apply_args = apply_args(&args);
    let loaded = Loaded::load(&apply_args)?;
    let input = &loaded.input;
    let plan = RolloutPlan::new(&input.playbook, &input.inventory, args.input.limit.as_deref(), 0)?;
    let hosts = spec::watched_hosts(&plan);
    if hosts.is_empty() {
        return Err(Error::invalid(Diagnostic::new(
            "no host to watch: the playbook's plays (with --limit) run on no host",
        )));
    }
    let flags = SpecFlags {
        health_url: args.health_url.clone(),
        health_port: args.health_port,
        service_url: args.service_url.clone(),
    };
    let spec = spec::build(input, &plan, &loaded.templater, &flags, &hosts)?;
    // One watcher per inventory: two would heal the same hosts.
    let lock_key = lock::lock_key(&input.inventory_sources);
    let _watch_lock = RolloutLock::try_acquire(
        &lock::lock_dir(),
        &format!("watch:{lock_key}"),
        &format!(
            "watching since {}, playbook {}",
            utc_timestamp(SystemTime::now()),
            args.input.playbook.display()
        ),
    )?
    .map_err(|holder| {
        Error::invalid(
            Diagnostic::new(format!(
                "another zdd watch of the inventory {lock_key} is running: {holder}"
            ))
            .hint("stop it first: two watchers would heal the same hosts"),
        )
    })?;
    let journal_path = args
        .journal
        .clone()
        .unwrap_or_else(|| crate::journal::default_path(&args.input.playbook, &input.inventory_sources));
    let state_path = state_file::path_for(&journal_path);
    let events = Arc::new(EventSink::new(reporters(
        &ApplyArgs {
            report: args.report.clone(),
            ..apply_args.clone()
        },
        input.config.log_path.value.as_deref(),
    )?));
    events.emit(Event::RunInfo(crate::events::RunInfo::start("watch")));
    // The last watch was killed with servers out: nobody else will say so.
    if let Some(last) = WatchState::load(&state_path)
        .filter(|w| w.ended.is_none() && !w.out_of_rotation.is_empty() && !crate::journal::pid_alive(w.pid))
    {
        for s in &last.out_of_rotation {
            events.emit(Event::Warning {
                message: format!(
                    "the last watch (pid {}) was killed with {} out of rotation ({} on {}); to put it back, run there: {}",
                    last.pid, s.host, s.server, s.load_balancer, s.command
                ),
            });
        }
    }
    let stop = Arc::new(StopSignal::default());
    watch_signals(stop.clone(), events.clone(), crate::watch::engine::FIRST_SIGNAL);

    let mut targets: IndexMap<String, Watched> = spec
        .hosts
        .iter()
        .map(|(host, check)| (host.clone(), watched(check.clone(), args.failures)))
        .collect();
    if let Some(service) = &spec.service {
        targets.insert(SERVICE.to_owned(), watched(service.clone(), args.failures));
    }
    let state = Arc::new(Mutex::new(WatchState {
        pid: std::process::id(),
        started: utc_timestamp(SystemTime::now()),
        interval_ms: args.interval.as_millis() as u64,
        failures: args.failures,
        ..Default::default()
    }));
    {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        for name in targets.keys() {
            s.target(name);
        }
    }
    let limits = args.healing.limits(None);
    drop(loaded);
    let mut healer = Healer::new(apply_args, limits, events.clone(), stop.clone())?
        .with_checks(
            spec.clone(),
            args.check_timeout,
            args.interval.max(Duration::from_secs(5)),
        )
        .with_state_file(state.clone(), state_path.clone())
        .with_notify(notify.clone(), json!({}));
    healer.save_state();
    events.emit(Event::WatchStart {
        targets: hosts.clone(),
        service: spec.service.as_ref().map(Check::describe),
        interval_ms: args.interval.as_millis() as u64,
        failures: args.failures,
        max_redeploys: args.healing.max_redeploys,
    });

    // --probe: the traffic through the load balancer over the whole watch.
    let probe = match &args.probe {
        Some(url) => Some(
            crate::probe::Probe::start(
                crate::probe::Target::parse(url).map_err(|e| Error::invalid(Diagnostic::new(e)))?,
                args.probe_concurrency,
            )
            .with_samples(events.clone()),
        ),
        None => None,
    };
    let deadline = args.for_.map(|d| Instant::now() + d);
    let mut given_up = false;
    let mut unreachable = false;
    let mut interrupted = false;
    loop {
        let round = Instant::now();
        let results =
            futures::future::join_all(targets.values().map(|t| check::run(&t.check, args.check_timeout)))
                .await;
        let names: Vec<String> = targets.keys().cloned().collect();
        for (name, result) in names.iter().zip(results) {
            observe(
                &events,
                &state,
                name,
                targets.get_mut(name).expect("a target"),
                &result,
            );
        }
        healer.save_state();
        if stop.level() > 0 {
            interrupted = true;
            break;
        }
        if let Some((request, detected)) = next_to_heal(&targets) {
            let target = request.target();
            for name in heal_targets(&request, &targets) {
                if let Some(t) = targets.get_mut(&name) {
                    t.tracker.set(HealthState::Healing, "");
                }
            }
            let outcome = healer.heal_detected(&request, detected).await;
            let now = Instant::now();
            let (to, not_before) = match &outcome {
                HealOutcome::Healed { .. } => (HealthState::Healed, None),
                HealOutcome::NotHealed { retry_in, exit_code } => {
                    unreachable |= *exit_code == exit::UNREACHABLE;
                    (HealthState::Critical, Some(now + *retry_in))
                }
                HealOutcome::Waiting { retry_in } => (HealthState::Critical, Some(now + *retry_in)),
                HealOutcome::Busy { .. } => (HealthState::Critical, Some(now + args.interval)),
                HealOutcome::GivenUp { .. } => {
                    given_up = true;
                    (HealthState::GivenUp, None)
                }
                HealOutcome::Interrupted => (HealthState::Critical, None),
            };
            for name in heal_targets(&request, &targets) {
                if let Some(t) = targets.get_mut(&name) {
                    t.tracker.set(to, "");
                    t.not_before = not_before;
                    if to == HealthState::Healed {
                        t.critical_since = None;
                    }
                    state
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .target(&name)
                        .state = to;
                }
            }
            healer.save_state();
            if let Some(url) = &notify {
                if !matches!(outcome, HealOutcome::Waiting { .. } | HealOutcome::Busy { .. }) {
                    let mut body = json!({"event": outcome.word(), "target": target, "hosts": request.hosts, "reason": request.reason});
                    match &outcome {
                        HealOutcome::Healed { took } => body["took_ms"] = json!(took.as_millis() as u64),
                        HealOutcome::NotHealed { exit_code, retry_in } => {
                            body["exit_code"] = json!(exit_code);
                            body["retry_in_ms"] = json!(retry_in.as_millis() as u64);
                        }
                        HealOutcome::GivenUp { reason } => {
                            body["why"] = json!(reason);
                            body["out_of_rotation"] = json!(healer.left_out());
                        }
                        _ => {}
                    }
                    post_reported(url, &events, "the notification", body).await;
                }
            }
            if matches!(outcome, HealOutcome::Interrupted) || stop.level() > 0 {
                interrupted = true;
                break;
            }
        }
        let next = round + args.interval;
        if deadline.is_some_and(|d| d <= Instant::now()) {
            break;
        }
        let wake = deadline.map_or(next, |d| d.min(next));
        while Instant::now() < wake && stop.level() == 0 {
            tokio::time::sleep(Duration::from_millis(50).min(wake.saturating_duration_since(Instant::now())))
                .await;
        }
        if stop.level() > 0 {
            interrupted = true;
            break;
        }
        if deadline.is_some_and(|d| d <= Instant::now()) {
            break;
        }
    }
    if let Some(probe) = probe {
        events.emit(Event::Probe(probe.stop().await));
    }
    let left_out = healer.left_out();
    if !left_out.is_empty() {
        events.emit(Event::OutOfRotation { servers: left_out });
    }
    let code = if given_up {
        exit::HOST_FAILED
    } else if interrupted {
        exit::INTERRUPTED
    } else if unreachable {
        exit::UNREACHABLE
    } else {
        exit::OK
    };
    state.lock().unwrap_or_else(|e| e.into_inner()).ended = Some(Ended {
        at: utc_timestamp(SystemTime::now()),
        exit_code: code,
    });
    healer.save_state();
    events.emit(Event::RunEnd { exit_code: code });
    Ok(code)
}

fn watched(check: Check, failures: u32) -> Watched {
    Watched {
        check,
        tracker: Tracker::new(failures),
        critical_since: None,
        not_before: None,
    }
}

/// Fold one check into its target: events, the state file.
fn observe(
    events: &EventSink,
    state: &Mutex<WatchState>,
    name: &str,
    target: &mut Watched,
    result: &CheckResult,
) {
    events.emit(Event::HealthCheck {
        target: name.to_owned(),
        ok: result.ok,
        detail: result.detail.clone(),
        ms: result.took.as_millis() as u64,
    });
    if result.ok {
        target.critical_since = None;
    }
    if let Some(t) = target.tracker.observe(result.ok, &result.detail) {
        if t.to == HealthState::Critical {
            target.critical_since.get_or_insert_with(SystemTime::now);
        }
        events.emit(Event::HealthState {
            target: name.to_owned(),
            from: t.from,
            to: t.to,
            reason: t.reason,
        });
    }
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let entry = state.target(name);
    entry.state = target.tracker.state();
    entry.last_check = Some(LastCheck {
        at: utc_timestamp(SystemTime::now()),
        ok: result.ok,
        detail: result.detail.clone(),
    });
}

/// The targets a request puts in `healing`: its hosts, or every target for the service.
fn heal_targets(request: &HealRequest, targets: &IndexMap<String, Watched>) -> Vec<String> {
    if request.hosts.is_empty() {
        targets.keys().cloned().collect()
    } else {
        request.hosts.clone()
    }
}

/// What to heal now: the whole service when it is critical (its URL, or every host), else
/// the first critical host whose backoff is over; with when its fault was first seen.
fn next_to_heal(targets: &IndexMap<String, Watched>) -> Option<(HealRequest, Option<SystemTime>)> {
    let now = Instant::now();
    let ready =
        |t: &Watched| t.tracker.state() == HealthState::Critical && t.not_before.is_none_or(|n| n <= now);
    let hosts: Vec<(&String, &Watched)> = targets.iter().filter(|(n, _)| *n != SERVICE).collect();
    let service_critical = targets.get(SERVICE).is_some_and(ready);
    let all_hosts_critical = hosts.len() > 1
        && hosts
            .iter()
            .all(|(_, t)| t.tracker.state() == HealthState::Critical);
    if service_critical || (all_hosts_critical && hosts.iter().all(|(_, t)| ready(t))) {
        let reason = if service_critical {
            "the service is critical".to_owned()
        } else {
            "every host is critical".to_owned()
        };
        let since = targets.values().filter_map(|t| t.critical_since).min();
        return Some((
            HealRequest {
                hosts: Vec::new(),
                reason,
            },
            since,
        ));
    }
    hosts.into_iter().find(|(_, t)| ready(t)).map(|(name, t)| {
        (
            HealRequest {
                hosts: vec![name.clone()],
                reason: format!("{name}: {} failed checks", t.tracker.failed_in_a_row()),
            },
            t.critical_since,
        )
    })
}

/// The `apply` every redeploy runs: the watch's playbook, inventory, `-e`, connection
/// flags, journal and audit log; its own output.
fn apply_args(args: &WatchArgs) -> ApplyArgs {
    ApplyArgs {
        max_connections: args.max_connections,
        ..redeploy_args(
            args.input.clone(),
            args.forks,
            args.output,
            args.journal.clone(),
            args.audit_log.clone(),
            args.access.clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(states: &[(&str, u32)], failures: u32) -> IndexMap<String, Watched> {
        states
            .iter()
            .map(|(name, failed)| {
                let mut t = watched(
                    Check::Tcp {
                        addr: "127.0.0.1:1".into(),
                    },
                    failures,
                );
                for _ in 0..*failed {
                    t.tracker.observe(false, "connection refused");
                }
                (name.to_string(), t)
            })
            .collect()
    }

    #[test]
    fn the_first_critical_host_is_healed_alone() {
        let t = targets(&[("web1", 1), ("web2", 2), ("web3", 2), (SERVICE, 0)], 2);
        let (request, _) = next_to_heal(&t).unwrap();
        assert_eq!(request.hosts, ["web2"]);
        assert_eq!(request.reason, "web2: 2 failed checks");
    }

    #[test]
    fn a_critical_service_or_every_host_critical_redeploys_everything() {
        let t = targets(&[("web1", 0), ("web2", 2), (SERVICE, 2)], 2);
        let (request, _) = next_to_heal(&t).unwrap();
        assert!(request.hosts.is_empty());
        assert_eq!(request.reason, "the service is critical");
        let t = targets(&[("web1", 2), ("web2", 3), (SERVICE, 0)], 2);
        let (request, _) = next_to_heal(&t).unwrap();
        assert_eq!(
            (request.hosts.len(), request.reason.as_str()),
            (0, "every host is critical")
        );
    }

    #[test]
    fn a_host_in_backoff_or_given_up_waits_and_nothing_is_healed_when_all_is_well() {
        let mut t = targets(&[("web1", 2), ("web2", 2), ("web3", 0)], 2);
        t["web1"].not_before = Some(Instant::now() + Duration::from_secs(60));
        t["web2"].tracker.set(HealthState::GivenUp, "spent");
        assert!(next_to_heal(&t).is_none());
        assert!(next_to_heal(&targets(&[("web1", 1), ("web2", 0)], 2)).is_none());
    }
}
