//! Preflight, before the first batch: reach every host and every delegate at once, check
//! that sudo works wherever `become` is used, and that every HAProxy socket the playbook
//! names answers. Anything wrong stops the run here, having changed nothing.

use super::{PlayEnv, Runner};
use crate::error::Error;
use crate::events::{Event, HostProblem};
use crate::host::{sh_quote, Become, RemoteCommand};
use crate::modules::registry;
use crate::playbook::Task;
use crate::vars::{Context, VarMap};
use indexmap::{IndexMap, IndexSet};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

/// What preflight will check, worked out without touching anything.
#[derive(Debug, Default)]
struct Plan {
    /// Every host and delegate to connect to, in first-use order.
    hosts: IndexSet<String>,
    /// (host, become user): sudo must work without a password.
    sudo: IndexSet<(String, String)>,
    /// (host, socket path, become user): HAProxy must answer there.
    sockets: IndexSet<(String, String, Option<String>)>,
}

impl Runner {
    pub(super) async fn preflight(&self, play_hosts: &[Vec<String>]) -> Result<(), Error> {
        let started = Instant::now();
        let plan = self.preflight_plan(play_hosts);
        let mut specs = Vec::new();
        let mut problems = Vec::new();
        for name in &plan.hosts {
            match self.spec_for(name) {
                Ok(spec) if !spec.local => specs.push(spec),
                Ok(_) => {}
                Err(e) => problems.push(e),
            }
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        let results = self.conns.open_all(&specs).await;
        if self.opts.no_preflight {
            // Unreachable hosts are then found by their first task, as in Ansible.
            return Ok(());
        }
        let unreachable: Vec<(String, String)> = specs
            .iter()
            .zip(results)
            .filter_map(|(spec, r)| r.err().map(|e| (spec.name.clone(), e.to_string())))
            .collect();
        if !unreachable.is_empty() {
            self.events.emit(Event::PreflightFailed {
                unreachable: unreachable.iter().cloned().collect(),
                problems: Vec::new(),
            });
            return Err(Error::Unreachable(unreachable));
        }
        let sudo = plan.sudo.iter().map(|(host, user)| self.check_sudo(host, user));
        let sockets = plan
            .sockets
            .iter()
            .map(|(host, path, user)| self.check_socket(host, path, user.as_deref()));
        let (sudo, sockets) = futures::future::join(
            futures::future::join_all(sudo),
            futures::future::join_all(sockets),
        )
        .await;
        let failures: Vec<(String, String)> = sudo.into_iter().chain(sockets).flatten().collect();
        if !failures.is_empty() {
            self.events.emit(Event::PreflightFailed {
                unreachable: IndexMap::new(),
                problems: failures
                    .iter()
                    .map(|(host, message)| HostProblem {
                        host: host.clone(),
                        message: message.clone(),
                    })
                    .collect(),
            });
            return Err(Error::Preflight(failures));
        }
        self.events.emit(Event::Preflight {
            hosts: plan.hosts.len(),
            sudo_checked: plan.sudo.iter().map(|(h, _)| h).collect::<IndexSet<_>>().len(),
            sockets: plan.sockets.iter().map(|(h, p, _)| format!("{h}:{p}")).collect(),
            duration_ms: started.elapsed().as_millis() as u64,
        });
        Ok(())
    }

    /// Which hosts, sudo rights and sockets the playbook will use, from its static parts.
    /// What cannot be known before the run (a delegate computed from a registered result)
    /// is left to the run itself.
    fn preflight_plan(&self, play_hosts: &[Vec<String>]) -> Plan {
        let mut plan = Plan::default();
        for (play, hosts) in self.playbook.plays.iter().zip(play_hosts) {
            if play.connection.as_deref() == Some("local") || hosts.is_empty() {
                continue;
            }
            let env = self.play_env(play, hosts.clone());
            let shared = self.shared_vars(&env, hosts);
            plan.hosts.extend(hosts.iter().cloned());
            let flatten = crate::playbook::flatten;
            let tasks = flatten(&play.pre_tasks)
                .into_iter()
                .chain(flatten(&play.tasks))
                .chain(flatten(&play.post_tasks))
                .chain(&play.handlers);
            for task in tasks {
                let on_controller = registry().get(&task.module).is_none_or(|m| m.controller_only());
                if on_controller || task.connection.as_deref() == Some("local") {
                    continue;
                }
                for host in hosts {
                    self.plan_task(&env, task, host, &shared, &mut plan);
                }
            }
        }
        plan
    }

    fn plan_task(&self, env: &PlayEnv<'_>, task: &Task, host: &str, shared: &Arc<VarMap>, plan: &mut Plan) {
        let ctx = self.context(env, host, task, shared);
        let run_as = self.become_for(env, task, &ctx);
        for item_ctx in self.static_item_contexts(task, &ctx) {
            let target = match self.delegate_in(task, &item_ctx) {
                Some(Ok(name)) => name,
                // Decided at run time (it reads a registered result, say).
                Some(Err(_)) => continue,
                None => host.to_owned(),
            };
            if self.spec_for(&target).is_ok_and(|s| s.local) {
                continue;
            }
            if let Some(b) = &run_as {
                plan.sudo.insert((target.clone(), b.user.clone()));
            }
            for path in self.sockets_named(task, &item_ctx) {
                plan.sockets
                    .insert((target.clone(), path, run_as.as_ref().map(|b| b.user.clone())));
            }
            plan.hosts.insert(target);
        }
    }

    /// The contexts a task runs in: one per loop item, or just one. Empty when the items
    /// cannot be known before the run.
    pub(super) fn static_item_contexts(&self, task: &Task, ctx: &Context) -> Vec<Context> {
        match &task.loop_ {
            None => vec![ctx.clone()],
            Some(lp) => match super::task::loop_items(&self.templater, lp, ctx) {
                Ok(items) => items
                    .into_iter()
                    .map(|item| ctx.with_var(&task.loop_control.loop_var, item))
                    .collect(),
                Err(_) => Vec::new(),
            },
        }
    }

    /// HAProxy sockets a task talks to: the `haproxy` module's `socket`, or a `socat`
    /// address in a shell command (the workshop's `... | socat stdio /var/lib/haproxy/stats`).
    fn sockets_named(&self, task: &Task, ctx: &Context) -> Vec<String> {
        let arg = |key: &str| -> Option<String> {
            let raw = task.args.get(key)?;
            match self.templater.render_value(raw, ctx).ok()? {
                Value::String(s) => Some(s),
                _ => None,
            }
        };
        match crate::modules::canonical_name(&task.module) {
            "shell" | "command" => arg("_raw_params")
                .or_else(|| arg("cmd"))
                .map(|cmd| socat_sockets(&cmd))
                .unwrap_or_default(),
            "haproxy" => vec![arg("socket").unwrap_or_else(|| "/var/run/haproxy.sock".into())],
            _ => Vec::new(),
        }
    }

    /// The connection a check uses, written to the audit log like any task's.
    fn preflight_host(
        &self,
        h: Arc<dyn crate::host::Host>,
        host: &str,
        check: &str,
    ) -> Arc<dyn crate::host::Host> {
        let about = crate::audit::CommandContext::new(host, None, check, false);
        crate::audit::audited(self.opts.audit.as_ref(), h, about)
    }

    async fn check_sudo(&self, host: &str, user: &str) -> Option<(String, String)> {
        let run_as = Become {
            user: user.to_owned(),
            method: "sudo".into(),
        };
        let cmd = RemoteCommand::new("true").run_as(Some(run_as));
        let failure = match self.connect(host, None).await {
            Err(e) => Some(e.to_string()),
            Ok(h) => match self.preflight_host(h, host, "preflight: sudo").run(&cmd).await {
                Ok(out) if out.rc == 0 => None,
                Ok(out) => Some(format!("sudo -n -u {user} failed: {}", out.stderr.trim())),
                Err(e) => Some(format!("sudo -n -u {user} failed: {e}")),
            },
        };
        failure.map(|why| (host.to_owned(), why))
    }

    async fn check_socket(&self, host: &str, path: &str, user: Option<&str>) -> Option<(String, String)> {
        let run_as = user.map(|user| Become {
            user: user.to_owned(),
            method: "sudo".into(),
        });
        let cmd = RemoteCommand::new(socket_check_script(path)).run_as(run_as);
        let failure = match self.connect(host, None).await {
            Err(e) => Some(e.to_string()),
            Ok(h) => match self
                .preflight_host(h, host, "preflight: HAProxy socket")
                .run(&cmd)
                .await
            {
                Ok(out) if out.rc == 0 => None,
                Ok(out) => Some(out.stderr.trim().to_owned()),
                Err(e) => Some(e.to_string()),
            },
        };
        failure.map(|why| (host.to_owned(), why))
    }
}

/// A shell script that succeeds only if HAProxy answers `show info` on the socket.
fn socket_check_script(path: &str) -> String {
    let sock = sh_quote(path);
    format!(
        "[ -S {sock} ] || {{ echo \"no HAProxy socket at \"{sock} >&2; exit 1; }}\n\
         command -v socat >/dev/null || {{ echo 'socat is not installed' >&2; exit 1; }}\n\
         out=$(printf 'show info\\n' | socat -t 5 stdio unix-connect:{sock} 2>&1) || {{ echo \"$out\" >&2; exit 1; }}\n\
         case \"$out\" in *Name:*) ;; *) echo \"HAProxy did not answer on \"{sock}\": $out\" >&2; exit 1 ;; esac"
    )
}

/// The unix socket paths among the addresses of every `socat` in a shell command.
pub(super) fn socat_sockets(command: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for segment in command.split(['|', ';', '&', '(', ')', '\n']) {
        let mut words = segment.split_whitespace();
        if words.next().is_none_or(|w| w.rsplit('/').next() != Some("socat")) {
            continue;
        }
        for word in words.take_while(|w| !w.starts_with(['>', '<'])) {
            let word = word.trim_matches(|c| c == '"' || c == '\'');
            let lower = word.to_ascii_lowercase();
            let path = ["unix-connect:", "unix-client:", "unix:"]
                .iter()
                .find_map(|prefix| lower.starts_with(prefix).then(|| &word[prefix.len()..]))
                .unwrap_or(word);
            if path.starts_with('/') {
                paths.push(path.to_owned());
            }
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sockets_in_the_workshop_commands() {
        assert_eq!(
            socat_sockets(r#"echo "disable server loadbalancer/web1" | socat stdio /var/lib/haproxy/stats"#),
            ["/var/lib/haproxy/stats"]
        );
        assert_eq!(
            socat_sockets("echo 'show stat' | /usr/bin/socat -t 2 STDIO UNIX-CONNECT:/run/haproxy/admin.sock; echo done"),
            ["/run/haproxy/admin.sock"]
        );
        assert!(socat_sockets("echo socat-free command > /tmp/x").is_empty());
        assert!(socat_sockets("socat TCP:127.0.0.1:80 stdio").is_empty());
    }

    #[test]
    fn socket_check_script_quotes_the_path() {
        let script = socket_check_script("/tmp/with space/haproxy.sock");
        assert!(
            script.contains("[ -S '/tmp/with space/haproxy.sock' ]"),
            "{script}"
        );
        assert!(
            script.contains("unix-connect:'/tmp/with space/haproxy.sock'"),
            "{script}"
        );
    }
}
