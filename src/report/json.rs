//! `--output json`: one JSON object per event on its own line (NDJSON), for pipelines.
//! Each object is the event (`"event": "host_result"`, ...) with `time`, when it was
//! reported, in milliseconds since the Unix epoch.

use crate::events::{Event, Reporter};
use serde_json::Value;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug)]
pub struct JsonReporter<W: Write + Send> {
    out: W,
}

impl<W: Write + Send> JsonReporter<W> {
    pub fn new(out: W) -> Self {
        JsonReporter { out }
    }
}

impl<W: Write + Send> Reporter for JsonReporter<W> {
    fn event(&mut self, event: &Event) {
        let Ok(mut value) = serde_json::to_value(event) else {
            return;
        };
        if let Value::Object(map) = &mut value {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
            map.insert("time".into(), Value::from(now.as_millis() as u64));
        }
        if let Ok(line) = serde_json::to_string(&value) {
            let _ = writeln!(self.out, "{line}");
            let _ = self.out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{HostResult, HostStats, Status};
    use serde_json::{json, Value};

    #[test]
    fn every_event_is_one_parseable_line_tagged_with_its_kind() {
        let mut buf = Vec::new();
        {
            let mut r = JsonReporter::new(&mut buf);
            r.event(&Event::HostResult(HostResult {
                host: "web1".into(),
                delegate: Some("lb".into()),
                delegate_address: None,
                task: "Disable".into(),
                status: Status::Changed,
                changed: true,
                item: Some("lb".into()),
                looped: false,
                ignored: false,
                rc: Some(0),
                duration_ms: 12,
                result: json!({"stdout": "multi\nline"}),
                show_result: false,
            }));
            r.event(&Event::Recap {
                hosts: [(
                    "web1".to_string(),
                    HostStats {
                        ok: 3,
                        changed: 1,
                        ..Default::default()
                    },
                )]
                .into(),
                duration_ms: 40,
                peak_masters: None,
            });
        }
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["event"], "host_result");
        assert_eq!(lines[0]["status"], "changed");
        assert_eq!(lines[0]["delegate"], "lb");
        assert_eq!(lines[0]["result"]["stdout"], "multi\nline");
        assert_eq!(lines[1]["event"], "recap");
        assert_eq!(lines[1]["hosts"]["web1"]["ok"], 3);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        for line in &lines {
            let time = line["time"].as_u64().expect("a time on every event");
            assert!(now - time < 60_000, "time {time} is not now ({now})");
        }
    }

    #[test]
    fn an_included_file_is_one_line_with_its_hosts_and_item() {
        let mut buf = Vec::new();
        JsonReporter::new(&mut buf).event(&Event::Included {
            task: "Per colour".into(),
            file: "/srv/site/colour.yml".into(),
            hosts: vec!["web1".into(), "web2".into()],
            item: Some("blue".into()),
        });
        let line: Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(line["event"], "included");
        assert_eq!(line["file"], "/srv/site/colour.yml");
        assert_eq!(line["hosts"], json!(["web1", "web2"]));
        assert_eq!(line["item"], "blue");
    }
}
