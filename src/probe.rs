//! `--probe URL`: while the rollout runs, send requests through the load balancer and
//! count the ones that fail. This is how a user proves zero downtime; with a budget
//! (`--max-failed-requests`), the first batch that breaks it stops the rollout.

use crate::events::{Event, EventSink};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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

/// One second of traffic (`Event::ProbeSample`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeSample {
    /// Seconds since the probe started; this sample covers [second, second + 1).
    pub second: u64,
    /// Requests that ended in that second, and how many of them failed.
    pub requests: u64,
    pub failed: u64,
    /// Latency of the requests that ended in that second (0 when there were none).
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// What the probe saw, at the end of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug)]
struct Stats {
    started: Instant,
    requests: AtomicU64,
    failed: AtomicU64,
    latencies_us: Mutex<Vec<u32>>,
    first_failure: Mutex<Option<String>>,
    seconds: Mutex<Seconds>,
}

/// The requests of each second since the probe started, by the second they ended in,
/// until a `ProbeSample` takes them.
#[derive(Debug, Default)]
pub struct Seconds {
    /// The first second not taken yet.
    next: u64,
    pending: BTreeMap<u64, Second>,
}

#[derive(Debug, Default)]
struct Second {
    requests: u64,
    failed: u64,
    latencies_us: Vec<u32>,
}

impl Seconds {
    /// A request that ended `second` seconds after the start. One that ends in a second
    /// already taken (a tick raced it) counts in the next one, so that no request is lost.
    pub fn record(&mut self, second: u64, latency_us: u32, failed: bool) {
        let bucket = self.pending.entry(second.max(self.next)).or_default();
        bucket.requests += 1;
        bucket.failed += u64::from(failed);
        bucket.latencies_us.push(latency_us);
    }

    /// The samples of every second before `until` not taken yet, in order, one per
    /// second (a second without requests is a sample of zero).
    pub fn take_before(&mut self, until: u64) -> Vec<ProbeSample> {
        let samples = (self.next..until)
            .map(|second| {
                let mut bucket = self.pending.remove(&second).unwrap_or_default();
                bucket.latencies_us.sort_unstable();
                ProbeSample {
                    second,
                    requests: bucket.requests,
                    failed: bucket.failed,
                    p50_ms: percentile(&bucket.latencies_us, 0.50),
                    p99_ms: percentile(&bucket.latencies_us, 0.99),
                }
            })
            .collect();
        self.next = self.next.max(until);
        samples
    }

    /// Every second left, up to and including `now` (the partial second the probe stopped
    /// in) and the last one that holds a request.
    pub fn take_rest(&mut self, now: u64) -> Vec<ProbeSample> {
        let last = self.pending.keys().next_back().copied().unwrap_or(0).max(now);
        self.take_before(last + 1)
    }
}

/// The `p` quantile (0..=1) of sorted latencies in microseconds, in milliseconds (the
/// nearest rank); 0 for none.
fn percentile(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((sorted_us.len() as f64 * p).ceil() as usize).clamp(1, sorted_us.len()) - 1;
    f64::from(sorted_us[i]) / 1000.0
}

pub struct Probe {
    target: Target,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    /// `--report` and `--output json`: the ticker that emits a `ProbeSample` each second,
    /// and the sink the last, partial one goes to.
    samples: Option<(tokio::task::JoinHandle<()>, Arc<EventSink>)>,
}

/// The pause between one worker's requests: a steady load, not a flood.
const PACE: Duration = Duration::from_millis(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

impl Probe {
    /// Start `concurrency` workers sending requests until `stop`.
    pub fn start(target: Target, concurrency: usize) -> Probe {
        let stats = Arc::new(Stats {
            started: Instant::now(),
            requests: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            latencies_us: Mutex::default(),
            first_failure: Mutex::default(),
            seconds: Mutex::default(),
        });
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
            samples: None,
        }
    }

    /// Emit a `ProbeSample` on `events` as each second ends (and the last, partial one
    /// when the probe stops, before the caller's `Event::Probe`).
    pub fn with_samples(mut self, events: Arc<EventSink>) -> Probe {
        let (stats, sink) = (self.stats.clone(), events.clone());
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(
                tokio::time::Instant::from_std(stats.started) + Duration::from_secs(1),
                Duration::from_secs(1),
            );
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let samples = stats.take_before_now();
                for sample in samples {
                    sink.emit(Event::ProbeSample(sample));
                }
            }
        });
        self.samples = Some((ticker, events));
        self
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
        if let Some((ticker, events)) = self.samples {
            // A tick takes and emits its seconds with no await in between: aborted, it
            // has emitted all of them or none.
            ticker.abort();
            let _ = ticker.await;
            let now = self.stats.started.elapsed().as_secs();
            let rest = self.stats.seconds().take_rest(now);
            for sample in rest {
                events.emit(Event::ProbeSample(sample));
            }
        }
        let mut latencies =
            std::mem::take(&mut *self.stats.latencies_us.lock().unwrap_or_else(|e| e.into_inner()));
        latencies.sort_unstable();
        let pct = |p: f64| percentile(&latencies, p);
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
    fn seconds(&self) -> std::sync::MutexGuard<'_, Seconds> {
        self.seconds.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The samples of the seconds that ended; the clock is read under the lock, so a
    /// request recorded after this tick ends in a second it did not take.
    fn take_before_now(&self) -> Vec<ProbeSample> {
        let mut seconds = self.seconds();
        let now = self.started.elapsed().as_secs();
        seconds.take_before(now)
    }

    fn record(&self, took: Duration, outcome: Result<u16, String>) {
        let latency_us = took.as_micros().min(u128::from(u32::MAX)) as u32;
        let failure = match outcome {
            Ok(status) if (200..400).contains(&status) => None,
            Ok(status) => Some(format!("HTTP {status}")),
            Err(e) => Some(e),
        };
        {
            let mut seconds = self.seconds();
            let second = self.started.elapsed().as_secs();
            seconds.record(second, latency_us, failure.is_some());
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.latencies_us
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(latency_us);
        let Some(failure) = failure else {
            return;
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
    fn requests_are_counted_in_the_second_they_ended_in() {
        let mut seconds = Seconds::default();
        seconds.record(0, 2_000, false);
        seconds.record(0, 4_000, true);
        seconds.record(2, 10_000, false);
        let samples = seconds.take_before(2);
        assert_eq!(
            samples,
            [
                ProbeSample {
                    second: 0,
                    requests: 2,
                    failed: 1,
                    p50_ms: 2.0,
                    p99_ms: 4.0
                },
                // A second without a request is a sample too: the chart shows the gap.
                ProbeSample {
                    second: 1,
                    requests: 0,
                    failed: 0,
                    p50_ms: 0.0,
                    p99_ms: 0.0
                },
            ]
        );
        assert_eq!(seconds.take_before(2), []);
        // A request that ends in a second already taken counts in the next one.
        seconds.record(1, 6_000, false);
        let rest = seconds.take_rest(3);
        assert_eq!(
            rest.iter().map(|s| (s.second, s.requests)).collect::<Vec<_>>(),
            [(2, 2), (3, 0)]
        );
        assert_eq!(rest[0].p50_ms, 6.0);
        assert_eq!(rest[0].p99_ms, 10.0);
        assert_eq!(seconds.take_rest(3), []);
    }

    #[test]
    fn the_rest_reaches_the_last_second_with_a_request() {
        let mut seconds = Seconds::default();
        seconds.record(4, 1_000, false);
        let rest = seconds.take_rest(1);
        assert_eq!(rest.len(), 5);
        assert_eq!(rest[4].requests, 1);
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
        let recorder = crate::events::Recorder::default();
        let sink = Arc::new(EventSink::new(vec![Box::new(recorder.clone())]));
        let probe = Probe::start(Target::parse(&format!("http://{addr}/")).unwrap(), 2).with_samples(sink);
        while probe.requests() < 20 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let report = probe.stop().await;
        server.abort();
        let samples: Vec<ProbeSample> = recorder
            .events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                Event::ProbeSample(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        assert!(!samples.is_empty());
        assert_eq!(samples.iter().map(|s| s.requests).sum::<u64>(), report.requests);
        assert_eq!(samples.iter().map(|s| s.failed).sum::<u64>(), 2);
        assert!(report.requests >= 20);
        assert_eq!(report.failed, 2);
        assert_eq!(report.first_failure.as_deref(), Some("HTTP 503"));
        assert!(report.p50_ms > 0.0 && report.p50_ms <= report.p99_ms && report.p99_ms <= report.max_ms);
    }
}
