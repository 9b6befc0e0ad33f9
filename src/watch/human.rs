//! The human lines of a watch: one per failed check's state change, per healing step.
//! Greppable on purpose (`web3: critical after 2 failed checks (connection refused)`).

use super::check::human_duration;
use super::tracker::HealthState;
use crate::events::Event;
use std::time::Duration;

/// The line an event of the watch reads as; `None` when it is not shown at this verbosity.
pub fn line(event: &Event, verbosity: u8) -> Option<String> {
    match event {
        Event::WatchStart {
            targets,
            service,
            interval_ms,
            failures,
            ..
        } => {
            let mut what = format!(
                "{} host{}",
                targets.len(),
                if targets.len() == 1 { "" } else { "s" }
            );
            if let Some(url) = service {
                what.push_str(&format!(", service {url}"));
            }
            Some(format!(
                "WATCH [{what}] every {}, critical after {failures} failure{}",
                human_duration(Duration::from_millis(*interval_ms)),
                if *failures == 1 { "" } else { "s" }
            ))
        }
        Event::HealthCheck {
            target, ok, detail, ..
        } if verbosity > 0 => Some(format!(
            "{target}: check {}: {detail}",
            if *ok { "ok" } else { "failed" }
        )),
        Event::HealthCheck { .. } => None,
        Event::HealthState {
            target, to, reason, ..
        } => Some(match to {
            HealthState::Healthy => format!("{target}: healthy ({reason})"),
            _ => format!("{target}: {reason}"),
        }),
        Event::WatchRotation {
            host,
            place,
            action,
            detail,
        } => {
            let detail = detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
            Some(match action.as_str() {
                "out" => format!("{host}: out of rotation ({place})"),
                "already_out" => format!("{host}: already out of rotation ({place})"),
                "back" => format!("{host}: back in rotation ({place})"),
                "refused" => {
                    format!("{host}: not taken out of rotation ({place}){detail}; redeploying anyway")
                }
                other => format!("{host}: {other} ({place}){detail}"),
            })
        }
        Event::HealEnd {
            target,
            outcome,
            detail,
            ..
        } => match outcome.as_str() {
            // The state change says it.
            "healed" | "given_up" | "not_healed" => None,
            _ => Some(format!("{target}: {detail}")),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_line_says_what_is_watched_and_how_often() {
        let start = Event::WatchStart {
            targets: vec!["web1".into(), "web2".into(), "web3".into(), "web4".into()],
            service: Some("http://127.0.0.1:8080/".into()),
            interval_ms: 1000,
            failures: 2,
            max_redeploys: 3,
        };
        assert_eq!(
            line(&start, 0).unwrap(),
            "WATCH [4 hosts, service http://127.0.0.1:8080/] every 1s, critical after 2 failures"
        );
    }

    #[test]
    fn checks_show_from_v_on_and_states_always() {
        let check = Event::HealthCheck {
            target: "web3".into(),
            ok: false,
            detail: "connection refused".into(),
            ms: 1,
        };
        assert_eq!(line(&check, 0), None);
        assert_eq!(line(&check, 1).unwrap(), "web3: check failed: connection refused");
        let state = Event::HealthState {
            target: "web3".into(),
            from: HealthState::Suspect,
            to: HealthState::Critical,
            reason: "critical after 2 failed checks (connection refused)".into(),
        };
        assert_eq!(
            line(&state, 0).unwrap(),
            "web3: critical after 2 failed checks (connection refused)"
        );
        let out = Event::WatchRotation {
            host: "web3".into(),
            place: "HAProxy loadbalancer/web3 at /tmp/x/haproxy.sock".into(),
            action: "out".into(),
            detail: None,
        };
        assert_eq!(
            line(&out, 0).unwrap(),
            "web3: out of rotation (HAProxy loadbalancer/web3 at /tmp/x/haproxy.sock)"
        );
    }
}
