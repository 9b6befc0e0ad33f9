//! Which servers this run took out of the load balancer and has not put back, learnt from
//! the commands that really ran: a `disable server B/S` through socat, or the `haproxy`
//! module. When a run stops early (a failure, Ctrl-C) it says exactly which servers are
//! out of rotation and the command that puts each back.

use crate::events::OutOfRotation;
use crate::playbook::Task;
use indexmap::IndexMap;
use regex::Regex;
use serde_json::Value;
use std::sync::{Mutex, OnceLock};

#[derive(Debug, Default)]
pub(super) struct RotationLedger {
    out: Mutex<IndexMap<String, OutOfRotation>>,
}

impl RotationLedger {
    /// Record what a successful task did to the load balancer. `target` is where it ran
    /// (the load balancer, when delegated), `host` the inventory host it ran for.
    pub(super) fn observe(&self, task: &Task, args: &Value, host: &str, target: &str) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        for change in changes(task, args) {
            let key = format!("{target} {}", change.server);
            if change.enable {
                out.shift_remove(&key);
            } else {
                let command = match &change.socket {
                    Some(socket) => {
                        format!("echo \"enable server {}\" | socat stdio {socket}", change.server)
                    }
                    None => format!("enable server {}", change.server),
                };
                out.insert(
                    key,
                    OutOfRotation {
                        server: change.server,
                        host: host.to_owned(),
                        load_balancer: target.to_owned(),
                        command,
                    },
                );
            }
        }
    }

    pub(super) fn out_of_rotation(&self) -> Vec<OutOfRotation> {
        let out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        out.values().cloned().collect()
    }
}

#[derive(Debug, PartialEq)]
struct Change {
    /// `backend/server`.
    server: String,
    enable: bool,
    socket: Option<String>,
}

fn changes(task: &Task, args: &Value) -> Vec<Change> {
    let text = |key: &str| args.get(key).and_then(Value::as_str);
    match crate::modules::canonical_name(&task.module) {
        "shell" | "command" => text("_raw_params")
            .or(text("cmd"))
            .map(runtime_commands)
            .unwrap_or_default(),
        "haproxy" => haproxy_module_changes(args),
        _ => Vec::new(),
    }
}

/// `disable server B/S` and `enable server B/S` (and `set server B/S state ...`) sent to
/// HAProxy's runtime API in a shell command.
fn runtime_commands(command: &str) -> Vec<Change> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(
            r"(?:(disable|enable) server|set server) ([\w.:-]+/[\w.:-]+)(?: state (ready|drain|maint))?",
        )
        .expect("valid regex")
    });
    let socket = crate::runner::preflight::socat_sockets(command)
        .into_iter()
        .next();
    re.captures_iter(command)
        .filter_map(|c| {
            let enable = match (c.get(1).map(|m| m.as_str()), c.get(3).map(|m| m.as_str())) {
                (Some("enable"), _) | (None, Some("ready")) => true,
                (Some("disable"), _) | (None, Some("drain" | "maint")) => false,
                _ => return None,
            };
            Some(Change {
                server: c[2].to_owned(),
                enable,
                socket: socket.clone(),
            })
        })
        .collect()
}

/// `community.general.haproxy`: `state`, `host` (one or a list), `backend`, `socket`.
fn haproxy_module_changes(args: &Value) -> Vec<Change> {
    let enable = match args.get("state").and_then(Value::as_str) {
        Some("enabled") => true,
        Some("disabled" | "drain") => false,
        _ => return Vec::new(),
    };
    let backend = args.get("backend").and_then(Value::as_str).unwrap_or("*");
    let socket = args
        .get("socket")
        .and_then(Value::as_str)
        .unwrap_or("/var/run/haproxy.sock")
        .to_owned();
    let hosts: Vec<String> = match args.get("host") {
        Some(Value::String(h)) => h.split(',').map(|h| h.trim().to_owned()).collect(),
        Some(Value::Array(hs)) => hs.iter().filter_map(|h| h.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    };
    hosts
        .into_iter()
        .map(|h| Change {
            server: format!("{backend}/{h}"),
            enable,
            socket: Some(socket.clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_workshop_socat_commands() {
        let disable = runtime_commands(
            r#"echo "disable server loadbalancer/web2" | socat stdio /var/lib/haproxy/stats"#,
        );
        assert_eq!(
            disable,
            [Change {
                server: "loadbalancer/web2".into(),
                enable: false,
                socket: Some("/var/lib/haproxy/stats".into())
            }]
        );
        assert!(runtime_commands("echo 'enable server be/web2' | socat stdio /s")[0].enable);
        assert!(!runtime_commands("echo 'set server be/web2 state drain' | socat stdio /s")[0].enable);
        assert!(runtime_commands("systemctl restart nginx").is_empty());
    }

    #[test]
    fn reads_the_haproxy_module() {
        let args = serde_json::json!({"state": "disabled", "host": ["web1", "web2"], "backend": "app", "socket": "/run/h.sock"});
        let c = haproxy_module_changes(&args);
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].server, "app/web2");
        assert!(!c[1].enable);
    }
}
