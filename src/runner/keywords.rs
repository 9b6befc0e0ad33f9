//! A task's keywords written as templates (`no_log: "{{ quiet }}"`, `become`,
//! `check_mode`...), rendered on each host just before the task runs there, as Ansible's
//! post_validate does. The rest of the runner reads the resolved task's plain fields.

use super::Runner;
use crate::keyword_values::to_bool;
use crate::playbook::Task;
use crate::template::Templater;
use crate::vars::Context;
use std::borrow::Cow;

/// Why a keyword could not be rendered on a host: the host fails the task with this
/// message, as in Ansible ("Error processing keyword 'no_log': ...").
#[derive(Debug, Clone, PartialEq)]
pub struct KeywordError {
    pub message: String,
    /// A `no_log` that could not be decided hides the output, as Ansible does.
    pub hide_output: bool,
}

/// The task with its templated keywords rendered in `ctx`. A task without any is
/// borrowed as it is.
pub fn resolve<'t>(
    templater: &Templater,
    task: &'t Task,
    ctx: &Context,
) -> Result<Cow<'t, Task>, KeywordError> {
    if task.templated.is_empty() && !task.privilege.user.as_deref().is_some_and(Templater::is_template) {
        return Ok(Cow::Borrowed(task));
    }
    let mut resolved = task.clone();
    let mut first_error = None;
    for t in &task.templated {
        let value = templater
            .render_value(&t.value, ctx)
            .map_err(|e| e.message.clone())
            .and_then(|v| to_bool(&v));
        let flag = match value {
            Ok(flag) => flag,
            Err(why) => {
                first_error.get_or_insert(KeywordError {
                    message: format!("Error processing keyword '{}': {why}", t.key),
                    hide_output: false,
                });
                // Undecided: hide the output rather than risk showing a secret.
                if t.key == "no_log" {
                    resolved.no_log = true;
                }
                continue;
            }
        };
        match t.key.as_str() {
            "no_log" => resolved.no_log = flag,
            "become" => resolved.privilege.enabled = Some(flag),
            "run_once" => resolved.run_once = flag,
            "check_mode" => resolved.check_mode = Some(flag),
            "delegate_facts" => resolved.delegate_facts = flag,
            "ignore_unreachable" => resolved.ignore_unreachable = flag,
            // The strategy has already taken the template as true (see parse); the host
            // only checks that it renders to a boolean.
            "any_errors_fatal" => {}
            _ => {}
        }
    }
    if let Some(user) = task
        .privilege
        .user
        .as_deref()
        .filter(|u| Templater::is_template(u))
    {
        match templater.render_str(user, ctx) {
            Ok(rendered) => resolved.privilege.user = Some(rendered.trim().to_owned()),
            Err(e) => {
                first_error.get_or_insert(KeywordError {
                    message: format!("Error processing keyword 'become_user': {}", e.message),
                    hide_output: false,
                });
            }
        }
    }
    match first_error {
        None => Ok(Cow::Owned(resolved)),
        Some(mut e) => {
            e.hide_output = resolved.no_log;
            Err(e)
        }
    }
}

/// The task, made `no_log` when its arguments or loop read a variable that holds a value
/// from Vault (beyond Ansible: such values are secret everywhere). Values are also matched
/// in every output (`vault::reveals`); this catches the values too short to be matched.
pub fn censor_vault_readers<'t>(templater: &Templater, task: Cow<'t, Task>) -> Cow<'t, Task> {
    if task.no_log || !crate::vault::has_secret_names() {
        return task;
    }
    let mut texts = Vec::new();
    strings_in(&task.args, &mut texts);
    if let Some(lp) = &task.loop_ {
        strings_in(lp.value(), &mut texts);
    }
    let reads = |text: &str, expression: bool| {
        let names = if expression {
            templater.expr_variables_read(text)
        } else {
            templater.variables_read(text)
        };
        // A template that cannot be read may read anything.
        names.map_or(true, |n| crate::vault::any_secret_name(n.iter()))
    };
    let debug_var = crate::modules::canonical_name(&task.module) == "debug"
        && task
            .args
            .get("var")
            .and_then(|v| v.as_str())
            .is_some_and(|v| reads(v, true));
    if !debug_var && !texts.iter().any(|t| Templater::is_template(t) && reads(t, false)) {
        return task;
    }
    let mut task = task.into_owned();
    task.no_log = true;
    Cow::Owned(task)
}

fn strings_in<'v>(value: &'v serde_json::Value, out: &mut Vec<&'v str>) {
    match value {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| strings_in(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| strings_in(v, out)),
        _ => {}
    }
}

impl Runner {
    /// A templated `run_once`, decided with the first host's variables (the host that
    /// runs a `run_once` task).
    pub(super) fn run_once_on(&self, task: &Task, first_host_ctx: impl FnOnce() -> Context) -> bool {
        let Some(t) = task.templated("run_once") else {
            return task.run_once;
        };
        let ctx = first_host_ctx();
        self.templater
            .render_value(&t.value, &ctx)
            .ok()
            .and_then(|v| to_bool(&v).ok())
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Location;
    use crate::playbook::TemplatedKeyword;
    use crate::vars::VarMap;
    use serde_json::json;
    use std::sync::Arc;

    fn task_with(keywords: &[(&str, &str)]) -> Task {
        let loc = Location::new(Arc::new("site.yml".into()), 1, 1);
        let mut task = crate::parse::empty_task(loc.clone(), "debug".into(), loc.clone());
        for (key, text) in keywords {
            task.templated.push(TemplatedKeyword {
                key: (*key).into(),
                value: json!(text),
                loc: loc.clone(),
            });
        }
        task
    }

    #[test]
    fn a_task_reading_a_vault_variable_is_no_log() {
        crate::vault::register_secret_name("vault_pin_kw_test");
        let t = Templater::new();
        let with_args = |module: &str, args: serde_json::Value| {
            let mut task = task_with(&[]);
            task.module = module.into();
            task.args = args;
            censor_vault_readers(&t, Cow::Owned(task)).no_log
        };
        assert!(with_args("debug", json!({"var": "vault_pin_kw_test"})));
        assert!(with_args(
            "shell",
            json!({"cmd": "echo {{ vault_pin_kw_test | int + 1 }}"})
        ));
        assert!(with_args(
            "debug",
            json!({"msg": ["x", {"y": "{{ vault_pin_kw_test }}"}]})
        ));
        assert!(!with_args(
            "shell",
            json!({"cmd": "echo {{ other }} vault_pin_kw_test"})
        ));
        assert!(!with_args("debug", json!({"var": "other"})));
    }

    fn ctx(vars: serde_json::Value) -> Context {
        let mut ctx = Context::new();
        let map: VarMap = serde_json::from_value(vars).unwrap();
        ctx.push(Arc::new(map));
        ctx
    }

    #[test]
    fn templated_booleans_render_per_host() {
        let task = task_with(&[
            ("no_log", "{{ quiet }}"),
            ("become", "{{ admin | default('no') }}"),
            ("check_mode", "{{ dry }}"),
        ]);
        let t = Templater::new();
        let r = resolve(&t, &task, &ctx(json!({"quiet": true, "dry": "yes"}))).unwrap();
        assert!(r.no_log);
        assert_eq!(r.privilege.enabled, Some(false));
        assert_eq!(r.check_mode, Some(true));
        let r = resolve(&t, &task, &ctx(json!({"quiet": "off", "dry": 0, "admin": "on"}))).unwrap();
        assert!(!r.no_log);
        assert_eq!(r.privilege.enabled, Some(true));
        assert_eq!(r.check_mode, Some(false));
    }

    #[test]
    fn an_undecided_no_log_hides_the_output() {
        let task = task_with(&[("no_log", "{{ quiet }}")]);
        let err = resolve(&Templater::new(), &task, &ctx(json!({}))).unwrap_err();
        assert!(err.hide_output);
        assert!(
            err.message.starts_with("Error processing keyword 'no_log'"),
            "{}",
            err.message
        );
        let task = task_with(&[("become", "{{ maybe }}")]);
        let err = resolve(&Templater::new(), &task, &ctx(json!({"maybe": "perhaps"}))).unwrap_err();
        assert!(!err.hide_output);
        assert!(err.message.contains("`perhaps`"), "{}", err.message);
    }

    #[test]
    fn become_user_renders() {
        let mut task = task_with(&[]);
        task.privilege.user = Some("{{ app_user }}".into());
        let r = resolve(&Templater::new(), &task, &ctx(json!({"app_user": "deploy"}))).unwrap();
        assert_eq!(r.privilege.user.as_deref(), Some("deploy"));
    }
}
