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
