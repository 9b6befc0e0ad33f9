//! The healer: one redeploy at a time, for `zdd watch` and `zdd heal` alike. For a host:
//! take it out of rotation at once (the capacity guard may refuse: it is redeployed
//! anyway), redeploy it in-process with the playbook limited to it (every safety net of
//! `apply` on, under the rollout lock), check its health again and put it back only when
//! it passes; else take it out again and say when to retry, or give up when its budget of
//! redeploys per hour is spent. For the whole service: one redeploy of every host.

use super::capture::Capture;
use super::check;
use super::rotation::{Place, Rotation, TakeOut};
use super::spec::{Check, WatchSpec};
use super::state_file::{Redeploy, WatchState};
use super::tracker::{Allowance, Attempt, Budget, HealthState};
use crate::access::AccessArgs;
use crate::cli::{ApplyArgs, InputArgs, OutputFormat, TrafficArgs};
use crate::commands::apply::{lock_about, run_apply, Loaded};
use crate::error::Error;
use crate::events::{Event, EventSink, OutOfRotation};
use crate::journal::utc_timestamp;
use crate::lock::{self, RolloutLock};
use crate::runner::StopSignal;
use indexmap::IndexMap;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the first SIGINT/SIGTERM makes `zdd watch` and `zdd heal` do, in its warning.
pub const FIRST_SIGNAL: &str = "interrupted: stopping; a redeploy in flight finishes its batch (post_tasks included) first; interrupt again to stop after the running task";

/// The `apply` a redeploy runs, for `zdd watch` and `zdd heal` alike: every safety net
/// of `apply` (preflight, the lock, the journal), no tags, no check mode, no probe of its
/// own, no progress line.
pub fn redeploy_args(
    input: InputArgs,
    forks: Option<u32>,
    output: OutputFormat,
    journal: Option<PathBuf>,
    audit_log: Option<PathBuf>,
    access: AccessArgs,
) -> ApplyArgs {
    ApplyArgs {
        input,
        forks,
        tags: Vec::new(),
        skip_tags: Vec::new(),
        check: false,
        diff: false,
        traffic: TrafficArgs {
            probe: None,
            probe_concurrency: 4,
            max_failed_requests: None,
            notify: None,
        },
        no_preflight: false,
        max_connections: 256,
        output,
        journal,
        resume: false,
        force: false,
        audit_log,
        junit: None,
        report: None,
        no_progress: true,
        syntax_check: false,
        list_hosts: false,
        list_tasks: false,
        start_at_task: None,
        access,
        rollback: None,
    }
}

/// How often a host may be redeployed.
#[derive(Debug, Clone)]
pub struct HealLimits {
    /// Redeploys per host in any hour; then zdd gives up on it.
    pub max_redeploys_per_hour: u32,
    /// The wait before the second attempt; doubled for each further one.
    pub backoff: Duration,
    /// Where the redeploy history is kept between processes (`zdd heal` runs once per
    /// Consul call); `None`: in memory (`zdd watch`).
    pub history: Option<PathBuf>,
}

/// What to heal: these hosts, or (empty) the whole service.
#[derive(Debug, Clone)]
pub struct HealRequest {
    pub hosts: Vec<String>,
    /// Why, for events and notifications ("web3: 3 failed checks: connection refused").
    pub reason: String,
}

impl HealRequest {
    /// The name the budget and the events use: the host(s), or `service`.
    pub fn target(&self) -> String {
        if self.hosts.is_empty() {
            SERVICE.to_owned()
        } else {
            self.hosts.join(",")
        }
    }
}

/// How many redeploys the state file lists (the latest).
const KEPT_REDEPLOYS: usize = 20;

/// The target name of the whole service.
pub const SERVICE: &str = "service";

#[derive(Debug, Clone, PartialEq)]
pub enum HealOutcome {
    /// Redeployed and the health checks pass; back in rotation.
    Healed { took: Duration },
    /// The redeploy did not heal it (its exit code); may be retried after `retry_in`.
    NotHealed { exit_code: i32, retry_in: Duration },
    /// Over the limit: left out of rotation, not tried again.
    GivenUp { reason: String },
    /// Another run holds the rollout lock: nothing done.
    Busy { holder: String },
    /// Stopped by a signal (a redeploy in flight finished its batch first).
    Interrupted,
    /// A failed redeploy is too recent (backoff): nothing done; try after `retry_in`.
    Waiting { retry_in: Duration },
}

impl HealOutcome {
    pub fn word(&self) -> &'static str {
        match self {
            HealOutcome::Healed { .. } => "healed",
            HealOutcome::NotHealed { .. } => "not_healed",
            HealOutcome::GivenUp { .. } => "given_up",
            HealOutcome::Busy { .. } => "busy",
            HealOutcome::Interrupted => "interrupted",
            HealOutcome::Waiting { .. } => "waiting",
        }
    }
}

pub struct Healer {
    args: ApplyArgs,
    events: Arc<EventSink>,
    stop: Arc<StopSignal>,
    budget: Budget,
    history: Option<PathBuf>,
    /// Redeploys per target (a host, or `service`).
    attempts: HashMap<String, Vec<Attempt>>,
    checks: Option<WatchSpec>,
    check_timeout: Duration,
    /// How long a redeployed host gets to pass its check.
    recheck_within: Duration,
    /// Servers out of rotation because of the healer, by host.
    left_out: IndexMap<String, Vec<OutOfRotation>>,
    state: Option<(Arc<Mutex<WatchState>>, PathBuf)>,
    /// The exit code of the last redeploy that ran.
    pub last_exit_code: Option<i32>,
    /// Who held the rollout lock when the last heal found it taken: said once, not each
    /// round while that deploy runs.
    busy_with: Option<String>,
    /// `--notify`: where a `healing` POST goes once a redeploy holds the rollout lock, with
    /// the fields every body of this caller carries.
    notify: Option<(crate::report::notify::NotifyUrl, serde_json::Value)>,
}

impl Healer {
    /// `args`: the playbook, inventory, `-e` and connection flags every redeploy uses
    /// (`--limit` is set per request).
    pub fn new(
        args: ApplyArgs,
        limits: HealLimits,
        events: Arc<EventSink>,
        stop: Arc<StopSignal>,
    ) -> Result<Healer, Error> {
        let attempts = match &limits.history {
            Some(path) => load_history(path)?,
            None => HashMap::new(),
        };
        Ok(Healer {
            args,
            events,
            stop,
            budget: Budget {
                max_per_hour: limits.max_redeploys_per_hour,
                backoff: limits.backoff,
            },
            history: limits.history,
            attempts,
            checks: None,
            check_timeout: Duration::from_secs(2),
            recheck_within: Duration::from_secs(10),
            left_out: IndexMap::new(),
            state: None,
            last_exit_code: None,
            busy_with: None,
            notify: None,
        })
    }

    /// The checks a redeployed host must pass (without them, a redeploy that exits 0
    /// heals), the timeout of each, and how long a redeployed host gets to pass.
    pub fn with_checks(mut self, checks: WatchSpec, timeout: Duration, within: Duration) -> Healer {
        self.checks = Some(checks);
        self.check_timeout = timeout;
        self.recheck_within = within;
        self
    }

    /// POST `{"event": "healing", "target", "hosts", "reason"}` plus `base`'s fields to `url`
    /// when a redeploy starts: after it took the rollout lock, so a deploy that holds the
    /// lock (the heal is then busy) causes no POST each round.
    pub fn with_notify(
        mut self,
        url: Option<crate::report::notify::NotifyUrl>,
        base: serde_json::Value,
    ) -> Healer {
        self.notify = url.map(|url| (url, base));
        self
    }

    /// Keep this state file up to date with each redeploy and what is out of rotation.
    pub fn with_state_file(mut self, state: Arc<Mutex<WatchState>>, path: PathBuf) -> Healer {
        self.state = Some((state, path));
        self
    }

    /// Servers out of rotation because of the healer (taken out, or left out by a
    /// redeploy that failed), with the commands that put them back.
    pub fn left_out(&self) -> Vec<OutOfRotation> {
        self.left_out.values().flatten().cloned().collect()
    }

    /// Redeploys of `target` within the last hour.
    pub fn redeploys_this_hour(&self, target: &str) -> u32 {
        Budget::within_hour(self.attempts.get(target).map_or(&[][..], |a| a), now_secs())
    }

    pub async fn heal(&mut self, request: &HealRequest) -> HealOutcome {
        self.heal_detected(request, None).await
    }

    /// As `heal`; `detected`: when the fault was seen, for the timeline of a healing.
    pub async fn heal_detected(
        &mut self,
        request: &HealRequest,
        detected: Option<SystemTime>,
    ) -> HealOutcome {
        let started = Instant::now();
        let target = request.target();
        let attempts = self.attempts.get(&target).cloned().unwrap_or_default();
        let n = match self.budget.allows(&attempts, now_secs()) {
            Allowance::Go { n } => n,
            Allowance::Wait(retry_in) => return HealOutcome::Waiting { retry_in },
            Allowance::Spent { max } => {
                // Spent before this call tried anything (a new `zdd heal` process knows
                // nothing of what an earlier one took out): it still takes no traffic.
                if let Some(holder) = self.keep_out(request).await {
                    return self.busy(&target, request, holder, started);
                }
                let reason = format!("given up: {max} redeploys within the hour already");
                return self.give_up(&target, request, reason, started);
            }
        };
        let mut args = self.args.clone();
        if !request.hosts.is_empty() {
            args.input.limit = Some(request.hosts.join(","));
        }
        let loaded = match Loaded::load(&args) {
            Ok(loaded) => loaded,
            Err(e) => return self.load_failed(&target, request, e, started),
        };
        let _lock = match RolloutLock::try_acquire(
            &lock::lock_dir(),
            &lock::lock_key(&loaded.input.inventory_sources),
            &format!("{} (zdd watch healing {target})", lock_about(&args)),
        ) {
            Ok(Ok(lock)) => {
                self.busy_with = None;
                lock
            }
            Ok(Err(holder)) => return self.busy(&target, request, holder, started),
            Err(e) => return self.load_failed(&target, request, e, started),
        };
        if let Some((url, base)) = &self.notify {
            let mut body = base.clone();
            body["event"] = "healing".into();
            body["target"] = target.clone().into();
            body["hosts"] = serde_json::json!(request.hosts);
            body["reason"] = serde_json::json!(request.reason);
            crate::report::notify::post_reported(url, &self.events, "the notification", body).await;
        }
        self.emit_state(
            &target,
            HealthState::Critical,
            HealthState::Healing,
            format!(
                "healing, redeploy {n} of at most {} this hour",
                self.budget.max_per_hour
            ),
        );
        let rotation = match self.rotation(&args, &loaded) {
            Ok(rotation) => rotation,
            Err(e) => return self.load_failed(&target, request, e, started),
        };
        let places: Vec<Place> = request.hosts.iter().flat_map(|h| rotation.places(h)).collect();
        let mut out_at = None;
        for place in &places {
            self.take_out(&rotation, place).await;
            out_at.get_or_insert_with(SystemTime::now);
        }
        self.record_redeploy_start(request);
        let capture = Capture::default();
        let sink = Arc::new(EventSink::new(vec![
            Box::new(crate::commands::apply::Forward(self.events.clone())),
            Box::new(capture.clone()),
        ]));
        let code = match run_apply(&args, loaded, sink, self.stop.clone()).await {
            Ok(code) => code,
            Err(e) => {
                eprint!("{}", e.render());
                e.exit_code()
            }
        };
        self.last_exit_code = Some(code);
        // Out since the redeploy took it out, when the watch could not.
        let out_at = out_at.or_else(|| capture.first_out());
        let interrupted = self.stop.level() > 0;
        // Interrupted, the batch in flight still finished: the host may well be fine.
        let failing = if code == 0 || interrupted {
            self.recheck(&request.hosts).await
        } else {
            Some(format!("the redeploy exited {code}"))
        };
        let healthy = failing.is_none();
        let healed = healthy && code == 0;
        let now = now_secs();
        self.attempts.entry(target.clone()).or_default().push(Attempt {
            at: now,
            healed: healthy,
        });
        self.save_history();
        if healthy && !healed {
            // Interrupted after the batch that healed it: back in rotation, and said so.
            for place in &places {
                self.put_back(&rotation, place).await;
            }
            for host in &request.hosts {
                self.left_out.shift_remove(host);
            }
            rotation.close().await;
            let detail =
                format!("interrupted (the redeploy exited {code}); it passes its check and is in rotation");
            self.end_event(&target, request, "interrupted", Some(code), started, detail);
            self.finish_redeploy("interrupted", code);
            return HealOutcome::Interrupted;
        }
        if healed {
            for place in &places {
                self.put_back(&rotation, place).await;
            }
            for host in &request.hosts {
                self.left_out.shift_remove(host);
            }
            let back = SystemTime::now();
            rotation.close().await;
            let took = started.elapsed();
            let clock = |t: SystemTime| utc_timestamp(t).get(11..19).unwrap_or_default().to_owned();
            let mut timeline = Vec::new();
            if let Some(t) = detected {
                timeline.push(format!("crash detected {}", clock(t)));
            }
            if let Some(t) = out_at {
                timeline.push(format!("out {}", clock(t)));
            }
            timeline.push(format!("back {}", clock(back)));
            let reason = format!("healed in {:.1}s ({})", took.as_secs_f64(), timeline.join(", "));
            self.emit_state(&target, HealthState::Healing, HealthState::Healed, reason.clone());
            self.end_event(&target, request, "healed", Some(code), started, reason);
            self.finish_redeploy("healed", code);
            return HealOutcome::Healed { took };
        }
        // Not healed: it takes no traffic until it is.
        for place in &places {
            if rotation.in_rotation(place).await.unwrap_or(false) {
                self.take_out(&rotation, place).await;
            }
        }
        for server in capture.out_of_rotation() {
            let list = self.left_out.entry(server.host.clone()).or_default();
            if !list.contains(&server) {
                list.push(server);
            }
        }
        rotation.close().await;
        let why = failing.unwrap_or_default();
        let why = if code != 0 && !why.starts_with("the redeploy exited") {
            format!("the redeploy exited {code}; {why}")
        } else {
            why
        };
        if interrupted {
            self.end_event(
                &target,
                request,
                "interrupted",
                Some(code),
                started,
                format!("not healed, interrupted: {why}"),
            );
            self.finish_redeploy("interrupted", code);
            return HealOutcome::Interrupted;
        }
        let attempts = self.attempts.get(&target).cloned().unwrap_or_default();
        match self.budget.after_failure(&attempts, now) {
            Some(retry_in) => {
                let detail = format!(
                    "not healed ({why}); next try in {}",
                    check::human_duration(retry_in)
                );
                self.emit_state(
                    &target,
                    HealthState::Healing,
                    HealthState::Critical,
                    detail.clone(),
                );
                self.end_event(&target, request, "not_healed", Some(code), started, detail);
                self.finish_redeploy("not_healed", code);
                HealOutcome::NotHealed {
                    exit_code: code,
                    retry_in,
                }
            }
            None => {
                self.finish_redeploy("given_up", code);
                let reason = format!(
                    "given up after {} redeploys this hour ({why})",
                    Budget::within_hour(&attempts, now)
                );
                self.give_up(&target, request, reason, started)
            }
        }
    }

    fn give_up(
        &mut self,
        target: &str,
        request: &HealRequest,
        reason: String,
        started: Instant,
    ) -> HealOutcome {
        let out: Vec<OutOfRotation> = request
            .hosts
            .iter()
            .flat_map(|h| self.left_out.get(h).cloned().unwrap_or_default())
            .collect();
        let text = if out.is_empty() {
            reason.clone()
        } else {
            format!(
                "{reason}; left out of rotation: {}",
                out.iter()
                    .map(|s| s.command.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        self.emit_state(target, HealthState::Critical, HealthState::GivenUp, text.clone());
        self.end_event(target, request, "given_up", self.last_exit_code, started, text);
        self.save_state();
        HealOutcome::GivenUp { reason }
    }

    fn load_failed(
        &mut self,
        target: &str,
        request: &HealRequest,
        e: Error,
        started: Instant,
    ) -> HealOutcome {
        let code = e.exit_code();
        let first = e.render().lines().next().unwrap_or_default().to_owned();
        let retry_in = self.budget.backoff;
        let detail = format!(
            "not healed: the playbook cannot be run ({first}); next try in {}",
            check::human_duration(retry_in)
        );
        self.events.emit(Event::Warning {
            message: format!("{target}: {detail}"),
        });
        self.end_event(target, request, "not_healed", Some(code), started, detail);
        HealOutcome::NotHealed {
            exit_code: code,
            retry_in,
        }
    }

    /// The rotation commands of a run of `args`; they go to the audit log too.
    fn rotation(&self, args: &ApplyArgs, loaded: &Loaded) -> Result<Rotation, Error> {
        let mut opts = crate::commands::apply::run_options(args, loaded);
        opts.audit = args
            .audit_log
            .as_deref()
            .map(crate::audit::AuditLog::open)
            .transpose()?
            .map(Arc::new);
        Ok(Rotation::new(
            &loaded.input,
            loaded.templater.clone(),
            &opts,
            self.events.clone(),
        ))
    }

    /// Take the request's hosts out of rotation without a redeploy (over the limit), so
    /// that a host given up takes no traffic whoever took it out first.
    /// A deploy holds the rollout lock: said once per holder, not each round.
    fn busy(&mut self, target: &str, request: &HealRequest, holder: String, started: Instant) -> HealOutcome {
        if self.busy_with.as_ref() != Some(&holder) {
            let detail = format!("a deploy is running ({holder}): not healed now, checks go on");
            self.end_event(target, request, "busy", None, started, detail);
            self.busy_with = Some(holder.clone());
        }
        HealOutcome::Busy { holder }
    }

    /// Take `request`'s hosts out of rotation without a redeploy, under the rollout lock
    /// as a redeploy would be. Returns the lock's holder when a deploy holds it: then
    /// nothing is touched (that deploy decides what is in rotation).
    async fn keep_out(&mut self, request: &HealRequest) -> Option<String> {
        if request.hosts.is_empty() {
            return None;
        }
        let mut args = self.args.clone();
        args.input.limit = Some(request.hosts.join(","));
        let target = request.target();
        let locked = Loaded::load(&args).and_then(|loaded| {
            let lock = RolloutLock::try_acquire(
                &lock::lock_dir(),
                &lock::lock_key(&loaded.input.inventory_sources),
                &format!("{} (zdd watch keeping {target} out)", lock_about(&args)),
            )?;
            Ok((loaded, lock))
        });
        let rotation = match locked {
            Ok((_, Err(holder))) => return Some(holder),
            Ok((loaded, Ok(lock))) => self.rotation(&args, &loaded).map(|r| (r, lock)),
            Err(e) => Err(e),
        };
        let (rotation, _lock) = match rotation {
            Ok(held) => held,
            Err(e) => {
                let first = e.render().lines().next().unwrap_or_default().to_owned();
                self.events.emit(Event::Warning {
                    message: format!(
                        "cannot take {} out of rotation: {first}",
                        request.hosts.join(", ")
                    ),
                });
                return None;
            }
        };
        let places: Vec<Place> = request.hosts.iter().flat_map(|h| rotation.places(h)).collect();
        for place in &places {
            self.take_out(&rotation, place).await;
        }
        rotation.close().await;
        None
    }

    async fn take_out(&mut self, rotation: &Rotation, place: &Place) {
        let record = OutOfRotation {
            server: place.server.clone(),
            host: place.host.clone(),
            load_balancer: place.via.clone(),
            command: place.restore_command(),
        };
        // Known before the command is sent: a kill now still leaves a report.
        let list = self.left_out.entry(place.host.clone()).or_default();
        if !list.contains(&record) {
            list.push(record);
        }
        self.save_state();
        let (action, detail) = match rotation.take_out(place).await {
            Ok(TakeOut::Done) => ("out", None),
            Ok(TakeOut::AlreadyOut) => ("already_out", None),
            Ok(TakeOut::Refused(why)) => {
                self.left_out.shift_remove(&place.host);
                ("refused", Some(why))
            }
            Err(why) => ("failed", Some(why)),
        };
        self.save_state();
        self.events.emit(Event::WatchRotation {
            host: place.host.clone(),
            place: place.describe(),
            action: action.into(),
            detail,
        });
    }

    async fn put_back(&mut self, rotation: &Rotation, place: &Place) {
        let result = match rotation.in_rotation(place).await {
            Ok(true) => return,
            Ok(false) => rotation.put_back(place).await,
            Err(e) => Err(e),
        };
        let (action, detail) = match result {
            Ok(()) => ("back", None),
            Err(why) => ("not_put_back", Some(why)),
        };
        self.events.emit(Event::WatchRotation {
            host: place.host.clone(),
            place: place.describe(),
            action: action.into(),
            detail,
        });
    }

    /// `None` when every host passes its check within `recheck_within` (or has none);
    /// else what the last failing check said.
    async fn recheck(&self, hosts: &[String]) -> Option<String> {
        let checks: Vec<(String, Check)> = match &self.checks {
            Some(spec) if hosts.is_empty() => spec.hosts.clone(),
            Some(spec) => hosts
                .iter()
                .filter_map(|h| spec.check_of(h).map(|c| (h.clone(), c.clone())))
                .collect(),
            None => return None,
        };
        let deadline = Instant::now() + self.recheck_within;
        let mut pending = checks;
        loop {
            let results =
                futures::future::join_all(pending.iter().map(|(_, c)| check::run(c, self.check_timeout)))
                    .await;
            let mut last = None;
            let mut still = Vec::new();
            for ((host, c), r) in pending.into_iter().zip(results) {
                if !r.ok {
                    last = Some(format!("{host}: {}", r.detail));
                    still.push((host, c));
                }
            }
            if still.is_empty() {
                return None;
            }
            if Instant::now() >= deadline {
                return last;
            }
            pending = still;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn emit_state(&self, target: &str, from: HealthState, to: HealthState, reason: String) {
        self.events.emit(Event::HealthState {
            target: target.to_owned(),
            from,
            to,
            reason,
        });
    }

    fn end_event(
        &self,
        target: &str,
        request: &HealRequest,
        outcome: &str,
        exit_code: Option<i32>,
        started: Instant,
        detail: String,
    ) {
        self.events.emit(Event::HealEnd {
            target: target.to_owned(),
            hosts: request.hosts.clone(),
            outcome: outcome.into(),
            exit_code,
            took_ms: started.elapsed().as_millis() as u64,
            detail,
        });
    }

    fn record_redeploy_start(&mut self, request: &HealRequest) {
        if let Some((state, _)) = &self.state {
            let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
            // A watch runs for months: the state file keeps the latest redeploys only.
            let old = (state.redeploys.len() + 1).saturating_sub(KEPT_REDEPLOYS);
            state.redeploys.drain(..old);
            state.redeploys.push(Redeploy {
                at: utc_timestamp(SystemTime::now()),
                hosts: request.hosts.clone(),
                exit_code: None,
                outcome: "running".into(),
            });
        }
        self.save_state();
    }

    fn finish_redeploy(&mut self, outcome: &str, code: i32) {
        if let Some((state, _)) = &self.state {
            let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(last) = state.redeploys.last_mut() {
                last.exit_code = Some(code);
                last.outcome = outcome.into();
            }
        }
        self.save_state();
    }

    /// Write the state file (with what is out of rotation now).
    pub fn save_state(&self) {
        if let Some((state, path)) = &self.state {
            let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
            state.out_of_rotation = self.left_out();
            if let Err(e) = state.save(path) {
                tracing::warn!("cannot write the watch state {}: {e}", path.display());
            }
        }
    }

    fn save_history(&self) {
        let Some(path) = &self.history else {
            return;
        };
        let text = serde_json::to_string_pretty(&self.attempts).unwrap_or_default();
        let written = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(path, text));
        if let Err(e) = written {
            tracing::warn!("cannot write the redeploy history {}: {e}", path.display());
        }
    }
}

fn load_history(path: &std::path::Path) -> Result<HashMap<String, Vec<Attempt>>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            Error::invalid(crate::error::Diagnostic::new(format!(
                "the redeploy history {} cannot be read: {e}",
                path.display()
            )))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
        Err(e) => Err(Error::invalid(crate::error::Diagnostic::new(format!(
            "the redeploy history {} cannot be read: {e}",
            path.display()
        )))),
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}
