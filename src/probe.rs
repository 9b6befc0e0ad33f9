//! `--probe URL`: while the rollout runs, send requests through the load balancer and
//! count the ones that fail. This is how a user proves zero downtime; with a budget
//! (`--max-failed-requests`), the first batch that breaks it stops the rollout.

use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where the probe sends its requests: plain HTTP (the load balancer's front end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    /// `host:port` to connect to.
    pub addr: String,
    /// The `Host` header.
    pub host: String,
    pub path: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("--probe takes an http:// URL, not `{url}`"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(format!("--probe URL `{url}` has no host"));
        }
        let addr = if authority
            .rsplit(':')
            .next()
            .is_some_and(|p| p.parse::<u16>().is_ok())
            && !authority.ends_with(']')
        {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        Ok(Target {
            url: url.to_owned(),
            addr,
            host: authority.to_owned(),
            path: path.to_owned(),
        })
    }
}

/// What the probe saw, at the end of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeReport {
    pub url: String,
    pub requests: u64,
    pub failed: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The first failure, to say what went wrong (`503`, `connection refused`).
    pub first_failure: Option<String>,
}

#[derive(Debug, Default)]
struct Stats {
    requests: AtomicU64,
    failed: AtomicU64,
    latencies_us: Mutex<Vec<u32>>,
    first_failure: Mutex<Option<String>>,
}

pub struct Probe {
    target: Target,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

/// The pause between one worker's requests: a steady load, not a flood.
const PACE: Duration = Duration::from_millis(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

impl Probe {
    /// Start `concurrency` workers sending requests until `stop`.
    pub fn start(target: Target, concurrency: usize) -> Probe {
        let stats = Arc::new(Stats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..concurrency.max(1))
            .map(|_| {
                let (target, stats, stop) = (target.clone(), stats.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        let outcome = tokio::time::timeout(REQUEST_TIMEOUT, request(&target))
                            .await
                            .unwrap_or_else(|_| Err("timed out".into()));
                        stats.record(started.elapsed(), outcome);
                        tokio::time::sleep(PACE).await;
                    }
                })
            })
            .collect();
        Probe {
            target,
            stats,
            stop,
            workers,
        }
    }

    pub fn failed(&self) -> u64 {
        self.stats.failed.load(Ordering::Relaxed)
    }

    pub fn requests(&self) -> u64 {
        self.stats.requests.load(Ordering::Relaxed)
    }

    /// Stop the workers (each finishes its request in flight) and report.
    pub async fn stop(self) -> ProbeReport {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            let _ = w.await;
        }
        let mut latencies =
            std::mem::take(&mut *self.stats.latencies_us.lock().unwrap_or_else(|e| e.into_inner()));
        latencies.sort_unstable();
        let pct = |p: f64| -> f64 {
            if latencies.is_empty() {
                return 0.0;
            }
            let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
            f64::from(latencies[i]) / 1000.0
        };
        ProbeReport {
            url: self.target.url.clone(),
            requests: self.stats.requests.load(Ordering::Relaxed),
            failed: self.stats.failed.load(Ordering::Relaxed),
            p50_ms: pct(0.50),
            p90_ms: pct(0.90),
            p99_ms: pct(0.99),
            max_ms: pct(1.0),
            first_failure: self
                .stats
                .first_failure
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

impl Stats {
    fn record(&self, took: Duration, outcome: Result<u16, String>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.latencies_us
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(took.as_micros().min(u128::from(u32::MAX)) as u32);
        let failure = match outcome {
            Ok(status) if (200..400).contains(&status) => return,
            Ok(status) => format!("HTTP {status}"),
            Err(e) => e,
        };
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_failure.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert(failure);
    }
}

/// One `GET`, on its own connection; returns the status code.
async fn request(target: &Target) -> Result<u16, String> {
    let mut stream = TcpStream::connect(&target.addr)
        .await
        .map_err(|e| e.to_string())?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: zdd-probe\r\nConnection: close\r\n\r\n",
        target.path, target.host
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    parse_status(&response)
}

fn parse_status(response: &[u8]) -> Result<u16, String> {
    let line = response.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next().and_then(|c| c.parse().ok())) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => Ok(code),
        _ if response.is_empty() => Err("empty response".into()),
        _ => Err(format!("not an HTTP response: {}", line.trim())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_probe_urls() {
        let t = Target::parse("http://127.0.0.1:8080/health").unwrap();
        assert_eq!(
            (t.addr.as_str(), t.host.as_str(), t.path.as_str()),
            ("127.0.0.1:8080", "127.0.0.1:8080", "/health")
        );
        let t = Target::parse("http://localhost").unwrap();
        assert_eq!((t.addr.as_str(), t.path.as_str()), ("localhost:80", "/"));
        assert!(Target::parse("https://x/").unwrap_err().contains("http://"));
        assert!(Target::parse("http:///x").is_err());
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.0 503 Service Unavailable\r\n\r\n"), Ok(503));
        assert_eq!(parse_status(b"HTTP/1.1 200 OK\r\n"), Ok(200));
        assert!(parse_status(b"").is_err());
        assert!(parse_status(b"garbage").is_err());
    }

    #[tokio::test]
    async fn counts_requests_failures_and_latency_against_a_real_server() {
        // A tiny server on loopback: the first two connections get a 503, the rest a 200.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            for n in 0.. {
                let Ok((mut conn, _)) = listener.accept().await else {
                    break;
                };
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf).await;
                let status = if n < 2 {
                    "503 Service Unavailable"
                } else {
                    "200 OK"
                };
                let _ = conn
                    .write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\n\r\nok").as_bytes())
                    .await;
            }
        });
        let probe = Probe::start(Target::parse(&format!("http://{addr}/")).unwrap(), 2);
        while probe.requests() < 20 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let report = probe.stop().await;
        server.abort();
        assert!(report.requests >= 20);
        assert_eq!(report.failed, 2);
        assert_eq!(report.first_failure.as_deref(), Some("HTTP 503"));
        assert!(report.p50_ms > 0.0 && report.p50_ms <= report.p99_ms && report.p99_ms <= report.max_ms);
    }
}
