//! Where the playbook's own rotation tasks put an inventory host, for `zdd watch`: the
//! tasks of the plays that run on the host whose module says they take a server out of a
//! load balancer (`lb_changes`), rendered for that host as preflight renders them (loop
//! items and `delegate_to` included), with the connection and `become` the task would use.
//! And the commands `zdd watch` sends there, over this runner's connections, through the
//! audit log. Nothing here runs during `zdd apply`.

use super::Runner;
use crate::audit::{audited, CommandContext};
use crate::events::Event;
use crate::host::{Become, CommandOutput, ConnectDefaults, RemoteCommand};
use crate::lb::{Action, LoadBalancer};
use crate::modules::registry;
use serde_json::Value;
use std::time::Duration;

/// One place a task takes a host's server out of, with how to get there.
#[derive(Debug, Clone)]
pub struct RotationSite {
    pub host: String,
    pub lb: &'static dyn LoadBalancer,
    /// The endpoint the task talks to (its load balancer's default when it names none).
    pub endpoint: String,
    /// As the task names it: `backend/server`, or `*/server` for any backend.
    pub server: String,
    /// Where the task runs (its delegate, else the host itself).
    pub via: String,
    /// `local` for a play or task with `connection: local`, else the task's `connection`.
    pub connection: Option<String>,
    pub remote: ConnectDefaults,
    pub run_as: Option<Become>,
    /// Fewer servers than this left serving in the backend: do not take one out (the
    /// `haproxy` module's `min_up`, 1 by default, as the module's own default).
    pub min_up: usize,
    /// The task drains before it disables (the `haproxy` module's `drain: yes` or
    /// `state: drain`, a `set server ... state drain`): for at most this long.
    pub drain: Option<Duration>,
}

impl RotationSite {
    fn same_place(&self, other: &RotationSite) -> bool {
        self.lb == other.lb
            && self.via == other.via
            && self.endpoint == other.endpoint
            && self.server == other.server
    }
}

/// How long a drain may take when the task does not say (the `haproxy` module's wait
/// budget: 25 retries of 5 s).
const DEFAULT_DRAIN: Duration = Duration::from_secs(125);

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// What a task's rendered arguments say of the capacity guard and the drain, for the
/// `haproxy` module; other modules (a shell `socat`) drain when their command does.
fn guard_and_drain(module: &str, args: &Value, action: Action) -> (usize, Option<Duration>) {
    let drain_secs = |args: &Value| {
        let budget = number(args.get("drain_timeout")).unwrap_or_else(|| {
            number(args.get("wait_interval")).unwrap_or(5.0)
                * number(args.get("wait_retries")).unwrap_or(25.0)
        });
        Duration::from_secs_f64(budget.clamp(0.0, 86_400.0))
    };
    if module != "haproxy" {
        return (1, (action == Action::Drain).then_some(DEFAULT_DRAIN));
    }
    let min_up = number(args.get("min_up")).map_or(1, |n| n.max(0.0) as usize);
    let drains = action == Action::Drain || args.get("drain").is_some_and(crate::vars::truthy);
    (min_up, drains.then(|| drain_secs(args)))
}

impl Runner {
    /// Every place the playbook's rotation tasks take `host`'s server out of, rendered
    /// for `host` without connecting anywhere: the plays that run on it (whatever
    /// `--limit` says), each task whose module takes a server of `host` out. A task whose
    /// arguments, items or delegate cannot be known before the run is left out.
    pub fn rotation_sites(&self, host: &str) -> Vec<RotationSite> {
        let inv = self.inv();
        let mut sites: Vec<RotationSite> = Vec::new();
        for play in &self.playbook.plays {
            let hosts =
                crate::plan::play_hosts(&inv.inventory, play, None, self.plan.seed).unwrap_or_default();
            if !hosts.iter().any(|h| h == host) {
                continue;
            }
            let local_play = play.connection.as_deref() == Some("local");
            let env = self.play_env(play, hosts.clone());
            let shared = self.shared_vars(&env, &[host.to_owned()]);
            let flatten = crate::playbook::flatten;
            let tasks = flatten(&play.pre_tasks)
                .into_iter()
                .chain(flatten(&play.tasks))
                .chain(flatten(&play.post_tasks))
                .chain(flatten(&play.handlers));
            for task in tasks {
                let Some(module) = registry().get(&task.module) else {
                    continue;
                };
                if module.controller_only() {
                    continue;
                }
                let Value::Object(raw) = &task.args else {
                    continue;
                };
                let ctx = self.context(&env, host, task, &shared);
                let run_as = self.become_for(&env, task, &ctx);
                let connection = match local_play {
                    true => Some("local".to_owned()),
                    false => task.connection.clone(),
                };
                for (item_ctx, remote, via) in self.static_item_sites(task, &ctx, host) {
                    let rendered: serde_json::Map<String, Value> = raw
                        .iter()
                        .filter_map(|(k, v)| {
                            Some((k.clone(), self.templater.render_value(v, &item_ctx).ok()?))
                        })
                        .collect();
                    let args = Value::Object(rendered);
                    let changes = module.lb_changes(&args);
                    let many = changes.len() > 1;
                    for change in changes.iter().filter(|c| c.action.takes_out()) {
                        // One call for several servers: each is its own host's.
                        let name = change.server.rsplit('/').next().unwrap_or(&change.server);
                        if many && name != host {
                            continue;
                        }
                        let (min_up, drain) = guard_and_drain(module.name(), &args, change.action);
                        let site = RotationSite {
                            host: host.to_owned(),
                            lb: change.lb,
                            endpoint: change
                                .endpoint
                                .clone()
                                .unwrap_or_else(|| change.lb.default_endpoint().to_owned()),
                            server: change.server.clone(),
                            via: via.clone(),
                            connection: connection.clone(),
                            remote: remote.clone(),
                            run_as: run_as.clone(),
                            min_up,
                            drain,
                        };
                        match sites.iter_mut().find(|s| s.same_place(&site)) {
                            // A drain task then a disable task: one place that drains.
                            Some(known) => {
                                known.min_up = known.min_up.max(site.min_up);
                                known.drain = known.drain.max(site.drain);
                            }
                            None => sites.push(site),
                        }
                    }
                }
            }
        }
        sites
    }

    /// Run `script` where `site`'s task runs, as it would (its delegate, connection,
    /// `remote_user` and `become`), written to the audit log as `task`.
    pub async fn rotation_command(
        &self,
        site: &RotationSite,
        task: &str,
        script: String,
        timeout: Duration,
    ) -> Result<CommandOutput, String> {
        let host = self
            .connect(&site.via, site.connection.as_deref(), &site.remote)
            .await
            .map_err(|e| format!("cannot reach {}: {e}", site.via))?;
        let delegate = (site.via != site.host).then_some(site.via.as_str());
        let about = CommandContext::new(&site.host, delegate, task, false);
        let host = audited(self.opts.audit.as_ref(), host, about);
        let mut cmd = RemoteCommand::new(script).run_as(site.run_as.clone());
        cmd.timeout = Some(timeout);
        host.run(&cmd).await.map_err(|e| format!("on {}: {e}", site.via))
    }

    /// Emit an event on this runner's sink (the rotation events of `zdd watch`).
    pub fn emit(&self, event: Event) {
        self.events.emit(event);
    }

    /// Close the connections opened so far.
    pub async fn close_connections(&self) {
        self.conns.close_all().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_haproxy_module_says_min_up_and_the_drain() {
        let args = json!({"state": "disabled", "drain": true, "drain_timeout": 60, "min_up": "2"});
        assert_eq!(
            guard_and_drain("haproxy", &args, Action::Disable),
            (2, Some(Duration::from_secs(60)))
        );
        let plain = json!({"state": "disabled"});
        assert_eq!(guard_and_drain("haproxy", &plain, Action::Disable), (1, None));
        // Without drain_timeout: the wait budget.
        let budget = json!({"state": "drain", "wait_interval": 1, "wait_retries": 3});
        assert_eq!(
            guard_and_drain("haproxy", &budget, Action::Drain),
            (1, Some(Duration::from_secs(3)))
        );
        assert_eq!(
            guard_and_drain("shell", &json!({}), Action::Drain),
            (1, Some(DEFAULT_DRAIN))
        );
        assert_eq!(guard_and_drain("shell", &json!({}), Action::Disable), (1, None));
    }
}
