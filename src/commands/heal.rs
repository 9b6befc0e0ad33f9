//! `zdd heal`: the handler of a Consul `checks` watch. It reads the payload on stdin, keeps
//! the critical checks, maps them to a playbook and hosts (`--playbook -i`, or a service's
//! entry in `--config`), and redeploys through the same healer as `zdd watch`: one redeploy
//! at a time, the rollout lock, at most `--max-redeploys` per host in any hour. Consul runs
//! the handler once per change, so the redeploy history is kept in a file under
//! `--state-dir`, and a redeploy that did not heal is retried here, after its backoff,
//! until it heals or the limit gives up on it.

use crate::access::AccessArgs;
use crate::cli::{ApplyArgs, HealArgs, InputArgs, OutputFormat};
use crate::commands::apply::Loaded;
use crate::error::{exit, Diagnostic, Error};
use crate::events::{Event, EventSink, HealTarget, Reporter};
use crate::plan::RolloutPlan;
use crate::report::human::HumanReporter;
use crate::report::json::JsonReporter;
use crate::report::notify::{post_reported, NotifyUrl};
use crate::runner::StopSignal;
use crate::watch::consul::{self, Check, Redeployable, Wanted};
use crate::watch::engine::{redeploy_args, HealOutcome, HealRequest, Healer};
use crate::watch::heal_config::{HealConfig, ServiceConfig};
use crate::watch::spec::{self, SpecFlags, WatchSpec};
use serde_json::json;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub async fn heal(args: HealArgs) -> Result<i32, Error> {
    // Every input is checked before any host is contacted: the config, the payload, then
    // each playbook and inventory a critical check maps to.
    let config = args.config.as_deref().map(HealConfig::load).transpose()?;
    let notify = match &args.notify {
        Some(url) => Some(NotifyUrl::parse(url).map_err(|e| Error::invalid(Diagnostic::new(e)))?),
        None => None,
    };
    let (text, origin) = read_payload(args.payload.as_deref())?;
    let checks = consul::parse_payload(&text, &origin).map_err(Error::invalid)?;
    let critical: Vec<&Check> = checks.iter().filter(|c| c.is_critical()).collect();
    let services = match &config {
        Some(config) => config
            .services
            .iter()
            .map(|(name, s)| (Some(name.clone()), s.clone()))
            .collect(),
        None => vec![(None, command_line_service(&args))],
    };
    // Every service's playbook and inventory, critical or not: a handler that cannot
    // work says so on its first call, not on the day a check fails.
    let mut hosts = Vec::new();
    let mut health = Vec::new();
    for (_, service) in &services {
        let (h, spec) = redeployable_hosts(&apply_args(&args, service))?;
        hosts.push(h);
        health.push(spec);
    }
    let (groups, mut skipped) = by_service(&critical, &services);
    let mut jobs = Vec::new();
    for (index, checks) in groups {
        let (name, service) = &services[index];
        let apply = apply_args(&args, service);
        let wanted = consul::wanted(&checks, &hosts[index]);
        skipped.extend(wanted.skipped.iter().cloned());
        if wanted.whole_service || !wanted.hosts.is_empty() {
            jobs.push(Job {
                name: name.clone(),
                apply,
                wanted,
                health: health[index].clone(),
            });
        }
    }
    let events = Arc::new(EventSink::new(reporters(&args)));
    events.emit(Event::HealPlan {
        checks: checks.len(),
        critical: critical.iter().map(|c| c.describe()).collect(),
        redeploys: jobs.iter().map(Job::target).collect(),
    });
    for message in skipped {
        events.emit(Event::Warning {
            message: format!("not healed: {message}"),
        });
    }
    let stop = Arc::new(StopSignal::default());
    if !jobs.is_empty() {
        crate::commands::apply::watch_signals(
            stop.clone(),
            events.clone(),
            crate::watch::engine::FIRST_SIGNAL,
        );
    }
    let mut code = exit::OK;
    let mut left_out = Vec::new();
    for job in jobs {
        let history = job.state_path("heal.json");
        let limits = args.healing.limits(Some(history));
        let requests = job.requests();
        let mut healer = Healer::new(job.apply, limits, events.clone(), stop.clone())?
            .with_notify(notify.clone(), json!({"service": job.name}));
        if let Some(spec) = job.health {
            healer = healer.with_checks(spec, CHECK_TIMEOUT, RECHECK_WITHIN);
        }
        for request in requests {
            if stop.level() > 0 {
                code = worse(code, exit::INTERRUPTED);
                break;
            }
            let about = json!({"service": job.name, "target": request.target(), "hosts": request.hosts, "reason": request.reason});
            let outcome = heal_until_done(&mut healer, &request, args.healing.max_redeploys, &stop).await;
            if let Some(url) = &notify {
                let mut body = with_event(&about, outcome.word());
                match &outcome {
                    HealOutcome::Healed { took } => body["took_ms"] = json!(took.as_millis() as u64),
                    HealOutcome::NotHealed { exit_code, .. } => body["exit_code"] = json!(exit_code),
                    HealOutcome::GivenUp { reason } => {
                        body["why"] = json!(reason);
                        body["out_of_rotation"] = json!(healer.left_out());
                    }
                    HealOutcome::Busy { holder } => body["holder"] = json!(holder),
                    HealOutcome::Interrupted | HealOutcome::Waiting { .. } => {}
                }
                post_reported(url, &events, "the notification", body).await;
            }
            // Busy: the healer said who holds the lock; that run is in charge.
            code = worse(code, outcome_code(&outcome));
        }
        left_out.extend(healer.left_out());
        if stop.level() > 0 {
            code = worse(code, exit::INTERRUPTED);
            break;
        }
    }
    // What the healer took out and could not put back (given up, interrupted), with the
    // commands that put it back, as `apply` ends.
    if !left_out.is_empty() {
        events.emit(Event::OutOfRotation { servers: left_out });
    }
    events.emit(Event::RunEnd { exit_code: code });
    Ok(code)
}

/// A health check gets no answer within this long: it failed (as `zdd watch`'s default).
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a redeployed host gets to pass its health check.
const RECHECK_WITHIN: Duration = Duration::from_secs(10);

/// One playbook and inventory to redeploy with, and what to redeploy.
struct Job {
    /// The Consul service name (from `--config`); `None` with `--playbook`.
    name: Option<String>,
    apply: ApplyArgs,
    wanted: Wanted,
    /// The health checks the playbook gives (`zdd_health_url`, ...): a redeployed host
    /// must pass its own; without them a redeploy that exits 0 heals.
    health: Option<WatchSpec>,
}

impl Job {
    fn target(&self) -> HealTarget {
        HealTarget {
            service: self.name.clone(),
            playbook: self.apply.input.playbook.display().to_string(),
            inventory: self.apply.input.inventory.clone(),
            hosts: self.wanted.hosts.clone(),
        }
    }

    /// Each critical host alone (one redeploy at a time, each with its own take-out), or
    /// the whole service once.
    fn requests(&self) -> Vec<HealRequest> {
        if self.wanted.whole_service {
            return vec![HealRequest {
                hosts: Vec::new(),
                reason: self.wanted.reasons.join("; "),
            }];
        }
        self.wanted
            .hosts
            .iter()
            .map(|host| HealRequest {
                hosts: vec![host.clone()],
                reason: self
                    .wanted
                    .reasons
                    .iter()
                    .filter(|r| r.starts_with(&format!("{host}: ")))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; "),
            })
            .collect()
    }

    /// `<state dir>/<playbook>-<inventory>.<ext>`, beside the journal of the redeploys.
    fn state_path(&self, ext: &str) -> PathBuf {
        let journal = self.apply.journal.clone().unwrap_or_default();
        journal.with_extension(ext)
    }
}

/// Heal one request: a redeploy that did not heal is tried again after its backoff, as
/// `zdd watch` would on its next round (Consul calls again only when the checks change),
/// until it heals, gives up, or a signal stops it. `max` bounds the tries even if the
/// history could not be kept.
async fn heal_until_done(
    healer: &mut Healer,
    request: &HealRequest,
    max: u32,
    stop: &StopSignal,
) -> HealOutcome {
    // Each round is a redeploy or a wait for one; the bound holds even if the healer kept
    // no history.
    for _ in 0..max.max(1) * 2 + 1 {
        let retry_in = match healer.heal(request).await {
            HealOutcome::NotHealed { retry_in, .. } | HealOutcome::Waiting { retry_in } => retry_in,
            other => return other,
        };
        if !sleep_unless_stopped(retry_in, stop).await {
            return HealOutcome::Interrupted;
        }
    }
    healer.heal(request).await
}

/// Sleep `total`, waking early (false) when a signal arrives.
async fn sleep_unless_stopped(total: Duration, stop: &StopSignal) -> bool {
    let step = Duration::from_millis(100);
    let mut slept = Duration::ZERO;
    while slept < total {
        if stop.level() > 0 {
            return false;
        }
        tokio::time::sleep(step.min(total - slept)).await;
        slept += step;
    }
    stop.level() == 0
}

/// `about` (service, target, hosts, reason) with `"event": event` first.
fn with_event(about: &serde_json::Value, event: &str) -> serde_json::Value {
    let mut body = json!({ "event": event });
    if let (Some(body), Some(about)) = (body.as_object_mut(), about.as_object()) {
        body.extend(about.clone());
    }
    body
}

/// The exit code of one heal (see `zdd heal --help`).
fn outcome_code(outcome: &HealOutcome) -> i32 {
    match outcome {
        HealOutcome::Healed { .. } | HealOutcome::Busy { .. } => exit::OK,
        HealOutcome::NotHealed { exit_code, .. } if *exit_code == exit::UNREACHABLE => exit::UNREACHABLE,
        HealOutcome::NotHealed { .. } | HealOutcome::GivenUp { .. } | HealOutcome::Waiting { .. } => {
            exit::HOST_FAILED
        }
        HealOutcome::Interrupted => exit::INTERRUPTED,
    }
}

/// The code that says more: interrupted over unreachable over not healed over ok.
fn worse(a: i32, b: i32) -> i32 {
    let rank = |c: i32| match c {
        exit::OK => 0,
        exit::HOST_FAILED => 1,
        exit::UNREACHABLE => 2,
        _ => 3,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// The payload: `--payload FILE`, else standard input (never a terminal: Consul pipes it).
fn read_payload(file: Option<&Path>) -> Result<(String, String), Error> {
    if let Some(file) = file {
        let text = crate::yaml::read_bounded(file).map_err(|e| {
            Error::invalid(Diagnostic::new(format!(
                "cannot read the payload {}: {e}",
                file.display()
            )))
        })?;
        return Ok((text, crate::error::display_path(file)));
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::invalid(
            Diagnostic::new("zdd heal reads a Consul watch payload on standard input, and it is a terminal")
                .hint("pipe the payload in (`zdd heal ... < checks.json`), pass --payload FILE, or let a Consul `checks` watch run zdd heal as its handler"),
        ));
    }
    let mut bytes = Vec::new();
    stdin
        .lock()
        .take(crate::yaml::MAX_FILE_BYTES)
        .read_to_end(&mut bytes)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::invalid(Diagnostic::new(
            "the Consul watch payload on standard input is not UTF-8",
        ))
    })?;
    Ok((text, "<stdin>".to_owned()))
}

/// `--playbook -i -l`: the one service of the command line.
fn command_line_service(args: &HealArgs) -> ServiceConfig {
    ServiceConfig {
        playbook: args.playbook.clone().unwrap_or_default(),
        inventory: args.inventory.clone(),
        hosts: args.limit.iter().cloned().collect(),
        extra_vars: None,
    }
}

/// The critical checks of each service, by index into `services`: all of them for the
/// command line's one service; by `ServiceName` with `--config`, where checks of a
/// service the file does not name, and node checks, are skipped (said why).
fn by_service<'a>(
    critical: &[&'a Check],
    services: &[(Option<String>, ServiceConfig)],
) -> (Vec<(usize, Vec<&'a Check>)>, Vec<String>) {
    let mut groups: Vec<(usize, Vec<&Check>)> = Vec::new();
    let mut skipped = Vec::new();
    for check in critical {
        let index = match services {
            [(None, _)] => Some(0),
            _ => services
                .iter()
                .position(|(name, _)| name.as_deref() == Some(check.service_name.as_str())),
        };
        match index {
            Some(i) => match groups.iter_mut().find(|(g, _)| *g == i) {
                Some((_, list)) => list.push(check),
                None => groups.push((i, vec![check])),
            },
            None if check.service_name.is_empty() => skipped.push(format!(
                "{} (a node check: the config maps services, and this check belongs to none)",
                check.describe()
            )),
            None => skipped.push(format!(
                "{} (service `{}` is not in the config)",
                check.describe(),
                check.service_name
            )),
        }
    }
    (groups, skipped)
}

/// The `zdd apply` a redeploy of `service` runs (the healer sets `--limit` per request):
/// every safety net on, the journal under `--state-dir`.
fn apply_args(args: &HealArgs, service: &ServiceConfig) -> ApplyArgs {
    let mut extra_vars: Vec<String> = service.extra_vars.iter().cloned().collect();
    extra_vars.extend(args.extra_vars.iter().cloned());
    let limit = (!service.hosts.is_empty()).then(|| service.hosts.join(":"));
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(crate::journal::DEFAULT_DIR));
    let journal = crate::journal::default_path(&service.playbook, &service.inventory);
    let journal = state_dir.join(journal.file_name().unwrap_or_default());
    redeploy_args(
        InputArgs {
            playbook: service.playbook.clone(),
            inventory: service.inventory.clone(),
            extra_vars,
            limit,
            verbose: args.verbose,
            vault_password_files: args.vault_password_files.clone(),
            vault_ids: args.vault_ids.clone(),
            ask_vault_pass: false,
            connection: args.connection.clone(),
        },
        None,
        args.output,
        Some(journal),
        args.audit_log.clone(),
        AccessArgs::default(),
    )
}

/// The hosts a redeploy can reach: those of the playbook's plays (under `--limit`), in
/// order, and their health checks when the playbook gives some. Loading checks the
/// playbook and inventory (exit 5 before anything runs).
fn redeployable_hosts(apply: &ApplyArgs) -> Result<(Vec<Redeployable>, Option<WatchSpec>), Error> {
    let loaded = Loaded::load(apply)?;
    let input = &loaded.input;
    let plan = RolloutPlan::new(&input.playbook, &input.inventory, apply.input.limit.as_deref(), 0)?;
    let hosts = spec::watched_hosts(&plan);
    let health = spec::build(input, &plan, &loaded.templater, &SpecFlags::default(), &hosts).ok();
    let hosts = hosts
        .into_iter()
        .map(|name| Redeployable {
            address: input
                .inventory
                .host_vars(&name)
                .get("ansible_host")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            name,
        })
        .collect();
    Ok((hosts, health))
}

/// Human lines on stdout (on stderr with `--output json`, whose events go to stdout).
fn reporters(args: &HealArgs) -> Vec<Box<dyn Reporter>> {
    match args.output {
        OutputFormat::Human => vec![Box::new(HumanReporter::new(std::io::stdout(), args.verbose))],
        OutputFormat::Json => vec![
            Box::new(JsonReporter::new(std::io::stdout())),
            Box::new(HumanReporter::new(std::io::stderr(), args.verbose)),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(node: &str, service: &str) -> Check {
        Check {
            node: node.into(),
            check_id: format!("service:{service}"),
            name: format!("{service} check"),
            status: "critical".into(),
            output: "connection refused".into(),
            service_id: service.into(),
            service_name: service.into(),
        }
    }

    fn service(playbook: &str) -> ServiceConfig {
        ServiceConfig {
            playbook: playbook.into(),
            inventory: vec!["hosts".into()],
            hosts: Vec::new(),
            extra_vars: None,
        }
    }

    #[test]
    fn with_a_config_checks_go_to_their_service_and_unknown_ones_are_skipped() {
        let services = vec![
            (Some("books".to_owned()), service("books.yml")),
            (Some("web".to_owned()), service("web.yml")),
        ];
        let (a, b, c, mut node) = (
            check("web1", "web"),
            check("lb", "books"),
            check("x", "mail"),
            check("db1", ""),
        );
        node.check_id = "serfHealth".into();
        let (groups, skipped) = by_service(&[&a, &b, &c, &node], &services);
        assert_eq!(groups, vec![(1, vec![&a]), (0, vec![&b])]);
        assert_eq!(
            skipped,
            vec![
                "x: mail check is critical: connection refused (service `mail` is not in the config)",
                "db1:  check is critical: connection refused (a node check: the config maps services, and this check belongs to none)",
            ]
        );
    }

    #[test]
    fn without_a_config_every_critical_check_goes_to_the_playbook() {
        let services = vec![(None, service("site.yml"))];
        let (a, b) = (check("web1", "web"), check("lb", "books"));
        let (groups, skipped) = by_service(&[&a, &b], &services);
        assert_eq!(groups, vec![(0, vec![&a, &b])]);
        assert!(skipped.is_empty());
    }

    #[test]
    fn one_request_per_critical_host_or_one_for_the_service() {
        let job = |hosts: &[&str], whole: bool| Job {
            name: None,
            apply: apply_args(
                &<crate::cli::Cli as clap::Parser>::try_parse_from(["zdd", "heal", "--playbook", "p.yml"])
                    .map(|cli| match cli.command {
                        crate::cli::Command::Heal(h) => h,
                        _ => unreachable!(),
                    })
                    .unwrap(),
                &service("site.yml"),
            ),
            wanted: Wanted {
                hosts: hosts.iter().map(|h| h.to_string()).collect(),
                whole_service: whole,
                reasons: vec!["web1: a".into(), "web2: b".into(), "web10: c".into()],
                skipped: Vec::new(),
            },
            health: None,
        };
        let requests = job(&["web1", "web2"], false).requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].hosts, vec!["web1"]);
        assert_eq!(requests[0].reason, "web1: a");
        assert_eq!(requests[1].reason, "web2: b");
        let requests = job(&[], true).requests();
        assert_eq!(requests.len(), 1);
        assert!(requests[0].hosts.is_empty());
        assert_eq!(requests[0].reason, "web1: a; web2: b; web10: c");
        let j = job(&[], true);
        assert_eq!(
            j.apply.journal,
            Some(PathBuf::from(".zdd/journal/site-hosts.json"))
        );
        assert_eq!(
            j.state_path("heal.json"),
            PathBuf::from(".zdd/journal/site-hosts.heal.json")
        );
    }

    #[test]
    fn exit_codes_keep_the_worst() {
        assert_eq!(worse(exit::OK, exit::HOST_FAILED), exit::HOST_FAILED);
        assert_eq!(worse(exit::UNREACHABLE, exit::HOST_FAILED), exit::UNREACHABLE);
        assert_eq!(worse(exit::HOST_FAILED, exit::INTERRUPTED), exit::INTERRUPTED);
        assert_eq!(outcome_code(&HealOutcome::Busy { holder: "x".into() }), exit::OK);
        assert_eq!(
            outcome_code(&HealOutcome::NotHealed {
                exit_code: 2,
                retry_in: Duration::ZERO
            }),
            exit::HOST_FAILED
        );
        assert_eq!(
            outcome_code(&HealOutcome::GivenUp { reason: "x".into() }),
            exit::HOST_FAILED
        );
    }
}
