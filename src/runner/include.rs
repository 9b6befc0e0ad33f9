//! `include_tasks` at run time, as Ansible's linear strategy runs it: each host templates
//! the file name (per loop item), hosts that include the same file with the same item share
//! one instance (Ansible's `IncludedFile`), each instance is loaded and announced
//! (`included: FILE for HOSTS`), then the instances' tasks run in turn for the hosts that
//! included them while the other hosts wait.

use super::rules::{BatchState, HostOutcome};
use super::task::{loop_items, undefined_message};
use super::{Flow, PlayEnv, Runner};
use crate::events::{Event, HostResult, Status};
use crate::playbook::{Include, Section, Task};
use crate::vars::{Context, VarMap};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// One file included with one loop item, and the hosts that included it.
struct Instance {
    path: PathBuf,
    /// The file name as rendered, for the failure result.
    written: String,
    /// The loop variable (and index) the tasks see, empty without a loop.
    item_vars: VarMap,
    label: Option<String>,
    hosts: Vec<String>,
}

/// What one host's include came to, item by item.
enum Inclusion {
    Skipped,
    Failed,
    Included,
}

impl Runner {
    /// Run an `include_tasks` (or a handler that is one) for the hosts in scope, then the
    /// tasks it loaded. Failures follow the rules of the list it stands in (`nested`).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run_include(
        &self,
        env: &PlayEnv<'_>,
        task: &Task,
        include: &Include,
        state: &mut BatchState,
        active: &mut Vec<String>,
        section: Section,
        nested: bool,
    ) -> Option<Flow> {
        let handler = section == Section::Handlers;
        self.events.emit(Event::TaskStart {
            name: task.display_name().to_owned(),
            section,
            handler,
            via_ansible: false,
        });
        let shared = self.shared_vars(env, &state.batch);
        let mut instances: Vec<Instance> = Vec::new();
        let mut outcomes = Vec::new();
        for host in state.in_scope(active) {
            let started = Instant::now();
            let ctx = self.context(env, &host, task, &shared);
            let inclusion =
                self.resolve_include(task, include, &host, &ctx, &mut instances, started, handler);
            let status = match inclusion {
                Inclusion::Skipped => Status::Skipped,
                Inclusion::Failed => Status::Failed,
                Inclusion::Included => Status::Ok,
            };
            if status == Status::Skipped {
                self.count(&host, status, false, false);
            }
            outcomes.push(HostOutcome {
                failed: status == Status::Failed,
                host,
                status,
                changed: false,
            });
        }
        let mut loaded = Vec::new();
        for instance in instances {
            let chain = task.origin.include(task.loc.clone(), &instance.path);
            let load = match &include.role {
                Some(role) => Ok(role.tasks.clone()),
                None => crate::parse::load_tasks_file(&instance.path, &chain, handler),
            };
            // Ansible announces an included role by its name.
            let file = match &include.role {
                Some(role) => role.role.name.clone(),
                None => instance.path.display().to_string(),
            };
            match load {
                Ok(tasks) => {
                    for h in &instance.hosts {
                        self.count(h, Status::Ok, false, false);
                    }
                    self.events.emit(Event::Included {
                        task: task.display_name().to_owned(),
                        file,
                        hosts: instance.hosts.clone(),
                        item: instance.label.clone(),
                    });
                    if let Some(role) = include.role.as_ref().filter(|r| r.public) {
                        self.make_public(env, &role.role, &instance.hosts);
                    }
                    loaded.push((instance, tasks));
                }
                Err(e) => {
                    let reason = load_failure(&instance.path, &e);
                    let result = json!({"changed": false, "include": instance.written, "reason": reason});
                    for h in &instance.hosts {
                        self.include_failed(task, h, result.clone(), None, Instant::now());
                        if let Some(o) = outcomes.iter_mut().find(|o| &o.host == h) {
                            o.status = Status::Failed;
                            o.failed = true;
                        }
                    }
                }
            }
        }
        if nested {
            state.record_in_block(active, &[], &outcomes);
        } else if let Some(flow) = self.apply_outcomes(env, state, active, task, outcomes) {
            return Some(flow);
        }
        for (instance, mut tasks) in loaded {
            let hosts: Vec<String> = state
                .in_scope(active)
                .into_iter()
                .filter(|h| instance.hosts.contains(h))
                .collect();
            if hosts.is_empty() {
                continue;
            }
            let mut params = task.include_params.as_deref().cloned().unwrap_or_default();
            params.extend(include.vars.clone());
            params.extend(instance.item_vars);
            let params = Arc::new(params);
            for t in &mut tasks {
                if let Some(apply) = &include.apply {
                    crate::parse::inherit(t, apply);
                }
                crate::parse::inherit(t, &include.parents);
                set_include_params(t, &params);
            }
            let outer = state.scope.replace(hosts);
            let flow = self.run_list(env, &tasks, state, active, section, nested).await;
            state.scope = outer;
            if flow.is_some() {
                return flow;
            }
        }
        None
    }

    /// Template the include's file for one host (per loop item, under `when`), and add
    /// the host to the instances it includes. Skips and failures are reported here.
    #[allow(clippy::too_many_arguments)]
    fn resolve_include(
        &self,
        task: &Task,
        include: &Include,
        host: &str,
        ctx: &Context,
        instances: &mut Vec<Instance>,
        started: Instant,
        handlers: bool,
    ) -> Inclusion {
        let written = match &include.role {
            Some(role) => Some(role.role.path.display().to_string()),
            None => crate::modules::include_tasks::file_of(&task.args),
        };
        let Some(written) = written else {
            let result = json!({"failed": true, "msg": "No file specified for include_tasks"});
            self.include_failed(task, host, result, None, started);
            return Inclusion::Failed;
        };
        let Some(lp) = &task.loop_ else {
            return match self.include_one(
                task,
                include,
                host,
                ctx,
                &written,
                VarMap::new(),
                None,
                instances,
                handlers,
            ) {
                Ok(true) => Inclusion::Included,
                Ok(false) => {
                    self.include_skipped(task, host, None, false, started);
                    Inclusion::Skipped
                }
                Err(result) => {
                    self.include_failed(task, host, result, None, started);
                    Inclusion::Failed
                }
            };
        };
        let items = match loop_items(&self.templater, lp, ctx) {
            Ok(items) => items,
            Err(msg) => {
                self.include_failed(task, host, json!({"failed": true, "msg": msg}), None, started);
                return Inclusion::Failed;
            }
        };
        let control = &task.loop_control;
        let (mut any_included, mut any_failed) = (false, false);
        for (index, item) in items.iter().enumerate() {
            let mut item_vars = VarMap::from([
                (control.loop_var.clone(), item.clone()),
                ("ansible_loop_var".into(), json!(control.loop_var)),
            ]);
            if let Some(index_var) = &control.index_var {
                item_vars.insert(index_var.clone(), json!(index));
                item_vars.insert("ansible_index_var".into(), json!(index_var));
            }
            let item_ctx = ctx.with(item_vars.clone());
            let label = match &control.label {
                Some(label) => self
                    .templater
                    .render_str(label, &item_ctx)
                    .unwrap_or_else(|_| label.clone()),
                None => super::task::item_label(item),
            };
            match self.include_one(
                task,
                include,
                host,
                &item_ctx,
                &written,
                item_vars,
                Some(label.clone()),
                instances,
                handlers,
            ) {
                Ok(true) => any_included = true,
                Ok(false) => self.include_skipped(task, host, Some(label), false, started),
                Err(result) => {
                    any_failed = true;
                    self.include_failed(task, host, result, Some(label), started);
                }
            }
        }
        if any_failed {
            let result = json!({"failed": true, "msg": "One or more items failed"});
            self.include_failed(task, host, result, None, started);
            Inclusion::Failed
        } else if any_included {
            Inclusion::Included
        } else {
            self.include_skipped(task, host, None, true, started);
            Inclusion::Skipped
        }
    }

    /// One execution of the include: `Ok(false)` when its `when` is false, `Err(result)`
    /// when a condition or the file name cannot be templated.
    #[allow(clippy::too_many_arguments)]
    fn include_one(
        &self,
        task: &Task,
        include: &Include,
        host: &str,
        ctx: &Context,
        written: &str,
        item_vars: VarMap,
        label: Option<String>,
        instances: &mut Vec<Instance>,
        handlers: bool,
    ) -> Result<bool, Value> {
        for condition in &task.when {
            match self.templater.eval_bool(condition, ctx) {
                Ok(true) => {}
                Ok(false) => return Ok(false),
                Err(e) => {
                    let msg = format!("The conditional check '{condition}' failed: {e}");
                    return Err(json!({"failed": true, "msg": msg}));
                }
            }
        }
        let (name, path) = match &include.role {
            Some(role) => (written.to_owned(), role.role.path.clone()),
            None => {
                let name = self
                    .templater
                    .render_str(written, ctx)
                    .map_err(|e| json!({"failed": true, "msg": undefined_message(&e)}))?;
                let name = name.trim().to_owned();
                let path = include_path(task, &name, handlers);
                (name, path)
            }
        };
        // A host that includes the same file with the same item twice gets a second
        // instance, as in Ansible.
        let same =
            |i: &Instance| i.path == path && i.item_vars == item_vars && !i.hosts.iter().any(|h| h == host);
        match instances.iter_mut().find(|i| same(i)) {
            Some(instance) => instance.hosts.push(host.to_owned()),
            None => instances.push(Instance {
                path,
                written: name,
                item_vars,
                label,
                hosts: vec![host.to_owned()],
            }),
        }
        Ok(true)
    }

    fn include_skipped(&self, task: &Task, host: &str, item: Option<String>, looped: bool, started: Instant) {
        let result =
            json!({"changed": false, "skipped": true, "skip_reason": "Conditional result was False"});
        self.events.emit(Event::HostResult(include_result(
            task,
            host,
            Status::Skipped,
            result,
            item,
            looped,
            started,
        )));
    }

    /// Report a failure; a whole-include one (no item) also counts and is what a
    /// `rescue` sees as `ansible_failed_result`.
    fn include_failed(&self, task: &Task, host: &str, result: Value, item: Option<String>, started: Instant) {
        if item.is_none() {
            self.count(host, Status::Failed, false, false);
            let failed_task = json!({"name": task.name.clone().unwrap_or_default(), "action": task.module});
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.entry(host.to_owned()).or_default().last_failure = Some((failed_task, result.clone()));
        }
        self.events.emit(Event::HostResult(include_result(
            task,
            host,
            Status::Failed,
            result,
            item,
            false,
            started,
        )));
    }
}

fn include_result(
    task: &Task,
    host: &str,
    status: Status,
    result: Value,
    item: Option<String>,
    looped: bool,
    started: Instant,
) -> HostResult {
    HostResult {
        host: host.to_owned(),
        delegate: None,
        delegate_address: None,
        task: task.display_name().to_owned(),
        status,
        changed: false,
        item,
        looped,
        ignored: false,
        rc: None,
        duration_ms: started.elapsed().as_millis() as u64,
        result,
        show_result: false,
    }
}

/// Where an included file is, as Ansible looks for it (beside the file that names it, in
/// its role, then in the playbook's directory); a file found nowhere is named as it would
/// be in the playbook's directory.
fn include_path(task: &Task, name: &str, handlers: bool) -> PathBuf {
    match crate::parse::resolve_tasks_file(name, &task.origin, handlers) {
        Ok(path) => absolute(path),
        Err(looked) => absolute(looked.last().cloned().unwrap_or_else(|| PathBuf::from(name))),
    }
}

fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

/// Ansible's reason for an included file it cannot load.
fn load_failure(path: &Path, e: &crate::error::Error) -> String {
    if !path.is_file() {
        let p = path.display();
        return format!(
            "Could not find or access '{p}' on the Ansible Controller: Unable to retrieve file contents.\n\
             Could not find or access '{p}' on the Ansible Controller.\n\
             If you are using a module and expect the file to exist on the remote, see the remote_src option: \
             [Errno 2] No such file or directory: '{p}'"
        );
    }
    e.to_string().trim_end().to_owned()
}

/// The include's variables for every task it loaded, blocks' tasks too.
fn set_include_params(task: &mut Task, params: &Arc<VarMap>) {
    task.include_params = Some(params.clone());
    if let Some(block) = &mut task.block {
        for t in block
            .tasks
            .iter_mut()
            .chain(&mut block.rescue)
            .chain(&mut block.always)
        {
            set_include_params(t, params);
        }
    }
}

impl Runner {
    /// A `public: true` role ran on `hosts`: its defaults and `vars/` are the play's there.
    fn make_public(&self, env: &PlayEnv<'_>, role: &crate::playbook::RoleRef, hosts: &[String]) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for host in hosts {
            let s = state.entry(host.clone()).or_default();
            let mut public = s
                .public_roles
                .take()
                .filter(|p| p.play.as_ref() == Some(&env.play.loc))
                .unwrap_or_default();
            public.play = Some(env.play.loc.clone());
            Arc::make_mut(&mut public.defaults).extend(role.exported_defaults.clone());
            Arc::make_mut(&mut public.vars).extend(role.exported_vars.clone());
            s.public_roles = Some(public);
        }
    }
}
