//! Task lists as Ansible runs them: tag selection, `meta` tasks, and `block` / `rescue` /
//! `always` with per-host failure handling.

use super::rules::{self, BatchState};
use super::{Flow, PlayEnv, Runner, StopSignal};
use crate::playbook::{Block, Section, Task};
use futures::future::LocalBoxFuture;
use serde_json::json;

/// Whether `--tags` / `--skip-tags` select a task with these tags, by Ansible's rules: an
/// untagged task is `untagged`; `always` runs unless skipped by name; `never` runs only
/// when named; `all` and `tagged` select as their names say.
pub fn tags_select(task_tags: &[String], only: &[String], skip: &[String]) -> bool {
    let untagged = task_tags.is_empty();
    let tags: Vec<&str> = if untagged {
        vec!["untagged"]
    } else {
        task_tags.iter().map(String::as_str).collect()
    };
    let has = |t: &str| tags.contains(&t);
    let any_in = |list: &[String]| list.iter().any(|t| has(t));
    let only_all = only.is_empty() || only.iter().any(|t| t == "all");
    let mut run = has("always")
        || (only_all && !has("never"))
        || any_in(only)
        || (only.iter().any(|t| t == "tagged") && !untagged && !has("never"));
    if run && !skip.is_empty() {
        if skip.iter().any(|t| t == "all") {
            if !has("always") || skip.iter().any(|t| t == "always") {
                run = false;
            }
        } else if any_in(skip) || (skip.iter().any(|t| t == "tagged") && !untagged) {
            run = false;
        }
    }
    run
}

impl Runner {
    /// Run a task list on `active`. Hosts that fail leave `active`. At the top level
    /// (`nested` false) the failure rules apply after each task; inside a block they wait
    /// for the block's end, where `rescue` may still save the host.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run_list<'a>(
        &'a self,
        env: &'a PlayEnv<'a>,
        tasks: &'a [Task],
        state: &'a mut BatchState,
        active: &'a mut Vec<String>,
        section: Section,
        nested: bool,
    ) -> LocalBoxFuture<'a, Option<Flow>> {
        Box::pin(async move {
            for task in tasks {
                if state.in_scope(active).is_empty() {
                    return None;
                }
                // A role named again with the same parameters already ran (Ansible skips
                // it silently for the hosts where it did).
                if task.role().is_some_and(|r| r.repeat) {
                    continue;
                }
                if self.stop.level() >= StopSignal::STOP_NOW {
                    return Some(Flow::Interrupted);
                }
                if let Some(block) = &task.block {
                    let flow = self
                        .run_block(env, task, block, state, active, section, nested)
                        .await;
                    if flow.is_some() {
                        return flow;
                    }
                    continue;
                }
                if !tags_select(&task.tags, &self.opts.tags, &self.opts.skip_tags) || state.start_skips(task)
                {
                    continue;
                }
                if let Some(include) = &task.include {
                    let flow = self
                        .run_include(env, task, include, state, active, section, nested)
                        .await;
                    if flow.is_some() {
                        return flow;
                    }
                    continue;
                }
                if crate::modules::registry()
                    .get(&task.module)
                    .is_some_and(|m| m.directs_the_runner())
                {
                    let flow = self.run_meta(env, task, state, active).await;
                    if flow.is_some() {
                        return flow;
                    }
                    continue;
                }
                let hosts = state.in_scope(active);
                let handler = section == Section::Handlers;
                let outcomes = self
                    .run_task(env, task, &hosts, &state.batch, section, handler)
                    .await;
                if nested {
                    state.record_in_block(active, &env.handlers_of(task), &outcomes);
                    // `any_errors_fatal`: one failure ends the block for every host.
                    if task.any_errors_fatal && outcomes.iter().any(|o| o.failed) {
                        active.clear();
                        return None;
                    }
                } else if let Some(flow) = self.apply_outcomes(env, state, active, task, outcomes) {
                    return Some(flow);
                }
            }
            None
        })
    }

    /// A block: its tasks; `rescue` for the hosts that failed in them (which then count as
    /// rescued, not failed); `always` for every host that entered and is still reachable.
    #[allow(clippy::too_many_arguments)]
    async fn run_block(
        &self,
        env: &PlayEnv<'_>,
        task: &Task,
        block: &Block,
        state: &mut BatchState,
        active: &mut Vec<String>,
        section: Section,
        nested: bool,
    ) -> Option<Flow> {
        let flags = |h: &str| self.host_flags(h);
        let entering = state.in_scope(active);
        let mut alive = entering.clone();
        if let Some(flow) = self
            .run_list(env, &block.tasks, state, &mut alive, section, true)
            .await
        {
            return Some(flow);
        }
        let failed: Vec<String> = entering
            .iter()
            .filter(|h| !alive.contains(h) && self.host_failed(h))
            .cloned()
            .collect();
        let mut rescued = Vec::new();
        if !block.rescue.is_empty() && !failed.is_empty() {
            for h in &failed {
                self.rescue_host(h);
            }
            rescued = rules::rescue_hosts(&entering, &failed, task.any_errors_fatal, &flags);
            if let Some(flow) = self
                .run_list(env, &block.rescue, state, &mut rescued, section, true)
                .await
            {
                return Some(flow);
            }
        }
        let mut done = rules::always_hosts(
            &entering,
            &alive,
            &failed,
            &rescued,
            task.any_errors_fatal,
            !block.rescue.is_empty(),
            &flags,
        );
        if !block.always.is_empty() && !done.is_empty() {
            if let Some(flow) = self
                .run_list(env, &block.always, state, &mut done, section, true)
                .await
            {
                return Some(flow);
            }
        }
        let still_failed = |h: &String| failed.contains(h) && !rescued.contains(h);
        let ok: Vec<String> = done
            .into_iter()
            .filter(|h| !still_failed(h) && !self.host_failed(h))
            .collect();
        // Hosts outside an include's scope did not enter the block: they stay.
        let outside = |h: &String| !entering.contains(h);
        if nested {
            active.retain(|h| ok.contains(h) || outside(h));
            return None;
        }
        // At the top level, the hosts the block lost meet the failure rules now.
        let lost = rules::lost_in_block(&entering, &ok, &flags);
        active.retain(|h| ok.contains(h) || outside(h) || lost.iter().any(|o| &o.host == h));
        self.apply_outcomes(env, state, active, task, lost)
    }

    /// `meta` tasks: `flush_handlers`, `end_host` (per host, with `when`), `end_batch` and
    /// `end_play` (their `when` read for the first host, as Ansible runs them once).
    async fn run_meta(
        &self,
        env: &PlayEnv<'_>,
        task: &Task,
        state: &mut BatchState,
        active: &mut Vec<String>,
    ) -> Option<Flow> {
        let action = crate::modules::meta::action(&task.args).unwrap_or("noop");
        let shared = self.shared_vars(env, &state.batch);
        let holds = |host: &str| -> bool {
            let ctx = self.context(env, host, task, &shared);
            task.when
                .iter()
                .all(|c| self.templater.eval_bool(c, &ctx).unwrap_or(false))
        };
        match action {
            "flush_handlers" => self.flush_handlers(env, state, active).await,
            "end_host" => {
                let ending: Vec<String> = state.in_scope(active).into_iter().filter(|h| holds(h)).collect();
                state.end_hosts(active, &ending);
                None
            }
            "end_batch" | "end_play" => {
                let first = state.in_scope(active).first()?.clone();
                if !holds(&first) {
                    return None;
                }
                // The batch's hosts end here without failing: they completed it.
                Some(if action == "end_play" {
                    Flow::EndPlay
                } else {
                    Flow::EndBatch
                })
            }
            _ => None,
        }
    }

    /// (failed, unreachable) for a host.
    pub(super) fn host_flags(&self, host: &str) -> (bool, bool) {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .get(host)
            .map(|s| (s.failed, s.unreachable))
            .unwrap_or((false, false))
    }

    fn host_failed(&self, host: &str) -> bool {
        self.host_flags(host).0
    }

    /// A host that failed in a block with a `rescue`: its failure counts as rescued, and
    /// `ansible_failed_task` / `ansible_failed_result` describe it.
    fn rescue_host(&self, host: &str) {
        let failure = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let Some(s) = state.get_mut(host) else { return };
            s.failed = false;
            s.stats.failed = s.stats.failed.saturating_sub(1);
            s.stats.rescued += 1;
            s.last_failure.take()
        };
        if let Some((task, result)) = failure {
            self.set_facts(
                host,
                crate::vars::VarMap::from([
                    ("ansible_failed_task".to_owned(), task),
                    ("ansible_failed_result".to_owned(), result),
                ]),
            );
        } else {
            self.set_facts(
                host,
                crate::vars::VarMap::from([("ansible_failed_result".to_owned(), json!({}))]),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tags_select;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn tags_follow_ansible_rules() {
        assert!(tags_select(&[], &[], &[]));
        assert!(!tags_select(&s(&["never"]), &[], &[]));
        assert!(tags_select(&s(&["never", "debug"]), &s(&["debug"]), &[]));
        assert!(tags_select(&s(&["always"]), &s(&["deploy"]), &[]));
        assert!(!tags_select(&s(&["always"]), &[], &s(&["always"])));
        assert!(!tags_select(&[], &s(&["deploy"]), &[]));
        assert!(tags_select(&[], &s(&["untagged"]), &[]));
        assert!(!tags_select(&s(&["deploy"]), &[], &s(&["deploy"])));
        assert!(tags_select(&s(&["x"]), &s(&["tagged"]), &[]));
        assert!(tags_select(&s(&["always"]), &[], &s(&["all"])));
    }
}
