//! One task on one host: conditions, loops, delegation, the module with `until` retries,
//! `changed_when`/`failed_when`, `register`, facts, and the events that report it.

use super::ansible_batch::AnsibleBatch;
use super::rotation::Site;
use super::{HostOutcome, PlayEnv, Runner, OMIT};
use crate::audit::{audited, CommandContext};
use crate::events::{Event, HostResult, Status};
use crate::host::HostError;
use crate::modules::via_ansible::{self, HostEntry};
use crate::modules::{registry, ModuleCtx, ModuleResult};
use crate::playbook::{Loop, Task};
use crate::template::{TemplateError, Templater};
use crate::vars::{Context, VarMap};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What runs the task on a host: a module of zdd's, or its part of an Ansible invocation.
enum Action<'a> {
    Native {
        module: &'a dyn crate::modules::Module,
        host: &'a dyn crate::host::Host,
        run_as: Option<&'a crate::host::Become>,
    },
    ViaAnsible {
        batch: &'a AnsibleBatch,
        entry: HostEntry,
    },
}

/// The result of one execution (one item, or the task when it has no loop).
struct Run {
    status: Status,
    /// The result as `register` stores it.
    result: Value,
    delegate: Option<String>,
    /// Facts to set (from `set_fact`, `setup`), and on which host.
    facts: VarMap,
    facts_host: Option<String>,
}

impl Run {
    fn failed(msg: impl Into<String>) -> Run {
        Run::from_json(
            Status::Failed,
            json!({"failed": true, "changed": false, "msg": msg.into()}),
        )
    }

    /// A task that ran longer than its `timeout`, worded as Ansible words it.
    fn timed_out(seconds: u64) -> Run {
        Run::from_json(
            Status::Failed,
            json!({"failed": true, "changed": false, "msg": format!("Task failed: Timed out after {seconds} second(s)."), "timedout": {"period": seconds}}),
        )
    }

    fn unreachable(msg: String) -> Run {
        Run::from_json(
            Status::Unreachable,
            json!({"unreachable": true, "changed": false, "msg": msg}),
        )
    }

    fn skipped(condition: &str) -> Run {
        Run::from_json(
            Status::Skipped,
            json!({"changed": false, "skipped": true, "skip_reason": "Conditional result was False", "false_condition": condition}),
        )
    }

    fn from_json(status: Status, result: Value) -> Run {
        Run {
            status,
            result,
            delegate: None,
            facts: VarMap::new(),
            facts_host: None,
        }
    }

    fn changed(&self) -> bool {
        self.result
            .get("changed")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

impl Runner {
    pub(super) async fn run_on_host(
        &self,
        env: &PlayEnv<'_>,
        task: &Task,
        host: &str,
        shared: &Arc<VarMap>,
        batch: Option<&AnsibleBatch>,
    ) -> HostOutcome {
        let started = Instant::now();
        self.events.emit(Event::HostStart {
            host: host.to_owned(),
            task: task.display_name().to_owned(),
        });
        let ctx = self.context(env, host, task, shared);
        let (task, run, looped) = match super::keywords::resolve(&self.templater, task, &ctx) {
            Ok(task) => {
                let task = super::keywords::censor_vault_readers(&self.templater, task);
                let (run, looped) = match &task.loop_ {
                    None => (self.run_item(env, &task, host, &ctx, batch).await, false),
                    Some(lp) => (
                        self.run_loop(env, &task, host, &ctx, lp, started, batch).await,
                        true,
                    ),
                };
                (task, run, looped)
            }
            // A keyword that cannot be rendered fails the host, unless the task is skipped
            // there anyway (Ansible checks the condition first).
            Err(e) => match self.skipped_by_when(task, &ctx) {
                Some(skip) => (std::borrow::Cow::Borrowed(task), skip, false),
                None => {
                    let mut task = task.clone();
                    task.no_log |= e.hide_output;
                    (std::borrow::Cow::Owned(task), Run::failed(e.message), false)
                }
            },
        };
        let task: &Task = &task;
        let ignored = (run.status == Status::Failed && self.ignore_errors(task, &ctx))
            || (run.status == Status::Unreachable && task.ignore_unreachable);
        let changed = run.changed();
        if let Some(name) = &task.register {
            self.set_facts(host, VarMap::from([(name.clone(), run.result.clone())]));
        }
        if run.status != Status::Failed || ignored {
            let target = run.facts_host.clone().unwrap_or_else(|| host.to_owned());
            if registry().get(&task.module).is_some_and(|m| m.includes_vars()) {
                self.set_included_vars(&target, run.facts.clone());
            } else {
                self.set_facts(&target, run.facts.clone());
            }
        }
        self.count(host, run.status, changed, ignored);
        if run.status == Status::Failed && !ignored {
            let failed_task = json!({"name": task.name.clone().unwrap_or_default(), "action": task.module});
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.entry(host.to_owned()).or_default().last_failure = Some((failed_task, run.result.clone()));
        }
        self.events.emit(Event::HostResult(
            self.host_result(task, host, &run, None, looped, ignored, started),
        ));
        HostOutcome {
            host: host.to_owned(),
            // An ignored unreachable host stays in the play.
            status: if run.status == Status::Unreachable && ignored {
                Status::Ok
            } else {
                run.status
            },
            failed: run.status == Status::Failed && !ignored,
            changed,
        }
    }

    /// A looped task: each item runs in turn and is reported on its own; the registered
    /// result holds them all under `results`, as in Ansible.
    #[allow(clippy::too_many_arguments)]
    async fn run_loop(
        &self,
        env: &PlayEnv<'_>,
        task: &Task,
        host: &str,
        ctx: &Context,
        lp: &Loop,
        started: Instant,
        batch: Option<&AnsibleBatch>,
    ) -> Run {
        let items = match loop_items(&self.templater, lp, ctx) {
            Ok(items) => items,
            Err(e) => return Run::failed(e),
        };
        let control = &task.loop_control;
        let mut results = Vec::new();
        let mut facts = VarMap::new();
        let mut facts_host = None;
        let (mut any_changed, mut any_failed, mut any_unreachable, mut all_skipped) =
            (false, false, false, true);
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                if let Some(pause) = control.pause {
                    tokio::time::sleep(Duration::from_secs_f64(pause)).await;
                }
            }
            let mut item_vars = VarMap::from([
                (control.loop_var.clone(), item.clone()),
                ("ansible_loop_var".into(), json!(control.loop_var)),
            ]);
            if let Some(index_var) = &control.index_var {
                item_vars.insert(index_var.clone(), json!(index));
            }
            let item_ctx = ctx.with(item_vars);
            let mut run = self.run_item(env, task, host, &item_ctx, batch).await;
            let label = match &control.label {
                Some(label) => self
                    .templater
                    .render_str(label, &item_ctx)
                    .unwrap_or_else(|_| label.clone()),
                None => item_label(item),
            };
            if let Value::Object(map) = &mut run.result {
                map.insert(control.loop_var.clone(), item.clone());
                map.insert("ansible_loop_var".into(), json!(control.loop_var));
            }
            any_changed |= run.changed();
            any_failed |= run.status == Status::Failed;
            any_unreachable |= run.status == Status::Unreachable;
            all_skipped &= run.status == Status::Skipped;
            let ignored = run.status == Status::Failed && self.ignore_errors(task, &item_ctx);
            self.events.emit(Event::HostResult(self.host_result(
                task,
                host,
                &run,
                Some(label),
                false,
                ignored,
                started,
            )));
            facts.extend(std::mem::take(&mut run.facts));
            facts_host = run.facts_host.take().or(facts_host);
            results.push(run.result);
            if any_unreachable {
                break;
            }
        }
        let mut result = json!({"changed": any_changed, "results": results});
        let status = if any_unreachable {
            Status::Unreachable
        } else if any_failed {
            result["failed"] = json!(true);
            result["msg"] = json!("One or more items failed");
            Status::Failed
        } else if all_skipped {
            result["skipped"] = json!(true);
            result["msg"] = json!("All items skipped");
            Status::Skipped
        } else {
            result["msg"] = json!("All items completed");
            if any_changed {
                Status::Changed
            } else {
                Status::Ok
            }
        };
        Run {
            status,
            result,
            delegate: None,
            facts,
            facts_host,
        }
    }

    /// The skip of a task without a loop whose `when` is false on this host.
    fn skipped_by_when(&self, task: &Task, ctx: &Context) -> Option<Run> {
        if task.loop_.is_some() {
            return None;
        }
        task.when
            .iter()
            .find(|c| matches!(self.templater.eval_bool(c, ctx), Ok(false)))
            .map(|c| Run::skipped(c))
    }

    /// One execution: `when`, delegation, arguments, the module with retries.
    async fn run_item(
        &self,
        env: &PlayEnv<'_>,
        task: &Task,
        host: &str,
        ctx: &Context,
        batch: Option<&AnsibleBatch>,
    ) -> Run {
        for condition in &task.when {
            match self.templater.eval_bool(condition, ctx) {
                Ok(true) => {}
                Ok(false) => return Run::skipped(condition),
                Err(e) => return Run::failed(format!("The conditional check '{condition}' failed: {e}")),
            }
        }
        let delegate = match self.delegate_in(task, ctx).transpose() {
            Ok(delegate) => delegate,
            Err(e) => return Run::failed(format!("cannot template delegate_to: {e}")),
        };
        let mut run = match batch {
            Some(batch) => {
                self.execute_via_ansible(env, task, host, delegate.as_deref(), ctx, batch)
                    .await
            }
            None => self.execute(env, task, host, delegate.as_deref(), ctx).await,
        };
        run.delegate = delegate.clone();
        if task.delegate_facts {
            run.facts_host = delegate;
        }
        run
    }

    async fn execute(
        &self,
        env: &PlayEnv<'_>,
        task: &Task,
        host: &str,
        delegate: Option<&str>,
        ctx: &Context,
    ) -> Run {
        let Some(module) = registry().get(&task.module) else {
            return Run::failed(format!("no module named `{}`", task.module));
        };
        let args = match self.render_args(task, ctx) {
            Ok(args) => args,
            Err(e) => return Run::failed(e),
        };
        let target = delegate.unwrap_or(host);
        let connection = task.connection.as_deref().or(env.play.connection.as_deref());
        let remote = match self.remote_for(task, ctx) {
            Ok(remote) => remote,
            Err(e) => return Run::failed(e),
        };
        let target_host = if module.controller_only() {
            self.local.clone()
        } else {
            match self.connect(target, connection, &remote).await {
                Ok(h) => h,
                Err(e) => return Run::unreachable(e.to_string()),
            }
        };
        let run_as = self.become_for(env, task, ctx);
        if let Some(problem) = run_as.as_ref().and_then(crate::host::become_problem) {
            return Run::failed(problem);
        }
        let environment =
            match super::environment::merge_environment(&self.templater, &task.run.environment, ctx) {
                Ok(vars) => vars,
                Err(e) => return Run::failed(e),
            };
        let about = CommandContext::new(host, delegate, &task.display_name(), task.no_log);
        let target_host = audited(self.opts.audit.as_ref(), target_host, about);
        let target_host = crate::host::env::with_environment(target_host, &environment);
        let background = match self.async_for(task, ctx) {
            Ok(background) => background,
            Err(e) => return Run::failed(e),
        };
        let started = Arc::new(std::sync::Mutex::new(None));
        let target_host = match background {
            Some(how)
                if how.poll == 0
                    && !matches!(crate::modules::canonical_name(&task.module), "shell" | "command") =>
            {
                return Run::failed(format!(
                    "`poll: 0` (fire and forget) runs `shell` and `command` tasks in zdd, not `{}`",
                    task.module
                ))
            }
            Some(how) => crate::host::background::in_background(target_host, how, started.clone()),
            None => target_host,
        };
        let timeout = match self.task_timeout(task, ctx) {
            Ok(timeout) => timeout,
            Err(e) => return Run::failed(e),
        };
        let lb_changes = module.lb_changes(&args);
        let site = Site {
            host,
            target,
            connection,
            remote: &remote,
            run_as: run_as.as_ref(),
        };
        if !lb_changes.is_empty() {
            self.before_lb_task(&lb_changes, &site).await;
        }
        let action = Action::Native {
            module,
            host: target_host.as_ref(),
            run_as: run_as.as_ref(),
        };
        let run = self.attempts(&action, task, host, ctx, &args, timeout).await;
        let run = match background {
            Some(how) => with_job(run, how, started.lock().unwrap_or_else(|e| e.into_inner()).take()),
            None => run,
        };
        // Whatever the task's result: a drain that timed out, a socket gone after `disable`.
        if !lb_changes.is_empty() && run.status != Status::Unreachable {
            self.after_lb_task(&lb_changes, &site).await;
        }
        run
    }

    /// The task's arguments with `module_defaults` filled in, rendered, `omit` dropped.
    fn render_args(&self, task: &Task, ctx: &Context) -> Result<Value, String> {
        // `module_defaults` written as a template: rendered now (mappings were filled in
        // when the playbook was read).
        let mut raw_args = std::borrow::Cow::Borrowed(&task.args);
        if let Some(Value::String(template)) =
            crate::parse::module_defaults_for(&task.run.module_defaults, &task.module)
        {
            match self.templater.render_value(&json!(template), ctx) {
                Ok(defaults @ Value::Object(_)) => crate::parse::fill_defaults(raw_args.to_mut(), &defaults),
                Ok(other) => {
                    return Err(format!(
                        "module_defaults for `{}` must be a dictionary, got {other}",
                        task.module
                    ))
                }
                Err(e) => return Err(undefined_message(&e)),
            }
        }
        match self.templater.render_value(&raw_args, ctx) {
            Ok(args) => Ok(drop_omitted(args)),
            Err(e) => Err(undefined_message(&e)),
        }
    }

    /// A module zdd does not have, for one host: everything the host's part of the
    /// invocation needs (rendered arguments, connection, become, environment, check and
    /// diff mode), handed to the batch, with the retries and conditions of any task.
    async fn execute_via_ansible(
        &self,
        env: &PlayEnv<'_>,
        task: &Task,
        host: &str,
        delegate: Option<&str>,
        ctx: &Context,
        batch: &AnsibleBatch,
    ) -> Run {
        let args = match self.render_args(task, ctx) {
            Ok(args) => args,
            Err(e) => return Run::failed(e),
        };
        if task.async_.is_some() {
            return Run::failed(format!(
                "`async` is not supported for `{}`, which zdd runs through Ansible",
                task.module
            ));
        }
        let target = delegate.unwrap_or(host);
        let connection = task.connection.as_deref().or(env.play.connection.as_deref());
        let remote = match self.remote_for(task, ctx) {
            Ok(remote) => remote,
            Err(e) => return Run::failed(e),
        };
        let spec = match self.spec_for(target) {
            Ok(spec) => self.reach(spec, &remote),
            Err(d) => return Run::unreachable(d.message),
        };
        let spec = crate::host::ConnectSpec {
            local: spec.local || connection == Some("local"),
            ..spec
        };
        let run_as = self.become_for(env, task, ctx);
        if let Some(problem) = run_as.as_ref().and_then(crate::host::become_problem) {
            return Run::failed(problem);
        }
        let environment =
            match super::environment::merge_environment(&self.templater, &task.run.environment, ctx) {
                Ok(vars) => vars,
                Err(e) => return Run::failed(e),
            };
        let mut entry = HostEntry::new(
            host,
            &spec,
            run_as.as_ref(),
            &args,
            &environment,
            via_ansible::Modes {
                check: task.check_mode.unwrap_or(self.opts.check_mode),
                diff: self.opts.diff,
                no_log: task.no_log,
            },
        );
        // The host's interpreter, or the one Ansible found there the first time (a fact,
        // as in Ansible): later invocations skip the discovery round trip.
        let python = ["ansible_python_interpreter", "discovered_interpreter_python"]
            .iter()
            .find_map(|name| ctx.get(name));
        if let Some(python) = python {
            if let Ok(python) = self.templater.render_value(python, ctx) {
                entry.vars.insert("ansible_python_interpreter".into(), python);
            }
        }
        self.attempts(&Action::ViaAnsible { batch, entry }, task, host, ctx, &args, None)
            .await
    }

    /// The module, run again while `until` does not hold (Ansible's retries and delay).
    async fn attempts(
        &self,
        action: &Action<'_>,
        task: &Task,
        host: &str,
        ctx: &Context,
        args: &Value,
        timeout: Option<u64>,
    ) -> Run {
        let (retries, delay) = match self.retry_policy(task, ctx) {
            Ok(policy) => policy,
            Err(e) => return Run::failed(e),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let running = async {
                match action {
                    Action::Native { module, host, run_as } => {
                        let mctx = ModuleCtx {
                            host: *host,
                            run_as: *run_as,
                            templater: &self.templater,
                            vars: ctx,
                            playbook_dir: task.playbook_dir(&self.playbook.dir),
                            role_path: task.role().map(|r| r.path.as_path()),
                            task_dir: task.loc.file.parent(),
                            check_mode: task.check_mode.unwrap_or(self.opts.check_mode),
                            diff: self.opts.diff,
                        };
                        module.run(&mctx, args).await
                    }
                    Action::ViaAnsible { batch, entry } => match batch.submit(entry.clone()).await {
                        Ok(reported) => via_ansible::module_result(reported),
                        Err(why) => Ok(ModuleResult::failed(why)),
                    },
                }
            };
            let outcome = match timeout {
                // As Ansible: each attempt has `timeout` seconds, and what it started on the
                // host is left running (Ansible does not end it either).
                Some(seconds) => match tokio::time::timeout(Duration::from_secs(seconds), running).await {
                    Ok(outcome) => outcome,
                    Err(_) => return Run::timed_out(seconds),
                },
                None => running.await,
            }
            .map(|result| self.apply_inventory_change(host, result));
            let mut run = match outcome {
                Ok(result) => Run {
                    status: Status::Ok,
                    result: Value::Null,
                    delegate: None,
                    facts: result.facts.clone(),
                    facts_host: None,
                }
                .with_result(result_json(result)),
                Err(HostError::Unreachable(msg)) => return Run::unreachable(msg),
                // Ansible's words for a wrong become password.
                Err(HostError::Become(why)) if crate::host::is_wrong_password(&why) => {
                    Run::failed("Task failed: Incorrect sudo password".to_owned())
                }
                Err(e @ HostError::Become(_)) => {
                    Run::failed(format!("Missing sudo password or no sudo rights: {e}"))
                }
                Err(e @ HostError::Timeout(_)) => Run::failed(e.to_string()),
            };
            if retries > 1 {
                run.result["attempts"] = json!(attempt);
            }
            let result_ctx = match &task.register {
                Some(name) => ctx.with_var(name, run.result.clone()),
                None => ctx.clone(),
            };
            // As Ansible: a result the module skipped (a command in check mode) is not
            // judged by `changed_when`/`failed_when`.
            let skipped = run.result.get("skipped").and_then(Value::as_bool) == Some(true);
            if !skipped {
                if let Err(e) = self.apply_conditions(task, &mut run, &result_ctx) {
                    return Run::failed(e);
                }
            }
            let Some(until) = &task.until else {
                return run.settle();
            };
            let result_ctx = match &task.register {
                Some(name) => ctx.with_var(name, run.result.clone()),
                None => ctx.clone(),
            };
            match self.templater.eval_bool(until, &result_ctx) {
                Ok(true) => return run.settle(),
                Ok(false) if attempt < retries => {
                    self.events.emit(Event::Retry {
                        host: host.to_owned(),
                        task: task.display_name().to_owned(),
                        retries_left: retries - attempt,
                        result: run.result.clone(),
                    });
                    tokio::time::sleep(delay).await;
                }
                Ok(false) => {
                    run.result["failed"] = json!(true);
                    // Ansible reports one attempt fewer than it made once retries run out.
                    run.result["attempts"] = json!(attempt - 1);
                    return run.settle();
                }
                Err(e) => return Run::failed(format!("The conditional check '{until}' failed: {e}")),
            }
        }
    }

    /// `async` and `poll`: how the task runs in the background; `None` without `async`
    /// (or with `async: 0`). `poll` defaults to Ansible's 15 seconds.
    fn async_for(
        &self,
        task: &Task,
        ctx: &Context,
    ) -> Result<Option<crate::host::background::Async>, String> {
        let number = |raw: &Option<Value>, what: &str| -> Result<Option<u64>, String> {
            let Some(raw) = raw else { return Ok(None) };
            let value = self
                .templater
                .render_value(raw, ctx)
                .map_err(|e| format!("{what}: {e}"))?;
            match &value {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .map(Some)
            .ok_or_else(|| format!("{what} must be a whole number of seconds, got {value}"))
        };
        let limit = number(&task.async_, "async")?.unwrap_or(0);
        let poll = number(&task.poll, "poll")?.unwrap_or(15);
        Ok((limit > 0).then_some(crate::host::background::Async { limit, poll }))
    }

    /// `timeout` (the task's, its block's or play's): seconds each attempt may take; 0 or
    /// none is no limit.
    fn task_timeout(&self, task: &Task, ctx: &Context) -> Result<Option<u64>, String> {
        let Some(raw) = &task.run.timeout else {
            return Ok(None);
        };
        let value = self
            .templater
            .render_value(raw, ctx)
            .map_err(|e| format!("timeout: {e}"))?;
        let seconds = match &value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            Value::Null => Some(0.0),
            _ => None,
        }
        .filter(|s| *s >= 0.0)
        .ok_or_else(|| format!("timeout must be a number of seconds, got {value}"))?;
        Ok((seconds as u64 > 0).then_some(seconds as u64))
    }

    /// Ansible's `until` policy: `retries` (default 3) more attempts after the first, `delay`
    /// seconds (default 5) apart. Without `until`, one attempt.
    fn retry_policy(&self, task: &Task, ctx: &Context) -> Result<(u32, Duration), String> {
        if task.until.is_none() {
            return Ok((1, Duration::ZERO));
        }
        let number = |v: &Option<Value>, default: f64, what: &str| -> Result<f64, String> {
            let Some(v) = v else { return Ok(default) };
            let v = self
                .templater
                .render_value(v, ctx)
                .map_err(|e| format!("{what}: {e}"))?;
            match &v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .ok_or_else(|| format!("{what} must be a number, got {v}"))
        };
        let retries = number(&task.retries, 3.0, "retries")?;
        let retries = if retries <= 0.0 { 1 } else { retries as u32 + 1 };
        let delay = number(&task.delay, 5.0, "delay")?.max(0.0);
        Ok((retries, Duration::from_secs_f64(delay)))
    }

    /// `changed_when` and `failed_when`, evaluated with the registered result in scope.
    fn apply_conditions(&self, task: &Task, run: &mut Run, ctx: &Context) -> Result<(), String> {
        let all = |conditions: &[String]| -> Result<bool, String> {
            for c in conditions {
                let ok = self
                    .templater
                    .eval_bool(c, ctx)
                    .map_err(|e| format!("The conditional check '{c}' failed: {e}"))?;
                if !ok {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        if let Some(conditions) = &task.changed_when {
            run.result["changed"] = json!(all(conditions)?);
        }
        if let Some(conditions) = &task.failed_when {
            let failed = all(conditions)?;
            run.result["failed"] = json!(failed);
            if failed && run.result.get("msg").is_none() {
                run.result["msg"] = json!("failed_when condition was met");
            }
        }
        Ok(())
    }

    fn ignore_errors(&self, task: &Task, ctx: &Context) -> bool {
        match &task.ignore_errors {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => self.templater.eval_bool(s, ctx).unwrap_or(false),
            Some(other) => crate::vars::truthy(other),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn host_result(
        &self,
        task: &Task,
        host: &str,
        run: &Run,
        item: Option<String>,
        looped: bool,
        ignored: bool,
        started: Instant,
    ) -> HostResult {
        let delegate_address = run.delegate.as_ref().and_then(|d| {
            let spec = self
                .specs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(d)
                .cloned();
            spec.map(|s| s.address).filter(|a| a != d)
        });
        let mut result = HostResult {
            host: host.to_owned(),
            delegate: run.delegate.clone(),
            delegate_address,
            task: task.display_name().to_owned(),
            status: run.status,
            changed: run.changed(),
            item,
            looped,
            ignored,
            rc: run.result.get("rc").and_then(Value::as_i64).map(|rc| rc as i32),
            duration_ms: started.elapsed().as_millis() as u64,
            show_result: registry().get(&task.module).is_some_and(|m| m.shows_result())
                && run.status == Status::Ok,
            result: run.result.clone(),
        };
        // As Ansible: a `no_log` loop says which item by nothing but that it was hidden.
        if task.no_log {
            result.censor();
        }
        result
    }
}

impl Run {
    fn with_result(mut self, result: Value) -> Run {
        self.result = result;
        self
    }

    /// The status follows from the final `failed`/`changed` of the result.
    fn settle(mut self) -> Run {
        let failed = self
            .result
            .get("failed")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let skipped = self
            .result
            .get("skipped")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        self.status = if failed {
            Status::Failed
        } else if skipped {
            Status::Skipped
        } else if self.changed() {
            Status::Changed
        } else {
            Status::Ok
        };
        self
    }
}

/// A background task's result as Ansible shapes it: the job's id beside the command's
/// result (`poll` > 0), or only the id (`poll: 0`); a job past its `async` limit fails
/// with "Timeout exceeded".
fn with_job(
    mut run: Run,
    how: crate::host::background::Async,
    job: Option<crate::host::background::Started>,
) -> Run {
    let Some(job) = job else {
        return run;
    };
    let timed_out = HostError::Timeout(Duration::from_secs(how.limit)).to_string();
    if run.result.get("msg").and_then(Value::as_str) == Some(timed_out.as_str()) {
        run.result["msg"] = json!("Timeout exceeded");
    } else if how.poll == 0 && run.status != Status::Failed {
        run.result = json!({"changed": true, "failed": false, "finished": false, "started": true});
        run.status = Status::Changed;
    }
    run.result["ansible_job_id"] = json!(job.jid);
    run.result["results_file"] = json!(job.results_file);
    run.result["started"] = json!(true);
    if how.poll > 0 {
        run.result["finished"] = json!(true);
    }
    run
}

/// A module's result as Ansible registers it: `changed` and `failed` always present,
/// `stdout_lines`/`stderr_lines` beside `stdout`/`stderr`, facts under `ansible_facts`.
fn result_json(r: ModuleResult) -> Value {
    let mut map = Map::new();
    map.insert("changed".into(), json!(r.changed));
    map.insert("failed".into(), json!(r.failed));
    if let Some(msg) = r.msg {
        map.insert("msg".into(), json!(msg));
    }
    if let Some(rc) = r.rc {
        map.insert("rc".into(), json!(rc));
    }
    for (key, text) in [("stdout", r.stdout), ("stderr", r.stderr)] {
        if let Some(text) = text {
            let lines: Vec<&str> = text.lines().collect();
            map.insert(format!("{key}_lines"), json!(lines));
            map.insert(key.into(), json!(text.strip_suffix('\n').unwrap_or(&text)));
        }
    }
    if !r.facts.is_empty() {
        // Facts that are only `ansible_facts` (`service_facts`, `package_facts`) are
        // registered as that mapping, as Ansible registers them.
        let registered = match r.facts.get("ansible_facts") {
            Some(facts) if r.facts.len() == 1 => facts.clone(),
            _ => json!(r.facts),
        };
        map.insert("ansible_facts".into(), registered);
    }
    for (k, v) in r.extra {
        map.entry(k).or_insert(v);
    }
    Value::Object(map)
}

/// The items of a loop: `loop` takes its list as is; `with_items` flattens one level.
pub(super) fn loop_items(templater: &Templater, lp: &Loop, ctx: &Context) -> Result<Vec<Value>, String> {
    let (raw, flatten) = match lp {
        Loop::WithItems(v) => (v, true),
        Loop::Loop(v) => (v, false),
        other => return super::loops::other_loop_items(templater, other, ctx),
    };
    let rendered = templater
        .render_value(raw, ctx)
        .map_err(|e| undefined_message(&e))?;
    let list = match rendered {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other if flatten => vec![other],
        other => {
            return Err(format!(
                "Invalid data passed to 'loop', it requires a list, got this instead: {other}"
            ))
        }
    };
    if !flatten {
        return Ok(list);
    }
    Ok(list
        .into_iter()
        .flat_map(|item| match item {
            Value::Array(inner) => inner,
            other => vec![other],
        })
        .collect())
}

/// How an item is shown in `(item=...)`.
/// A loop item as Ansible's callback prints it in `(item=...)`: Python's `str()`, so a
/// dict reads `{'name': 'blog'}` and a boolean `True`.
pub(super) fn item_label(item: &Value) -> String {
    match item {
        Value::String(s) => s.clone(),
        other => crate::template::py_str(&minijinja::Value::from(minijinja::value::Serde(other))),
    }
}

/// Arguments rendered to `{{ omit }}` are left out, as in Ansible.
fn drop_omitted(args: Value) -> Value {
    match args {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| v.as_str() != Some(OMIT))
                .collect(),
        ),
        other => other,
    }
}

pub(super) fn undefined_message(e: &TemplateError) -> String {
    match &e.undefined {
        Some(name) => {
            format!("The task includes an option with an undefined variable. '{name}' is undefined. {e}")
        }
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_labels_print_as_python_does() {
        use serde_json::json;
        assert_eq!(item_label(&json!("web")), "web");
        assert_eq!(
            item_label(&json!({"name": "blog", "port": 80})),
            "{'name': 'blog', 'port': 80}"
        );
        assert_eq!(item_label(&json!(["a", true, null])), "['a', True, None]");
        assert_eq!(item_label(&json!(false)), "False");
    }

    #[test]
    fn result_json_adds_lines_and_keeps_module_fields() {
        let mut r = ModuleResult::changed(true);
        r.rc = Some(0);
        r.stdout = Some("a\nb\n".into());
        r.extra.insert("cmd".into(), json!("echo"));
        let v = result_json(r);
        assert_eq!(v["stdout"], json!("a\nb"));
        assert_eq!(v["stdout_lines"], json!(["a", "b"]));
        assert_eq!(v["failed"], json!(false));
        assert_eq!(v["cmd"], json!("echo"));
    }

    #[test]
    fn omitted_arguments_are_dropped() {
        let v = drop_omitted(json!({"a": 1, "mode": OMIT}));
        assert_eq!(v, json!({"a": 1}));
    }

    #[test]
    fn settle_reads_failed_then_changed() {
        let run = Run::from_json(Status::Ok, json!({"changed": true, "failed": false})).settle();
        assert_eq!(run.status, Status::Changed);
        let run = Run::from_json(Status::Ok, json!({"changed": true, "failed": true})).settle();
        assert_eq!(run.status, Status::Failed);
    }
}
