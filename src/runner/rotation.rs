//! Which servers this run took out of the load balancer and has not put back, learnt from
//! the tasks that really ran: each module says what it did (`lb_changes`: a `disable server
//! B/S` through socat in a shell task, the `haproxy` module). When a run stops early (a
//! failure, Ctrl-C) it says exactly which servers are out of rotation and the command that
//! puts each back.

use crate::events::OutOfRotation;
use crate::lb::LbChange;
use indexmap::IndexMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub(super) struct RotationLedger {
    out: Mutex<IndexMap<String, OutOfRotation>>,
}

impl RotationLedger {
    /// Record what a successful task did to the load balancer. `target` is where it ran
    /// (the load balancer, when delegated), `host` the inventory host it ran for.
    pub(super) fn observe(&self, changes: Vec<LbChange>, host: &str, target: &str) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        for change in changes {
            let key = format!("{target} {}", change.server);
            if !change.action.takes_out() {
                out.shift_remove(&key);
            } else {
                out.insert(
                    key,
                    OutOfRotation {
                        command: change.restore_command(),
                        server: change.server,
                        host: host.to_owned(),
                        load_balancer: target.to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::{changes_in_command, Action, HAPROXY};

    #[test]
    fn a_server_put_back_leaves_the_ledger() {
        let ledger = RotationLedger::default();
        let out = |server: &str| LbChange {
            lb: &HAPROXY,
            server: server.into(),
            action: Action::Drain,
            endpoint: None,
        };
        ledger.observe(vec![out("lb/web1"), out("lb/web2")], "web1", "lb1");
        ledger.observe(
            changes_in_command("echo 'enable server lb/web1' | socat stdio /s"),
            "web1",
            "lb1",
        );
        let left = ledger.out_of_rotation();
        assert_eq!(left.len(), 1);
        assert_eq!(
            (left[0].server.as_str(), left[0].command.as_str()),
            ("lb/web2", "enable server lb/web2")
        );
    }
}
