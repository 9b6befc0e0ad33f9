//! Plays and batches: each play's batches in turn (skipping those a resumed run
//! completed), a batch's sections and handlers, `--start-at-task`, and what the run has
//! done so far (for the INTERRUPTED report).

use super::rules::BatchState;
use super::{gather_facts_task, Event, Flow, HostState, PlayEnv, Runner, StopSignal};
use crate::plan::PlayRollout;
use crate::playbook::{Play, Section, Task};
use indexmap::{IndexMap, IndexSet};
use std::collections::HashSet;
use std::time::Instant;

/// What the run has done so far, across plays; owned by the run, not shared.
#[derive(Debug, Default)]
pub(super) struct RunProgress {
    /// Hosts whose batch started, and hosts that completed their batch.
    pub started: IndexSet<String>,
    pub completed: IndexSet<String>,
    /// A batch gate (the probe's failure budget) stopped the rollout, and why.
    pub stopped_by: Option<String>,
    /// `--start-at-task` until a batch finds its task.
    pub start_at: Option<String>,
    /// The rollout locks preflight took on the load balancers' hosts, held for the run.
    pub lb_locks: Vec<crate::host::Held>,
}

impl RunProgress {
    pub fn new(start_at: Option<String>) -> RunProgress {
        RunProgress {
            start_at,
            ..RunProgress::default()
        }
    }
}

impl Runner {
    pub(super) async fn run_play(
        &self,
        progress: &mut RunProgress,
        play_index: usize,
        play: &Play,
        planned: PlayRollout,
    ) -> Flow {
        // Hosts that failed in an earlier play sit this one out, as in Ansible: batches
        // are cut from all the play's hosts, then the failed ones are left out of theirs.
        let (hosts, batches) = {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let ok = |h: &String| state.get(h).is_none_or(|s| !s.failed && !s.unreachable);
            let hosts: Vec<String> = planned.hosts.iter().filter(|h| ok(h)).cloned().collect();
            let batches: Vec<Vec<String>> = planned
                .batches
                .into_iter()
                .map(|b| b.into_iter().filter(ok).collect::<Vec<_>>())
                .filter(|b| !b.is_empty())
                .collect();
            (hosts, batches)
        };
        if hosts.is_empty() {
            self.events.emit(Event::Warning {
                message: format!(
                    "play `{}`: no hosts matched `{}`, skipping",
                    play.display_name(),
                    play.hosts
                ),
            });
            return Flow::Continue;
        }
        let env = self.play_env(play, hosts.clone());
        let total = batches.len();
        for (i, batch) in batches.iter().enumerate() {
            if self.stop.level() >= StopSignal::FINISH_BATCH {
                return Flow::Interrupted;
            }
            // A play that builds the inventory (`add_host`, `group_by`) runs again: what it
            // built lived only in the run being resumed, and later plays need its hosts.
            if self.opts.skip_batches.contains(&(play_index, batch.clone())) && changes_inventory(play) {
                self.events.emit(Event::Warning {
                    message: format!(
                        "play `{}` batch {}/{total} ({}) completed in the run being resumed, but it builds the inventory (add_host, group_by): running it again",
                        play.display_name(),
                        i + 1,
                        batch.join(", ")
                    ),
                });
            } else if self.opts.skip_batches.contains(&(play_index, batch.clone())) {
                self.events.emit(Event::Warning {
                    message: format!(
                        "play `{}` batch {}/{total} ({}) completed in the run being resumed: skipping it",
                        play.display_name(),
                        i + 1,
                        batch.join(", ")
                    ),
                });
                progress.started.extend(batch.iter().cloned());
                progress.completed.extend(batch.iter().cloned());
                continue;
            }
            self.events.emit(Event::BatchStart {
                play: play.display_name().to_owned(),
                play_index,
                index: i + 1,
                total,
                hosts: batch.clone(),
            });
            let started = Instant::now();
            progress.started.extend(batch.iter().cloned());
            // `--max-connections`: the next batch connects while this one runs.
            let next = self.batch_after(play_index, &batches, i);
            let ((flow, active, pending_handlers), ()) = futures::future::join(
                self.run_batch(&env, play_index, batch, &mut progress.start_at),
                self.open_ahead(&next),
            )
            .await;
            if matches!(flow, Flow::Continue | Flow::EndBatch | Flow::EndPlay) {
                self.close_behind(&next).await;
            }
            if matches!(flow, Flow::Continue | Flow::EndBatch | Flow::EndPlay) {
                progress.completed.extend(active.iter().cloned());
            }
            let (failed, unreachable) = {
                let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                let with = |f: fn(&HostState) -> bool| -> Vec<String> {
                    batch
                        .iter()
                        .filter(|h| state.get(*h).is_some_and(f))
                        .cloned()
                        .collect()
                };
                (with(|s| s.failed), with(|s| s.unreachable))
            };
            self.events.emit(Event::BatchEnd {
                play: play.display_name().to_owned(),
                play_index,
                index: i + 1,
                total,
                completed: active,
                failed,
                unreachable,
                interrupted: flow == Flow::Interrupted,
                duration_ms: started.elapsed().as_millis() as u64,
                pending_handlers,
            });
            match flow {
                Flow::Continue | Flow::EndBatch => {}
                Flow::EndPlay => return Flow::Continue,
                Flow::Stop | Flow::Interrupted => return flow,
            }
            if let Some(Err(why)) = self.gate.as_ref().map(|gate| gate()) {
                self.events.emit(Event::Warning {
                    message: format!("stopping after batch {}/{total}: {why}", i + 1),
                });
                self.events.emit(Event::NoMoreHosts { reason: why.clone() });
                progress.stopped_by = Some(why);
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// One batch: facts, then each section followed by its handlers. Returns the flow, the
    /// hosts that completed the batch, and the handlers each host was notified of but did
    /// not run (a second signal stopped the batch first), by name, for the journal. A
    /// resumed run starts the batch with the notifications the run it resumes left pending.
    async fn run_batch(
        &self,
        env: &PlayEnv<'_>,
        play_index: usize,
        batch: &[String],
        start_at: &mut Option<String>,
    ) -> (Flow, Vec<String>, IndexMap<String, Vec<String>>) {
        let mut state = BatchState::new(batch);
        for host in batch {
            let names = self.opts.pending_handlers.get(&(play_index, host.clone()));
            let handlers = names.into_iter().flatten().filter_map(|n| env.handlers.get(n));
            let handlers: Vec<usize> = handlers.flatten().copied().collect();
            if !handlers.is_empty() {
                state.notified.entry(host.clone()).or_default().extend(handlers);
            }
        }
        let mut active: Vec<String> = batch.to_vec();
        let flow = match start_at_task(env.play, start_at) {
            Some(skips) => {
                state.start_skips = skips;
                self.run_sections(env, &mut state, &mut active).await
            }
            None => Flow::Continue,
        };
        let pending = state
            .notified
            .iter()
            .filter(|(_, handlers)| !handlers.is_empty())
            .map(|(host, handlers)| {
                let handler = |i: &usize| env.handler_tasks.get(*i).and_then(|h| handler_name(h));
                (host.clone(), handlers.iter().filter_map(handler).collect())
            })
            .collect();
        (flow, active, pending)
    }

    async fn run_sections(
        &self,
        env: &PlayEnv<'_>,
        state: &mut BatchState,
        active: &mut Vec<String>,
    ) -> Flow {
        if env.play.gather_facts {
            let setup = gather_facts_task(env.play);
            let outcomes = self
                .run_task(env, &setup, active, &state.batch, Section::PreTasks, false)
                .await;
            if let Some(flow) = self.apply_outcomes(env, state, active, &setup, outcomes) {
                return flow;
            }
        }
        for (section, tasks) in env.play.sections() {
            if let Some(flow) = self.run_list(env, tasks, state, active, section, false).await {
                return flow;
            }
            if let Some(flow) = self.flush_handlers(env, state, active).await {
                return flow;
            }
        }
        Flow::Continue
    }

    /// Run the notified handlers, in definition order, once per notified host.
    pub(super) async fn flush_handlers(
        &self,
        env: &PlayEnv<'_>,
        state: &mut BatchState,
        active: &mut Vec<String>,
    ) -> Option<Flow> {
        for (i, handler) in env.handler_tasks.iter().enumerate() {
            // Stopped before the handler is taken: the journal keeps it pending for --resume.
            if self.stop.level() >= StopSignal::STOP_NOW && state.notified.values().any(|n| n.contains(&i)) {
                return Some(Flow::Interrupted);
            }
            // `force_handlers`: hosts that failed, but are reachable, still run it.
            let failed = |h: &str| matches!(self.host_flags(h), (true, false));
            let hosts = state.take_handler_hosts(active, i, env.rules.force_handlers, failed);
            if hosts.is_empty() {
                continue;
            }
            if let Some(include) = &handler.include {
                let outer = state.scope.replace(hosts);
                let flow = self
                    .run_include(env, handler, include, state, active, Section::Handlers, false)
                    .await;
                state.scope = outer;
                if flow.is_some() {
                    return flow;
                }
                continue;
            }
            let outcomes = self
                .run_task(env, handler, &hosts, &state.batch, Section::Handlers, true)
                .await;
            if let Some(flow) = self.apply_outcomes(env, state, active, handler, outcomes) {
                return Some(flow);
            }
        }
        None
    }
}

/// How a handler is notified: its name, or its first `listen` topic.
fn handler_name(handler: &Task) -> Option<String> {
    handler.name.clone().or_else(|| handler.listen.first().cloned())
}

/// `--start-at-task`: `None` when the batch runs nothing because its play lacks the task;
/// else the tasks before it, which this batch skips (later batches and plays run whole,
/// as in Ansible). Tasks are named by address: the playbook does not move during a run.
fn start_at_task(play: &Play, start_at: &mut Option<String>) -> Option<HashSet<usize>> {
    fn walk(tasks: &[Task], name: &str, before: &mut HashSet<usize>) -> bool {
        for t in tasks {
            let found = match &t.block {
                // Ansible walks a block's tasks then its `always` (`rescue` only on failure).
                Some(b) => walk(&b.tasks, name, before) || walk(&b.always, name, before),
                None => {
                    let matches = |n: &str| n == name || crate::inventory::fnmatch(name, n);
                    // Ansible matches the task's own name and its `role : name`.
                    if t.name.as_deref().is_some_and(matches) || matches(&t.display_name()) {
                        return true;
                    }
                    before.insert(t as *const Task as usize);
                    false
                }
            };
            if found {
                return true;
            }
        }
        false
    }
    let Some(name) = start_at.clone() else {
        return Some(HashSet::new());
    };
    let mut before = HashSet::new();
    if !play
        .sections()
        .iter()
        .any(|(_, tasks)| walk(tasks, &name, &mut before))
    {
        return None;
    }
    *start_at = None;
    Some(before)
}

/// Whether a play has a task that changes the inventory (`add_host`, `group_by`).
fn changes_inventory(play: &crate::playbook::Play) -> bool {
    play.sections()
        .into_iter()
        .flat_map(|(_, tasks)| crate::playbook::flatten(tasks))
        .any(|task| {
            crate::modules::registry()
                .get(&task.module)
                .is_some_and(|m| matches!(m.name(), "add_host" | "group_by"))
        })
}
