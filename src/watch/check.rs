//! The health checks, run from the controller: an HTTP GET (status, and optionally a
//! string the body must hold) or a TCP connect, each bounded by a timeout.

use super::spec::Check;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub ok: bool,
    /// "HTTP 200 in 3 ms", "connection refused", "HTTP 200 but the body lacks 'v2'".
    pub detail: String,
    pub took: Duration,
}

/// A response body past this is not read (a health page is small).
const MAX_BODY: usize = 1 << 20;

pub async fn run(check: &Check, timeout: Duration) -> CheckResult {
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, attempt(check)).await;
    let took = started.elapsed();
    let (ok, detail) = match outcome {
        Err(_) => (false, format!("no answer within {}", human_duration(timeout))),
        Ok(Err(e)) => (false, e),
        Ok(Ok(detail)) => match judge(check, &detail) {
            Ok(()) => (true, format!("{} in {} ms", detail.summary(), took.as_millis())),
            Err(why) => (false, why),
        },
    };
    CheckResult { ok, detail, took }
}

/// What came back, before it is judged.
enum Answer {
    Http { status: u16, body: String },
    Connected,
}

impl Answer {
    fn summary(&self) -> String {
        match self {
            Answer::Http { status, .. } => format!("HTTP {status}"),
            Answer::Connected => "connected".into(),
        }
    }
}

fn judge(check: &Check, answer: &Answer) -> Result<(), String> {
    match (check, answer) {
        (
            Check::Http {
                statuses, contains, ..
            },
            Answer::Http { status, body },
        ) => {
            let status_ok = match statuses {
                Some(list) => list.contains(status),
                None => (200..400).contains(status),
            };
            if !status_ok {
                return Err(match statuses {
                    Some(list) => format!(
                        "HTTP {status}, expected {}",
                        list.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ")
                    ),
                    None => format!("HTTP {status}"),
                });
            }
            match contains {
                Some(text) if !body.contains(text.as_str()) => {
                    Err(format!("HTTP {status} but the body lacks '{text}'"))
                }
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

async fn attempt(check: &Check) -> Result<Answer, String> {
    match check {
        Check::Tcp { addr } => {
            TcpStream::connect(addr.as_str()).await.map_err(io_words)?;
            Ok(Answer::Connected)
        }
        Check::Http { url, .. } => {
            let target =
                crate::probe::Target::parse(url).map_err(|_| format!("not an http:// URL: {url}"))?;
            let mut stream = TcpStream::connect(&target.addr).await.map_err(io_words)?;
            let request = format!(
                "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: zdd-watch\r\nConnection: close\r\n\r\n",
                target.path, target.host
            );
            stream.write_all(request.as_bytes()).await.map_err(io_words)?;
            let mut response = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                let n = stream.read(&mut chunk).await.map_err(io_words)?;
                if n == 0 || response.len() > MAX_BODY {
                    break;
                }
                response.extend_from_slice(&chunk[..n]);
            }
            parse_response(&response)
        }
    }
}

fn parse_response(response: &[u8]) -> Result<Answer, String> {
    if response.is_empty() {
        return Err("empty response".into());
    }
    let text = String::from_utf8_lossy(response);
    let status_line = text.lines().next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let status = match (parts.next(), parts.next().and_then(|c| c.parse().ok())) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => code,
        _ => return Err(format!("not an HTTP response: {}", status_line.trim())),
    };
    let body = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok(Answer::Http { status, body })
}

/// `connection refused`, as people say it (not `Connection refused (os error 111)`).
fn io_words(e: std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".into(),
        ConnectionReset => "connection reset".into(),
        TimedOut => "timed out".into(),
        _ => {
            let text = e.to_string();
            text.split(" (os error").next().unwrap_or(&text).to_lowercase()
        }
    }
}

/// `2s`, `500ms`, `1m`, `1m30s`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms % 1000 != 0 && ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else if ms < 60_000 {
        format!("{}s", ms / 1000)
    } else if (ms / 1000) % 60 == 0 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}m{}s", ms / 60_000, (ms / 1000) % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serve(answer: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf).await;
                let _ = conn.write_all(answer.as_bytes()).await;
            }
        });
        addr.to_string()
    }

    fn http(url: String, statuses: Option<Vec<u16>>, contains: Option<&str>) -> Check {
        Check::Http {
            url,
            statuses,
            contains: contains.map(str::to_owned),
        }
    }

    #[tokio::test]
    async fn http_checks_judge_the_status_and_the_body() {
        let addr = serve("HTTP/1.0 200 OK\r\n\r\n<p>version: 2</p>").await;
        let url = format!("http://{addr}/");
        let t = Duration::from_secs(2);
        let ok = run(&http(url.clone(), None, Some("version: 2<")), t).await;
        assert!(ok.ok, "{ok:?}");
        assert!(ok.detail.starts_with("HTTP 200 in "), "{}", ok.detail);
        let lacks = run(&http(url.clone(), None, Some("version: 3<")), t).await;
        assert_eq!(
            (lacks.ok, lacks.detail.as_str()),
            (false, "HTTP 200 but the body lacks 'version: 3<'")
        );
        let wrong = run(&http(url, Some(vec![204]), None), t).await;
        assert_eq!(wrong.detail, "HTTP 200, expected 204");
        let err = serve("HTTP/1.1 503 Service Unavailable\r\n\r\n").await;
        assert_eq!(
            run(&http(format!("http://{err}/"), None, None), t).await.detail,
            "HTTP 503"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_connection_refused_and_a_tcp_check_connects() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let t = Duration::from_secs(2);
        assert!(run(&Check::Tcp { addr: addr.clone() }, t).await.ok);
        drop(listener);
        let refused = run(&Check::Tcp { addr: addr.clone() }, t).await;
        assert_eq!(
            (refused.ok, refused.detail.as_str()),
            (false, "connection refused")
        );
        let refused = run(&http(format!("http://{addr}/"), None, None), t).await;
        assert_eq!(refused.detail, "connection refused");
    }

    #[tokio::test]
    async fn a_silent_server_is_a_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _keep = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                held.push(conn);
            }
        });
        let r = run(
            &http(format!("http://{addr}/"), None, None),
            Duration::from_millis(200),
        )
        .await;
        assert_eq!(r.detail, "no answer within 200ms");
    }

    #[test]
    fn durations_read_as_typed() {
        assert_eq!(human_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(human_duration(Duration::from_secs(2)), "2s");
        assert_eq!(human_duration(Duration::from_millis(4200)), "4.2s");
        assert_eq!(human_duration(Duration::from_secs(60)), "1m");
        assert_eq!(human_duration(Duration::from_secs(90)), "1m30s");
    }
}
