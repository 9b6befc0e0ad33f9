//! Synthetic runs for the report's tests: timed events as the runner, the probe and the
//! watch emit them, at fixed times.

use super::Timed;
use crate::events::{Event, HostResult, HostStats, OutOfRotation, RotationState, RunInfo, Status};
use crate::playbook::Section;
use crate::probe::{ProbeReport, ProbeSample};
use crate::watch::tracker::HealthState;
use indexmap::IndexMap;
use serde_json::{json, Value};

/// Epoch milliseconds of every fixture's first event (2026-12-01T01:00:00Z).
pub const T0: u64 = 1_796_086_800_000;

/// Events at times relative to `T0`, sorted by time when finished (events pushed at the
/// same time keep their order).
#[derive(Default)]
pub struct Script {
    pub now: u64,
    events: Vec<Timed>,
}

impl Script {
    pub fn at(&mut self, ms: u64) -> &mut Self {
        self.now = ms;
        self
    }

    pub fn emit(&mut self, event: Event) -> &mut Self {
        self.emit_at(self.now, event)
    }

    pub fn emit_at(&mut self, ms: u64, event: Event) -> &mut Self {
        self.events.push(Timed { time: T0 + ms, event });
        self
    }

    /// A task on `hosts`, each taking `ms`: TaskStart, a HostStart per host now, their
    /// results `ms` later (the clock moves on by `ms`). `fail` hosts fail it.
    pub fn task(&mut self, part: Section, handler: bool, name: &str, hosts: &[&str], ms: u64) -> &mut Self {
        self.task_failing(part, handler, name, hosts, ms, &[], "")
    }

    #[allow(clippy::too_many_arguments)]
    pub fn task_failing(
        &mut self,
        part: Section,
        handler: bool,
        name: &str,
        hosts: &[&str],
        ms: u64,
        fail: &[&str],
        msg: &str,
    ) -> &mut Self {
        self.emit(Event::TaskStart {
            name: name.into(),
            section: part,
            handler,
            via_ansible: false,
        });
        for h in hosts {
            self.emit(Event::HostStart {
                host: (*h).into(),
                task: name.into(),
            });
        }
        let end = self.now + ms;
        for h in hosts {
            let failed = fail.contains(h);
            let status = if failed { Status::Failed } else { Status::Changed };
            let body = if failed {
                json!({"changed": false, "failed": true, "msg": msg, "rc": 1})
            } else {
                json!({"changed": true})
            };
            self.emit_at(end, Event::HostResult(result(h, name, status, ms, body)));
        }
        self.now = end;
        self
    }

    /// A server's rotation state changes now.
    pub fn rotation(&mut self, host: &str, state: RotationState) -> &mut Self {
        self.emit(Event::Rotation {
            server: server(host),
            state,
        })
    }

    /// The probe from `from` to `to` (ms): one sample per second, each emitted as its
    /// second ends, and the last partial one at `to`. `failed` lists (second, count).
    pub fn probe(&mut self, from: u64, to: u64, failed: &[(u64, u64)]) -> &mut Self {
        let seconds = (to - from) / 1000;
        for s in 0..=seconds {
            let emitted = if s == seconds { to } else { from + (s + 1) * 1000 };
            let requests = if s == seconds { 90 } else { 180 + s % 3 * 10 };
            let failed = failed.iter().find(|(f, _)| *f == s).map_or(0, |(_, n)| *n);
            self.emit_at(
                emitted,
                Event::ProbeSample(ProbeSample {
                    second: s,
                    requests,
                    failed,
                    p50_ms: 2.0 + (s % 4) as f64 * 0.5,
                    p99_ms: 9.0 + (s % 5) as f64 * 2.0,
                }),
            );
        }
        self
    }

    pub fn finish(&mut self) -> Vec<Timed> {
        let mut events = std::mem::take(&mut self.events);
        events.sort_by_key(|e| e.time);
        events
    }
}

pub fn result(host: &str, task: &str, status: Status, ms: u64, result: Value) -> HostResult {
    HostResult {
        duration_ms: ms,
        ..HostResult::new(host, task, status, result)
    }
}

pub fn server(host: &str) -> OutOfRotation {
    OutOfRotation {
        server: format!("web/{host}"),
        host: host.into(),
        load_balancer: "lb".into(),
        command: format!("echo 'enable server web/{host}' | socat stdio /run/haproxy/admin.sock"),
    }
}

pub fn run_info(argv: &[&str]) -> Event {
    Event::RunInfo(RunInfo {
        command: "apply".into(),
        argv: argv.iter().map(|a| (*a).into()).collect(),
        zdd_version: "zdd 0.1.0 (abc1234)".into(),
        machine: "build-1".into(),
        platform: "Debian GNU/Linux 12 (bookworm), x86_64, 2 CPUs".into(),
        user: "deploy".into(),
        started: "2026-12-01T01:00:00.000Z".into(),
    })
}

/// A rolling deploy of `hosts`, `serial` at a time, under the probe: pre_tasks take each
/// host out of HAProxy, tasks deploy and notify a handler, post_tasks put it back. A host
/// in `fail` fails `deploy release` and stays out; the run then stops after its batch.
pub fn rolling(hosts: &[&str], serial: usize, fail: &[&str]) -> Vec<Timed> {
    let mut s = Script::default();
    s.emit(run_info(&[
        "zdd",
        "apply",
        "deploy.yml",
        "-i",
        "inventory.ini",
        "--probe",
        "http://127.0.0.1:8080/",
        "-e",
        "db_password=********",
    ]));
    s.emit(Event::PlaybookStart {
        playbook: "deploy.yml".into(),
        plays: 1,
    });
    let probe_from = 200;
    s.at(900).emit(Event::Preflight {
        hosts: hosts.len() + 1,
        sudo_checked: hosts.len(),
        sockets: vec!["lb:/run/haproxy/admin.sock".into()],
        other_load_balancers: Vec::new(),
        duration_ms: 600,
    });
    s.at(1000);
    let batches: Vec<&[&str]> = hosts.chunks(serial).collect();
    let mut stats: IndexMap<String, HostStats> = IndexMap::new();
    let mut left_out = Vec::new();
    let mut probe_failures = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        let started = s.now;
        s.emit(Event::BatchStart {
            play: "web".into(),
            play_index: 1,
            index: i + 1,
            total: batches.len(),
            hosts: batch.iter().map(|h| (*h).into()).collect(),
        });
        s.emit(Event::TaskStart {
            name: "disable in haproxy".into(),
            section: Section::PreTasks,
            handler: false,
            via_ansible: false,
        });
        for h in *batch {
            s.emit(Event::HostStart {
                host: (*h).into(),
                task: "disable in haproxy".into(),
            });
            s.rotation(h, RotationState::MayBeOut);
        }
        s.now += 300;
        for h in *batch {
            s.rotation(h, RotationState::Out);
            let mut r = result(
                h,
                "disable in haproxy",
                Status::Changed,
                300,
                json!({"changed": true}),
            );
            r.delegate = Some("lb".into());
            s.emit(Event::HostResult(r));
        }
        s.task_failing(
            Section::Tasks,
            false,
            "deploy release",
            batch,
            2000,
            fail,
            "Could not find release 2.4.1 in /srv/releases",
        );
        let ok: Vec<&str> = batch.iter().copied().filter(|h| !fail.contains(h)).collect();
        for h in fail.iter().filter(|h| batch.contains(h)) {
            stats.insert(
                (*h).into(),
                HostStats {
                    ok: 1,
                    changed: 1,
                    failed: 1,
                    ..Default::default()
                },
            );
            left_out.push(server(h));
            probe_failures.push(((s.now - probe_from) / 1000, 3));
        }
        s.task(Section::Tasks, false, "restart app", &ok, 800);
        s.task(Section::Tasks, true, "reload app", &ok, 500);
        s.task(Section::PostTasks, false, "wait for health", &ok, 1000);
        s.task(Section::PostTasks, false, "enable in haproxy", &ok, 300);
        for h in &ok {
            s.rotation(h, RotationState::Back);
            stats.insert(
                (*h).into(),
                HostStats {
                    ok: 6,
                    changed: 6,
                    ..Default::default()
                },
            );
        }
        let failed: Vec<String> = batch
            .iter()
            .filter(|h| fail.contains(h))
            .map(|h| (*h).into())
            .collect();
        s.emit(Event::BatchEnd {
            play: "web".into(),
            play_index: 1,
            index: i + 1,
            total: batches.len(),
            completed: ok.iter().map(|h| (*h).into()).collect(),
            failed: failed.clone(),
            unreachable: vec![],
            interrupted: false,
            duration_ms: s.now - started,
            pending_handlers: IndexMap::new(),
        });
        s.now += 100;
        if !failed.is_empty() {
            s.emit(Event::NoMoreHosts {
                reason: "a host failed: the rollout stops after this batch".into(),
            });
            break;
        }
    }
    let end = s.now;
    s.probe(probe_from, end, &probe_failures);
    s.at(end + 10);
    if !left_out.is_empty() {
        s.emit(Event::OutOfRotation { servers: left_out });
    }
    let requests = 180 * (end - probe_from) / 1000;
    let failed: u64 = probe_failures.iter().map(|(_, n)| n).sum();
    s.emit(Event::Recap {
        hosts: stats,
        duration_ms: end,
        peak_masters: None,
    })
    .emit(Event::Probe(ProbeReport {
        url: "http://127.0.0.1:8080/".into(),
        requests,
        failed,
        p50_ms: 2.5,
        p90_ms: 6.0,
        p99_ms: 12.0,
        max_ms: 31.5,
        first_failure: (failed > 0).then(|| "503".into()),
    }));
    s.at(end + 20).emit(Event::RunEnd {
        exit_code: if fail.is_empty() { 0 } else { 2 },
    });
    s.finish()
}

/// `zdd watch` of three hosts: web2 turns critical, is taken out, redeployed (healed) and
/// put back; web3 is given up on; the service was critical for a moment (the probe saw
/// failed requests then).
pub fn watch_heal() -> Vec<Timed> {
    let mut s = Script::default();
    let state = |target: &str, from: HealthState, to: HealthState, reason: &str| Event::HealthState {
        target: target.into(),
        from,
        to,
        reason: reason.into(),
    };
    let rotation = |host: &str, action: &str| Event::WatchRotation {
        host: host.into(),
        place: format!("HAProxy web/{host} at /run/haproxy/admin.sock"),
        action: action.into(),
        detail: None,
    };
    let mut info = run_info(&[
        "zdd",
        "watch",
        "deploy.yml",
        "-i",
        "inventory.ini",
        "--heal",
        "--probe",
        "http://127.0.0.1:8080/",
    ]);
    if let Event::RunInfo(info) = &mut info {
        info.command = "watch".into();
    }
    s.emit(info);
    s.emit(Event::WatchStart {
        targets: vec!["web1".into(), "web2".into(), "web3".into()],
        service: Some("http://127.0.0.1:8080/".into()),
        interval_ms: 1000,
        failures: 2,
        max_redeploys: 1,
    });
    s.at(2000).emit(state(
        "web2",
        HealthState::Healthy,
        HealthState::Suspect,
        "connection refused",
    ));
    s.at(3000).emit(state(
        "web2",
        HealthState::Suspect,
        HealthState::Critical,
        "2 checks failed",
    ));
    s.at(3100).emit(rotation("web2", "out"));
    s.emit(state(
        "web2",
        HealthState::Critical,
        HealthState::Healing,
        "redeploy",
    ));
    s.at(5000).emit(state(
        "service",
        HealthState::Healthy,
        HealthState::Critical,
        "503 from the load balancer",
    ));
    s.at(7200).emit(Event::HealEnd {
        target: "web2".into(),
        hosts: vec!["web2".into()],
        outcome: "healed".into(),
        exit_code: Some(0),
        took_ms: 4000,
        detail: String::new(),
    });
    s.at(7300).emit(rotation("web2", "back"));
    s.at(7400).emit(state(
        "web2",
        HealthState::Healing,
        HealthState::Healed,
        "checks pass",
    ));
    s.at(9000).emit(state(
        "web3",
        HealthState::Critical,
        HealthState::GivenUp,
        "over its redeploy budget",
    ));
    s.at(9500).emit(rotation("web3", "out"));
    s.probe(0, 11_900, &[(5, 4)]);
    s.at(12_000).emit(Event::RunEnd { exit_code: 0 });
    s.finish()
}
