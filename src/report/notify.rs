//! `--notify URL`: when the rollout ends, one JSON summary POSTed to a URL (a chat hook, an
//! incident tool). Like every output it is drawn from the runner's events: `NotifyReporter`
//! folds them into a `RunSummary`, `summary_json` renders it (pure, snapshot-tested), and
//! `post` sends it over plain HTTP/1.1 with a deadline, as the probe speaks HTTP: zdd has
//! no HTTP client crate, and a webhook needs no more than one request.
//!
//! Nothing secret goes in: host names, counts, `backend/server` names and the probe's
//! figures; never results, commands or variables.

use crate::events::{Event, Reporter};
use crate::probe::ProbeReport;
use base64::Engine;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long the POST may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// What the events said about the run, as far as the summary needs it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSummary {
    pub playbook: String,
    /// Every host of the recap, in its order.
    pub hosts: Vec<String>,
    /// Hosts something was changed on (not only the inventory, not only through a delegate).
    pub changed: Vec<String>,
    pub failed: Vec<String>,
    /// Hosts an interruption left before their batch.
    pub not_started: Vec<String>,
    pub interrupted: bool,
    /// `(server, host, load_balancer)` left out of rotation.
    pub out_of_rotation: Vec<(String, String, String)>,
    pub probe: Option<ProbeReport>,
    pub duration_ms: Option<u64>,
    pub exit_code: Option<i32>,
}

impl RunSummary {
    pub fn fold(&mut self, event: &Event) {
        let add = |list: &mut Vec<String>, host: &str| {
            if !list.iter().any(|h| h == host) {
                list.push(host.to_owned());
            }
        };
        match event {
            Event::PlaybookStart { playbook, .. } => self.playbook = playbook.clone(),
            Event::HostResult(r)
                if r.changed && r.delegate.is_none() && !changes_inventory_only(&r.result) =>
            {
                add(&mut self.changed, &r.host)
            }
            Event::Recap {
                hosts, duration_ms, ..
            } => {
                self.hosts = hosts.keys().cloned().collect();
                for (host, stats) in hosts {
                    if stats.failed > 0 || stats.unreachable > 0 {
                        add(&mut self.failed, host);
                    }
                }
                self.duration_ms = Some(*duration_ms);
            }
            Event::PreflightFailed {
                unreachable,
                problems,
            } => {
                for host in unreachable.keys().chain(problems.iter().map(|p| &p.host)) {
                    add(&mut self.failed, host);
                    add(&mut self.hosts, host);
                }
            }
            Event::Interrupted {
                failed, not_started, ..
            } => {
                self.interrupted = true;
                failed.iter().for_each(|h| add(&mut self.failed, h));
                for host in not_started {
                    add(&mut self.not_started, host);
                    add(&mut self.hosts, host);
                }
            }
            Event::OutOfRotation { servers } => {
                self.out_of_rotation = servers
                    .iter()
                    .map(|s| (s.server.clone(), s.host.clone(), s.load_balancer.clone()))
                    .collect();
            }
            Event::Probe(report) => self.probe = Some(report.clone()),
            Event::RunEnd { exit_code } => self.exit_code = Some(*exit_code),
            _ => {}
        }
    }
}

/// `group_by` and `add_host` report `changed` for the inventory, not for the host.
fn changes_inventory_only(result: &Value) -> bool {
    result.get("add_group").is_some() || result.get("add_host").is_some()
}

fn sorted(mut hosts: Vec<&String>) -> Vec<&String> {
    hosts.sort();
    hosts
}

/// The JSON body: upgraded = changed and not failed; untouched = neither.
pub fn summary_json(s: &RunSummary, elapsed_ms: u64) -> Value {
    // By name, as the recap prints them (results come in whatever order hosts finish).
    let upgraded = sorted(s.changed.iter().filter(|h| !s.failed.contains(h)).collect());
    let untouched = sorted(
        s.hosts
            .iter()
            .filter(|h| !s.failed.contains(h) && !s.changed.contains(h))
            .collect(),
    );
    let failed = sorted(s.failed.iter().collect());
    let status = match (s.interrupted, s.exit_code) {
        (true, _) => "interrupted",
        (false, Some(0)) => "ok",
        _ => "failed",
    };
    let mut body = json!({
        "playbook": s.playbook,
        "status": status,
        "exit_code": s.exit_code,
        "duration_ms": s.duration_ms.unwrap_or(elapsed_ms),
        "counts": {"upgraded": upgraded.len(), "failed": s.failed.len(), "untouched": untouched.len()},
        "hosts": {"upgraded": upgraded, "failed": failed, "untouched": untouched},
        "out_of_rotation": s.out_of_rotation.iter().map(|(server, host, lb)| {
            json!({"server": server, "host": host, "load_balancer": lb})
        }).collect::<Vec<_>>(),
    });
    if let Some(p) = &s.probe {
        body["probe"] = json!({
            "url": display_url(&p.url),
            "requests": p.requests, "failed": p.failed,
            "p50_ms": p.p50_ms, "p90_ms": p.p90_ms, "p99_ms": p.p99_ms, "max_ms": p.max_ms,
        });
    }
    body
}

/// Folds the run's events; `NotifyReporter::summary` reads them at the end.
pub struct NotifyReporter {
    state: Arc<Mutex<RunSummary>>,
}

/// The handle `zdd apply` keeps to read the summary once the run is over.
#[derive(Clone)]
pub struct SummaryHandle {
    state: Arc<Mutex<RunSummary>>,
    started: Instant,
}

impl SummaryHandle {
    pub fn json(&self) -> Value {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        summary_json(&state, self.started.elapsed().as_millis() as u64)
    }
}

impl NotifyReporter {
    pub fn new() -> (NotifyReporter, SummaryHandle) {
        let state = Arc::new(Mutex::new(RunSummary::default()));
        let handle = SummaryHandle {
            state: state.clone(),
            started: Instant::now(),
        };
        (NotifyReporter { state }, handle)
    }
}

impl Reporter for NotifyReporter {
    fn event(&mut self, event: &Event) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).fold(event);
    }
}

/// Where the summary goes: plain HTTP, credentials in the URL sent as Basic auth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyUrl {
    /// `host:port` to connect to.
    pub addr: String,
    /// The `Host` header.
    pub host: String,
    /// Path and query.
    pub path: String,
    pub basic_auth: Option<String>,
    /// What messages show: no credentials, no query (tokens live there).
    pub display: String,
}

impl NotifyUrl {
    pub fn parse(url: &str) -> Result<NotifyUrl, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            format!(
                "--notify takes an http:// URL, not `{}` (for https, relay it through a local endpoint)",
                display_url(url)
            )
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(format!("--notify URL `{}` has no host", display_url(url)));
        }
        let has_port =
            host.rsplit(':').next().is_some_and(|p| p.parse::<u16>().is_ok()) && !host.ends_with(']');
        let addr = if has_port {
            host.to_owned()
        } else {
            format!("{host}:80")
        };
        let basic_auth = userinfo.map(|u| base64::engine::general_purpose::STANDARD.encode(u));
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        Ok(NotifyUrl {
            addr,
            host: host.to_owned(),
            path,
            basic_auth,
            display: display_url(url),
        })
    }
}

/// A URL as messages may show it: without `user:password@` and without the query.
pub fn display_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let rest = match rest.split_once('/') {
        Some((authority, path)) => format!("{}/{path}", authority.rsplit('@').next().unwrap_or(authority)),
        None => rest.rsplit('@').next().unwrap_or(rest).to_owned(),
    };
    if scheme.is_empty() {
        rest
    } else {
        format!("{scheme}://{rest}")
    }
}

/// POST `body` as JSON; the response's status (2xx), else why not.
pub async fn post(url: &NotifyUrl, body: &Value) -> Result<u16, String> {
    match tokio::time::timeout(TIMEOUT, post_once(url, body)).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {} s", TIMEOUT.as_secs())),
    }
}

async fn post_once(url: &NotifyUrl, body: &Value) -> Result<u16, String> {
    let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    let mut stream = TcpStream::connect(&url.addr).await.map_err(|e| e.to_string())?;
    let auth = match &url.basic_auth {
        Some(token) => format!("Authorization: Basic {token}\r\n"),
        None => String::new(),
    };
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: zdd/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{auth}Connection: close\r\n\r\n",
        url.path,
        url.host,
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    stream.write_all(&body).await.map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    // The status line is all that counts; read until it is complete.
    while !response.contains(&b'\n') {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&response);
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| "no HTTP status in the answer".to_owned())?;
    if (200..300).contains(&status) {
        Ok(status)
    } else {
        Err(format!("the server answered {status}"))
    }
}

/// POST `body` (`what` it is, for the warning). A failure is said on stderr (whatever
/// `--output`) and in the events (`notify` with its `error`), and changes nothing else.
pub async fn post_reported(url: &NotifyUrl, events: &crate::events::EventSink, what: &str, body: Value) {
    let (status, error) = match post(url, &body).await {
        Ok(status) => (Some(status), None),
        Err(why) => {
            eprintln!(
                "[WARNING]: --notify: could not POST {what} to {}: {why}",
                url.display
            );
            (None, Some(why))
        }
    };
    events.emit(Event::Notify {
        url: url.display.clone(),
        status,
        error,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{HostResult, HostStats, OutOfRotation, Status};
    use indexmap::IndexMap;

    fn result(host: &str, delegate: Option<&str>, changed: bool, result: Value) -> Event {
        let status = if changed { Status::Changed } else { Status::Ok };
        Event::HostResult(HostResult {
            delegate: delegate.map(str::to_owned),
            duration_ms: 1,
            ..HostResult::new(host, "t", status, result)
        })
    }

    fn run_events() -> Vec<Event> {
        let stats = |failed| HostStats {
            ok: 3,
            failed,
            ..Default::default()
        };
        let mut hosts = IndexMap::new();
        for (h, f) in [("web1", 0), ("web2", 1), ("web3", 0), ("web4", 0), ("web5", 0)] {
            hosts.insert(h.to_owned(), stats(f));
        }
        vec![
            Event::PlaybookStart {
                playbook: "playbooks/cluster-upgrade.yml".into(),
                plays: 5,
            },
            // group_by: the inventory changed, not web5.
            result("web5", None, true, json!({"add_group": "cluster_bravo"})),
            result("web1", None, true, json!({"dest": "/x"})),
            result("web2", None, true, json!({"dest": "/x"})),
            result("web3", None, true, json!({})),
            // The load balancer changed for web4, not web4 itself.
            result("web4", Some("lb"), true, json!({})),
            result("web4", None, false, json!({})),
            Event::OutOfRotation {
                servers: vec![OutOfRotation {
                    server: "loadbalancer/web2".into(),
                    host: "web2".into(),
                    load_balancer: "lb".into(),
                    command: "echo 'enable server loadbalancer/web2' | socat stdio /s".into(),
                }],
            },
            Event::Recap {
                hosts,
                duration_ms: 4321,
                peak_masters: None,
            },
            Event::Probe(ProbeReport {
                url: "http://user:pw@127.0.0.1:8080/?token=x".into(),
                requests: 900,
                failed: 0,
                p50_ms: 1.5,
                p90_ms: 2.5,
                p99_ms: 9.0,
                max_ms: 12.0,
                first_failure: None,
            }),
            Event::RunEnd { exit_code: 2 },
        ]
    }

    #[test]
    fn the_summary_of_a_run_with_one_failed_host() {
        let (mut reporter, handle) = NotifyReporter::new();
        for event in run_events() {
            reporter.event(&event);
        }
        insta::assert_snapshot!(serde_json::to_string_pretty(&handle.json()).unwrap());
    }

    #[test]
    fn an_interrupted_run_counts_the_hosts_never_started_as_untouched() {
        let mut s = RunSummary::default();
        s.fold(&Event::Interrupted {
            completed: vec!["web1".into()],
            stopped: vec![],
            failed: vec![],
            not_started: vec!["web3".into()],
        });
        s.fold(&Event::RunEnd { exit_code: 130 });
        let body = summary_json(&s, 7);
        assert_eq!(body["status"], "interrupted");
        assert_eq!(body["hosts"]["untouched"], json!(["web3"]));
        assert_eq!(body["duration_ms"], 7);
        assert!(body.get("probe").is_none());
    }

    #[test]
    fn urls_are_checked_and_shown_without_credentials_or_query() {
        let u = NotifyUrl::parse("http://bot:s3cret@127.0.0.1:9000/hook?token=abc").unwrap();
        assert_eq!(u.addr, "127.0.0.1:9000");
        assert_eq!(u.host, "127.0.0.1:9000");
        assert_eq!(u.path, "/hook?token=abc");
        assert_eq!(u.basic_auth.as_deref(), Some("Ym90OnMzY3JldA=="));
        assert_eq!(u.display, "http://127.0.0.1:9000/hook");
        assert_eq!(
            NotifyUrl::parse("http://example.com").unwrap().addr,
            "example.com:80"
        );
        let e = NotifyUrl::parse("https://bot:s3cret@hooks.example.com/x?token=abc").unwrap_err();
        assert!(
            e.contains("http://") && !e.contains("s3cret") && !e.contains("abc"),
            "{e}"
        );
        assert!(NotifyUrl::parse("http:///x").is_err());
    }

    #[tokio::test]
    async fn posts_to_a_real_listener_and_reports_what_went_wrong() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&got).contains("}") {
                let n = sock.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            sock.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.unwrap();
            String::from_utf8(got).unwrap()
        });
        let url = NotifyUrl::parse(&format!("http://{addr}/hook")).unwrap();
        assert_eq!(post(&url, &json!({"a": 1})).await, Ok(204));
        let request = server.await.unwrap();
        assert!(request.starts_with("POST /hook HTTP/1.1\r\n"), "{request}");
        assert!(request.contains("Content-Type: application/json\r\n"));
        assert!(request.ends_with("\r\n\r\n{\"a\":1}"), "{request}");
        // Nobody listens there any more.
        let err = post(&url, &json!({})).await.unwrap_err();
        assert!(err.to_lowercase().contains("refused"), "{err}");
    }
}
