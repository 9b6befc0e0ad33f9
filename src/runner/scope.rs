//! What a task sees and where it runs: the variables of a host (inventory, play, task,
//! facts, magic variables, extra vars, in Ansible's order of precedence), `become`, and the
//! connection to the host or its delegate.

use super::{PlayEnv, Runner, OMIT};
use crate::error::Diagnostic;
use crate::host::{Become, ConnectDefaults, ConnectSpec, Host, HostError};
use crate::playbook::Task;
use crate::template::TemplateError;
use crate::vars::{Context, VarMap};
use serde_json::{json, Value};
use std::sync::Arc;

impl Runner {
    /// How to reach a host: its inventory connection variables, templated. A name that is
    /// not in the inventory is reached by that name; `localhost` then is this machine.
    pub(super) fn spec_for(&self, name: &str) -> Result<ConnectSpec, Diagnostic> {
        if let Some(spec) = self.specs.lock().unwrap_or_else(|e| e.into_inner()).get(name) {
            return Ok(spec.clone());
        }
        let inv = self.inv();
        let spec = match inv.vars.get(name) {
            Some(vars) => {
                let mut ctx = Context::new();
                ctx.push(vars.clone());
                ctx.push(self.extra_vars.clone());
                let mut conn_vars = VarMap::new();
                for key in ctx.keys() {
                    if key.starts_with("ansible_") {
                        let raw = ctx.get(key).cloned().unwrap_or(Value::Null);
                        let value = self.templater.render_value(&raw, &ctx).map_err(|e| {
                            Diagnostic::new(format!("host `{name}`: cannot template `{key}`: {e}"))
                        })?;
                        conn_vars.insert(key.to_owned(), value);
                    }
                }
                let loc = inv.inventory.hosts.get(name).and_then(|h| h.loc.clone());
                ConnectSpec::from_vars(name, &conn_vars, &self.opts.connection).map_err(|e| {
                    Diagnostic::new(format!("host `{name}`: {e}"))
                        .at_opt(loc)
                        .hint("fix the host's connection variables in the inventory")
                })?
            }
            None if matches!(name, "localhost" | "127.0.0.1" | "::1") => ConnectSpec {
                local: true,
                ..ConnectSpec::from_vars(name, &VarMap::new(), &self.opts.connection)
                    .map_err(Diagnostic::new)?
            },
            None => ConnectSpec::from_vars(name, &VarMap::new(), &self.opts.connection)
                .map_err(Diagnostic::new)?,
        };
        // `-k`'s password where the inventory gives none (its `ansible_password` wins).
        let spec = ConnectSpec {
            password: spec.password.or_else(|| self.opts.access.ssh_password.clone()),
            ..spec
        };
        self.specs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), spec.clone());
        Ok(spec)
    }

    /// The connection a task uses for `name` (the inventory host or its delegate), as the
    /// task's `remote_user`/`port` say where the inventory does not.
    pub(super) async fn connect(
        &self,
        name: &str,
        connection: Option<&str>,
        remote: &ConnectDefaults,
    ) -> Result<Arc<dyn Host>, HostError> {
        if connection == Some("local") {
            return Ok(self.local.clone());
        }
        let spec = self
            .spec_for(name)
            .map_err(|d| HostError::Unreachable(d.message))?;
        if spec.local {
            return Ok(self.local.clone());
        }
        self.conns.get(&self.reach(spec, remote)).await
    }

    /// `spec` as a task reaches it: the inventory's `ansible_user`, else the task's
    /// `remote_user`, else `-u`/`remote_user` of the configuration (Ansible's order).
    pub(super) fn reach(&self, spec: ConnectSpec, remote: &ConnectDefaults) -> ConnectSpec {
        spec.with_defaults(remote).with_defaults(&ConnectDefaults {
            user: self.opts.connection.user.clone(),
            port: None,
        })
    }

    /// A task's `remote_user` and `port` (its block's and play's merged in), rendered.
    pub(super) fn remote_for(&self, task: &Task, ctx: &Context) -> Result<ConnectDefaults, String> {
        let render = |what: &str, raw: &Option<String>| -> Result<Option<String>, String> {
            let Some(raw) = raw else { return Ok(None) };
            let text = self
                .templater
                .render_str(raw, ctx)
                .map_err(|e| format!("cannot template `{what}`: {e}"))?;
            let text = text.trim();
            Ok((!text.is_empty()).then(|| text.to_owned()))
        };
        let user = render("remote_user", &task.run.remote_user)?;
        let port = match render("port", &task.run.port)? {
            Some(p) => Some(
                p.parse::<u16>()
                    .map_err(|_| format!("`port: {p}` is not a port number"))?,
            ),
            None => None,
        };
        Ok(ConnectDefaults { user, port })
    }

    /// The variables of `host` for `task`, lowest precedence first: inventory, play vars,
    /// task vars, facts and registered results, magic variables, extra vars.
    pub(super) fn context(
        &self,
        env: &PlayEnv<'_>,
        host: &str,
        task: &Task,
        shared: &Arc<VarMap>,
    ) -> Context {
        let inv = self.inv();
        let mut ctx = Context::new();
        let role = task.role();
        let (included, facts, public) = {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let s = state.get(host);
            (
                s.map(|s| s.included_vars.clone()).unwrap_or_default(),
                s.map(|s| s.facts.clone()).unwrap_or_default(),
                s.and_then(|s| s.public_roles.clone())
                    .filter(|p| p.play.as_ref() == Some(&env.play.loc)),
            )
        };
        // Below everything: `ansible_facts` is an empty mapping until facts are gathered,
        // as in Ansible (never undefined).
        ctx.push(no_facts());
        // Role defaults are the lowest of all; role `vars/` sit above play vars and
        // vars_files, role parameters above set_fact (Ansible's precedence table).
        ctx.push(env.roles.defaults.clone());
        if let Some(public) = &public {
            ctx.push(public.defaults.clone());
        }
        if let Some(role) = role {
            ctx.push(Arc::new(role.defaults.clone()));
        }
        if let Some(vars) = inv.vars.get(host).or_else(|| inv.implicit_local.get(host)) {
            ctx.push(vars.clone());
        }
        ctx.push(env.vars.clone());
        ctx.push(env.roles.vars.clone());
        if let Some(public) = &public {
            ctx.push(public.vars.clone());
        }
        if let Some(role) = role {
            ctx.push(Arc::new(role.vars.clone()));
        }
        if !task.vars.is_empty() {
            ctx.push(Arc::new(task.vars.clone()));
        }
        if !included.is_empty() {
            ctx.push(included);
        }
        ctx.push_raw(facts);
        if let Some(role) = role.filter(|r| !r.params.is_empty()) {
            ctx.push(Arc::new(role.params.clone()));
        }
        if let Some(params) = &task.include_params {
            ctx.push(params.clone());
        }
        ctx.push(shared.clone());
        ctx.push(env.roles.magic.clone());
        if let Some(role) = role {
            ctx.push(Arc::new(role_magic(role)));
        }
        // A play of an imported playbook has that playbook's directory.
        let dir = task.playbook_dir(&self.playbook.dir);
        if dir != self.playbook.dir {
            ctx.push(Arc::new(VarMap::from_iter([(
                "playbook_dir".into(),
                json!(dir.display().to_string()),
            )])));
        }
        // As in Ansible, the source the host was first read from: a file (its directory),
        // a script, or a host list (no directory).
        let inventory_file = inv.inventory.hosts.get(host).and_then(|h| h.source.clone());
        let inventory_dir = inventory_file
            .as_deref()
            .filter(|f| std::path::Path::new(f).exists())
            .and_then(|f| std::path::Path::new(f).parent())
            .map(|d| d.display().to_string());
        ctx.push(Arc::new(VarMap::from_iter([
            ("inventory_hostname".into(), json!(host)),
            (
                "inventory_hostname_short".into(),
                json!(host.split('.').next().unwrap_or(host)),
            ),
            ("group_names".into(), json!(inv.inventory.group_names(host))),
            ("inventory_file".into(), json!(inventory_file)),
            ("inventory_dir".into(), json!(inventory_dir)),
            ("ansible_search_path".into(), json!(search_path(task, dir))),
        ])));
        ctx.push(self.extra_vars.clone());
        ctx
    }

    /// The magic variables every host of a task shares (`groups`, `hostvars`,
    /// `ansible_play_batch`, ...), built once per task: they are the big ones.
    pub(super) fn shared_vars(&self, env: &PlayEnv<'_>, batch: &[String]) -> Arc<VarMap> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let up = |h: &&String| state.get(*h).is_none_or(|s| !s.failed && !s.unreachable);
        let active_batch: Vec<&String> = batch.iter().filter(up).collect();
        let active_play: Vec<&String> = env.hosts.iter().filter(up).collect();
        let inv = self.inv();
        let mut hostvars = serde_json::Map::new();
        for (name, vars) in &inv.vars {
            let mut host: serde_json::Map<String, Value> =
                vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            if let Some(s) = state.get(name) {
                host.extend(s.included_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
                host.extend(s.facts.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            host.insert("inventory_hostname".into(), json!(name));
            hostvars.insert(name.clone(), Value::Object(host));
        }
        Arc::new(VarMap::from_iter([
            ("groups".into(), inv.groups.clone()),
            ("hostvars".into(), Value::Object(hostvars)),
            ("ansible_play_batch".into(), json!(active_batch)),
            ("play_hosts".into(), json!(active_batch)),
            ("ansible_play_hosts".into(), json!(active_play)),
            ("ansible_play_hosts_all".into(), json!(env.hosts)),
            ("ansible_play_name".into(), json!(env.play.display_name())),
            (
                "playbook_dir".into(),
                json!(self.playbook.dir.display().to_string()),
            ),
            ("ansible_check_mode".into(), json!(self.opts.check_mode)),
            ("ansible_diff_mode".into(), json!(self.opts.diff)),
            ("ansible_forks".into(), json!(self.opts.forks)),
            (
                "ansible_version".into(),
                json!({"full": env!("CARGO_PKG_VERSION"), "string": env!("CARGO_PKG_VERSION")}),
            ),
            ("omit".into(), json!(OMIT)),
        ]))
    }

    pub(super) fn fact(&self, host: &str, name: &str) -> Value {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .get(host)
            .and_then(|s| s.facts.get(name).cloned())
            .unwrap_or(Value::Null)
    }

    /// Variables an `include_vars` read, for `host`.
    pub(super) fn set_included_vars(&self, host: &str, vars: VarMap) {
        if vars.is_empty() {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let entry = state.entry(host.to_owned()).or_default();
        Arc::make_mut(&mut entry.included_vars).extend(vars);
    }

    pub(super) fn set_facts(&self, host: &str, facts: VarMap) {
        if facts.is_empty() {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let entry = state.entry(host.to_owned()).or_default();
        let merged = Arc::make_mut(&mut entry.facts);
        for (key, value) in facts {
            // A module's `ansible_facts` add to those gathered (`service_facts` after
            // `setup`), as in Ansible; other variables replace.
            match (merged.get_mut(&key), value) {
                (Some(Value::Object(old)), Value::Object(new)) if key == "ansible_facts" => old.extend(new),
                (_, value) => {
                    merged.insert(key, value);
                }
            }
        }
    }

    /// `become` for a task on a host: the `ansible_become*` variables override the task's
    /// keywords, which override the play's, which override the flags (`--become-method`,
    /// `-K`): Ansible's precedence. The user defaults to root, the method to sudo.
    pub(super) fn become_for(&self, env: &PlayEnv<'_>, task: &Task, ctx: &Context) -> Option<Become> {
        let opts = task.privilege.inherit(&env.play.privilege);
        let var = |name: &str| {
            let raw = ctx.get(name)?;
            let value = self.templater.render_value(raw, ctx).ok()?;
            Some(value)
        };
        let text = |v: Value| match v {
            Value::String(s) => s,
            other => other.to_string(),
        };
        let defaults = &self.opts.become_defaults;
        let enabled = var("ansible_become")
            .map(|v| crate::vars::truthy(&v))
            .or(opts.enabled)
            .unwrap_or(defaults.enabled);
        enabled.then(|| Become {
            user: var("ansible_become_user")
                .map(text)
                .or_else(|| {
                    // `become_user: "{{ app_user }}"` (a bad one already failed the host).
                    let user = opts.user?;
                    Some(match self.templater.render_str(&user, ctx) {
                        Ok(rendered) => rendered.trim().to_owned(),
                        Err(_) => user,
                    })
                })
                .or_else(|| defaults.user.clone())
                .unwrap_or_else(|| "root".into()),
            method: var("ansible_become_method")
                .map(text)
                .or(opts.method)
                .or_else(|| self.opts.access.become_method.clone())
                .unwrap_or_else(|| "sudo".into()),
            // A password with a line break cannot be fed as one line: it is dropped, and
            // preflight then reports that sudo wants one.
            password: match [
                "ansible_sudo_pass",
                "ansible_become_pass",
                "ansible_become_password",
            ]
            .into_iter()
            .find_map(var)
            {
                Some(v) => crate::host::Password::new(text(v)).ok(),
                None => self.opts.access.become_password.clone(),
            },
        })
    }

    /// Where a task runs in this context: its `delegate_to`, rendered and trimmed; `None`
    /// when it is not delegated. The one place the run, preflight and `zdd plan` work it out.
    pub(super) fn delegate_in(&self, task: &Task, ctx: &Context) -> Option<Result<String, TemplateError>> {
        let template = task.delegate_to.as_ref()?;
        Some(
            self.templater
                .render_str(template, ctx)
                .map(|name| name.trim().to_owned()),
        )
    }
}

/// The variables a play's roles give all its tasks.
#[derive(Debug, Default)]
pub(super) struct PlayRoleVars {
    /// Each role's defaults with its dependencies', in the order the roles were named.
    pub defaults: Arc<VarMap>,
    /// Each role's `vars/` with its dependencies'.
    pub vars: Arc<VarMap>,
    /// `ansible_role_names`, `ansible_play_role_names`, `role_names`,
    /// `ansible_dependent_role_names`.
    pub magic: Arc<VarMap>,
}

impl PlayRoleVars {
    pub(super) fn of(play: &crate::playbook::Play) -> PlayRoleVars {
        let mut defaults = VarMap::new();
        let mut vars = VarMap::new();
        let mut play_names: Vec<&str> = Vec::new();
        let mut dependent: Vec<&str> = Vec::new();
        for role in &play.roles {
            defaults.extend(role.exported_defaults.clone());
            vars.extend(role.exported_vars.clone());
            play_names.push(&role.name);
            for d in &role.dependencies {
                if !dependent.contains(&d.as_str()) {
                    dependent.push(d);
                }
            }
        }
        let mut all: Vec<&str> = dependent.clone();
        for n in &play_names {
            if !all.contains(n) {
                all.push(n);
            }
        }
        PlayRoleVars {
            defaults: Arc::new(defaults),
            vars: Arc::new(vars),
            magic: Arc::new(VarMap::from_iter([
                ("ansible_role_names".into(), json!(all)),
                ("ansible_play_role_names".into(), json!(play_names)),
                ("role_names".into(), json!(play_names)),
                ("ansible_dependent_role_names".into(), json!(dependent)),
            ])),
        }
    }
}

/// Ansible's `ansible_search_path` for a task: its role's folder, the folder of the file
/// the task is written in, the playbook's folder (where lookups look for relative names).
fn search_path(task: &Task, playbook_dir: &std::path::Path) -> Vec<String> {
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    dirs.extend(task.role().map(|r| r.path.clone()));
    if let Some(dir) = task.loc.file.parent().filter(|d| !d.as_os_str().is_empty()) {
        dirs.push(std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()));
    }
    dirs.push(playbook_dir.to_path_buf());
    let mut out: Vec<String> = Vec::new();
    for dir in dirs {
        let dir = dir.display().to_string();
        if !out.contains(&dir) {
            out.push(dir);
        }
    }
    out
}

/// `role_name`, `role_path`, `ansible_role_name` (and `ansible_parent_role_names` for a
/// role imported by another role) of a role's task.
fn role_magic(role: &crate::playbook::RoleRef) -> VarMap {
    let mut magic = VarMap::from_iter([
        ("role_name".into(), json!(role.name)),
        ("ansible_role_name".into(), json!(role.name)),
        ("role_path".into(), json!(role.path.display().to_string())),
    ]);
    if !role.parents.is_empty() {
        magic.insert("ansible_parent_role_names".into(), json!(role.parents));
    }
    magic
}

impl Runner {
    /// The hosts of `active` that run `task`: all of them, except for a role named again
    /// without `allow_duplicates`, where an earlier naming already ran a task.
    pub(super) fn role_not_done(&self, task: &Task, active: &[String]) -> Vec<String> {
        let Some(role) = task
            .role()
            .filter(|r| r.instance.nth > 0 && !r.instance.allow_duplicates)
        else {
            return active.to_vec();
        };
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let done = |h: &String| {
            state
                .get(h)
                .and_then(|s| s.roles_ran.get(&role.instance.key))
                .is_some_and(|first| *first < role.instance.nth)
        };
        active.iter().filter(|h| !done(h)).cloned().collect()
    }

    /// Remember which naming of a role ran a task (not skipped) on each host.
    pub(super) fn role_ran(&self, task: &Task, outcomes: &[super::rules::HostOutcome]) {
        let Some(role) = task.role() else {
            return;
        };
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for o in outcomes
            .iter()
            .filter(|o| o.status != crate::events::Status::Skipped)
        {
            let ran = state.entry(o.host.clone()).or_default();
            let first = ran
                .roles_ran
                .entry(role.instance.key.clone())
                .or_insert(role.instance.nth);
            *first = (*first).min(role.instance.nth);
        }
    }
}

/// The layer under every host's variables: `ansible_facts` before any fact is gathered.
fn no_facts() -> Arc<VarMap> {
    static EMPTY: std::sync::OnceLock<Arc<VarMap>> = std::sync::OnceLock::new();
    EMPTY
        .get_or_init(|| Arc::new(VarMap::from_iter([("ansible_facts".into(), json!({}))])))
        .clone()
}
