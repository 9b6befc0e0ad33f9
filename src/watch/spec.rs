//! What `zdd watch` checks: per host, an HTTP URL (expected status, a string the body
//! must hold) or a TCP port, and the service through the load balancer. From flags first,
//! else from the variables `zdd_health_url`, `zdd_health_status`, `zdd_health_contains`,
//! `zdd_health_port`, `zdd_service_url` (host, group, play `vars:`, `-e`), rendered per host.

use crate::error::{Diagnostic, Error};
use crate::load::Input;
use crate::plan::RolloutPlan;
use crate::template::Templater;
use crate::vars::{Context, VarMap};
use serde_json::{json, Value};
use std::sync::Arc;

/// One health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Healthy on one of `statuses` (default: any 2xx/3xx) with `contains` in the body.
    Http {
        url: String,
        statuses: Option<Vec<u16>>,
        contains: Option<String>,
    },
    /// Healthy when a TCP connection opens.
    Tcp { addr: String },
}

impl Check {
    /// How the check reads in the output ("http://10.0.0.3:8080/", "tcp 10.0.0.3:22").
    pub fn describe(&self) -> String {
        match self {
            Check::Http { url, .. } => crate::report::notify::display_url(url),
            Check::Tcp { addr } => format!("tcp {addr}"),
        }
    }
}

/// The flags that give checks (over the variables).
#[derive(Debug, Clone, Default)]
pub struct SpecFlags {
    pub health_url: Option<String>,
    pub health_port: Option<u16>,
    pub service_url: Option<String>,
}

/// Every check of a watch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchSpec {
    /// The watched hosts, in play order, each with its check.
    pub hosts: Vec<(String, Check)>,
    /// The service through the load balancer.
    pub service: Option<Check>,
}

impl WatchSpec {
    pub fn check_of(&self, host: &str) -> Option<&Check> {
        self.hosts.iter().find(|(h, _)| h == host).map(|(_, c)| c)
    }
}

/// The hosts the plays run on (after `--limit`), each once, in play order.
pub fn watched_hosts(plan: &RolloutPlan) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    for play in &plan.plays {
        for host in play.batches.iter().flatten() {
            if !hosts.contains(host) {
                hosts.push(host.clone());
            }
        }
    }
    hosts
}

/// The checks of `hosts`. A host without one is an error naming it and the ways to give
/// one; nothing is contacted.
pub fn build(
    input: &Input,
    plan: &RolloutPlan,
    templater: &Templater,
    flags: &SpecFlags,
    hosts: &[String],
) -> Result<WatchSpec, Error> {
    let shared = shared_vars(input);
    let mut spec = WatchSpec::default();
    let mut missing = Vec::new();
    let mut problems = Vec::new();
    for host in hosts {
        let ctx = host_context(input, plan, host, &shared);
        match host_check(templater, &ctx, flags, host) {
            Ok(Some(check)) => spec.hosts.push((host.clone(), check)),
            Ok(None) => missing.push(host.clone()),
            Err(e) => problems.push(Diagnostic::new(e)),
        }
    }
    let service = match &flags.service_url {
        Some(url) => Some(url.clone()),
        None => hosts
            .iter()
            .find_map(|host| {
                let ctx = host_context(input, plan, host, &shared);
                ctx.contains("zdd_service_url")
                    .then(|| render(templater, &ctx, "{{ zdd_service_url }}"))
            })
            .transpose()
            .map_err(|e| Error::invalid(Diagnostic::new(format!("zdd_service_url: {e}"))))?,
    };
    if let Some(url) = service {
        match http_url(&url) {
            Ok(()) => {
                spec.service = Some(Check::Http {
                    url,
                    statuses: None,
                    contains: None,
                })
            }
            Err(e) => problems.push(Diagnostic::new(format!("the service URL: {e}"))),
        }
    }
    if !missing.is_empty() {
        problems.push(
            Diagnostic::new(format!(
                "no health check for {}: zdd watch cannot tell whether {} healthy",
                missing.join(", "),
                if missing.len() == 1 { "it is" } else { "they are" }
            ))
            .hint("give one with --health-url 'http://{{ ansible_host }}:PORT/' or --health-port PORT, or set zdd_health_url (or zdd_health_port) for these hosts in the inventory or the play's vars"),
        );
    }
    if problems.is_empty() {
        Ok(spec)
    } else {
        Err(Error::Invalid(problems))
    }
}

fn host_check(
    templater: &Templater,
    ctx: &Context,
    flags: &SpecFlags,
    host: &str,
) -> Result<Option<Check>, String> {
    let address = || -> Result<String, String> {
        match ctx.get("ansible_host") {
            Some(_) => render(templater, ctx, "{{ ansible_host }}"),
            None => Ok(host.to_owned()),
        }
    };
    if let Some(template) = &flags.health_url {
        let url = render(templater, ctx, template).map_err(|e| format!("{host}: --health-url: {e}"))?;
        http_url(&url).map_err(|e| format!("{host}: --health-url: {e}"))?;
        return Ok(Some(Check::Http {
            url,
            statuses: None,
            contains: None,
        }));
    }
    if let Some(port) = flags.health_port {
        return Ok(Some(Check::Tcp {
            addr: format!("{}:{port}", address()?),
        }));
    }
    let var = |name: &str| -> Result<Option<Value>, String> {
        if !ctx.contains(name) {
            return Ok(None);
        }
        templater
            .eval(name, ctx)
            .map(Some)
            .map_err(|e| format!("{host}: {name}: {e}"))
    };
    if let Some(url) = var("zdd_health_url")? {
        let url = text(&url);
        http_url(&url).map_err(|e| format!("{host}: zdd_health_url: {e}"))?;
        let statuses = var("zdd_health_status")?
            .map(|v| statuses(&v).map_err(|e| format!("{host}: zdd_health_status: {e}")))
            .transpose()?;
        let contains = var("zdd_health_contains")?.map(|v| text(&v));
        return Ok(Some(Check::Http {
            url,
            statuses,
            contains,
        }));
    }
    if let Some(port) = var("zdd_health_port")? {
        let port = match &port {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .filter(|p| (1..=65535).contains(p))
        .ok_or_else(|| format!("{host}: zdd_health_port: `{}` is not a port", text(&port)))?;
        return Ok(Some(Check::Tcp {
            addr: format!("{}:{port}", address()?),
        }));
    }
    Ok(None)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn statuses(v: &Value) -> Result<Vec<u16>, String> {
    let one = |v: &Value| -> Result<u16, String> {
        match v {
            Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .filter(|s| (100..600).contains(s))
        .ok_or_else(|| format!("`{}` is not an HTTP status", text(v)))
    };
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn http_url(url: &str) -> Result<(), String> {
    if url.starts_with("https://") {
        return Err(format!("`{url}`: https:// is not supported, give an http:// URL"));
    }
    crate::probe::Target::parse(url)
        .map(|_| ())
        .map_err(|_| format!("`{url}` is not an http:// URL"))
}

fn render(templater: &Templater, ctx: &Context, template: &str) -> Result<String, String> {
    templater.render_str(template, ctx).map_err(|e| e.to_string())
}

/// `groups` and `hostvars`, shared by every host's context.
fn shared_vars(input: &Input) -> Arc<VarMap> {
    let inventory = &input.inventory;
    let hostvars: serde_json::Map<String, Value> = inventory
        .hosts
        .keys()
        .map(|h| {
            let mut vars: serde_json::Map<String, Value> = inventory.host_vars(h).into_iter().collect();
            vars.insert("inventory_hostname".into(), json!(h));
            (h.clone(), Value::Object(vars))
        })
        .collect();
    Arc::new(VarMap::from_iter([
        ("groups".into(), json!(inventory.groups_map())),
        ("hostvars".into(), Value::Object(hostvars)),
        (
            "playbook_dir".into(),
            json!(input.playbook.dir.display().to_string()),
        ),
    ]))
}

/// `host`'s variables as the first play that runs on it sees them (inventory, play vars,
/// magic variables, `-e`), without facts.
fn host_context(input: &Input, plan: &RolloutPlan, host: &str, shared: &Arc<VarMap>) -> Context {
    let mut ctx = Context::new();
    ctx.push(Arc::new(input.inventory.host_vars(host)));
    let play = plan
        .plays
        .iter()
        .position(|p| p.batches.iter().flatten().any(|h| h == host))
        .and_then(|i| input.playbook.plays.get(i));
    if let Some(play) = play {
        ctx.push(Arc::new(play.vars.clone()));
    }
    ctx.push(shared.clone());
    ctx.push(Arc::new(VarMap::from_iter([
        ("inventory_hostname".into(), json!(host)),
        ("group_names".into(), json!(input.inventory.group_names(host))),
    ])));
    ctx.push(Arc::new(input.extra_vars.clone()));
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_take_an_int_a_string_or_a_list() {
        assert_eq!(statuses(&json!(200)), Ok(vec![200]));
        assert_eq!(statuses(&json!("204")), Ok(vec![204]));
        assert_eq!(statuses(&json!([200, "301"])), Ok(vec![200, 301]));
        assert!(statuses(&json!("ok")).unwrap_err().contains("not an HTTP status"));
    }

    #[test]
    fn https_is_refused_with_the_reason() {
        assert!(http_url("https://x/")
            .unwrap_err()
            .contains("https:// is not supported"));
        assert!(http_url("ftp://x/").unwrap_err().contains("not an http:// URL"));
        assert!(http_url("http://10.0.0.1:8080/").is_ok());
    }

    fn input_of(playbook: &str, inventory: &str, extra: &[&str]) -> (Input, RolloutPlan, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("site.yml"), playbook).unwrap();
        std::fs::write(dir.path().join("hosts.ini"), inventory).unwrap();
        let args = crate::cli::InputArgs {
            playbook: dir.path().join("site.yml"),
            inventory: vec![dir.path().join("hosts.ini").display().to_string()],
            extra_vars: extra.iter().map(|s| s.to_string()).collect(),
            limit: None,
            verbose: 0,
            vault_password_files: Vec::new(),
            vault_ids: Vec::new(),
            ask_vault_pass: false,
            connection: Default::default(),
        };
        let input = crate::load::load(&args).unwrap();
        let plan = RolloutPlan::new(&input.playbook, &input.inventory, None, 1).unwrap();
        (input, plan, dir)
    }

    const PLAY: &str = "- hosts: web\n  vars:\n    version: '1'\n    zdd_health_url: 'http://{{ ansible_host }}:{{ http_port }}/'\n    zdd_health_contains: 'version: {{ version }}<'\n    zdd_service_url: 'http://{{ hostvars[groups.lb[0]].ansible_host }}:8080/'\n  tasks:\n  - debug: msg=x\n";
    const INV: &str = "[web]\nweb1 ansible_host=10.0.0.1 http_port=81\nweb2 ansible_host=10.0.0.2 http_port=82 zdd_health_status=204\n[lb]\nlb1 ansible_host=10.0.0.9\n";

    #[test]
    fn the_variables_are_rendered_per_host_with_extra_vars_on_top() {
        let (input, plan, _dir) = input_of(PLAY, INV, &["version=2"]);
        let hosts = watched_hosts(&plan);
        assert_eq!(hosts, ["web1", "web2"]);
        let spec = build(&input, &plan, &Templater::new(), &SpecFlags::default(), &hosts).unwrap();
        assert_eq!(
            spec.check_of("web1"),
            Some(&Check::Http {
                url: "http://10.0.0.1:81/".into(),
                statuses: None,
                contains: Some("version: 2<".into())
            })
        );
        assert!(matches!(spec.check_of("web2"), Some(Check::Http { statuses: Some(s), .. }) if s == &[204]));
        assert_eq!(spec.service.unwrap().describe(), "http://10.0.0.9:8080/");
    }

    #[test]
    fn flags_win_over_variables() {
        let (input, plan, _dir) = input_of(PLAY, INV, &[]);
        let hosts = watched_hosts(&plan);
        let flags = SpecFlags {
            health_port: Some(22),
            service_url: Some("http://lb/".into()),
            ..Default::default()
        };
        let spec = build(&input, &plan, &Templater::new(), &flags, &hosts).unwrap();
        assert_eq!(
            spec.check_of("web2"),
            Some(&Check::Tcp {
                addr: "10.0.0.2:22".into()
            })
        );
        assert_eq!(spec.service.unwrap().describe(), "http://lb/");
    }

    #[test]
    fn a_host_without_a_check_is_an_error_naming_it_and_the_ways_to_give_one() {
        let (input, plan, _dir) = input_of("- hosts: web\n  tasks:\n  - debug: msg=x\n", INV, &[]);
        let err = build(
            &input,
            &plan,
            &Templater::new(),
            &SpecFlags::default(),
            &watched_hosts(&plan),
        )
        .unwrap_err();
        let text = err.render();
        assert!(text.contains("no health check for web1, web2"), "{text}");
        assert!(
            text.contains("--health-url") && text.contains("zdd_health_url"),
            "{text}"
        );
        assert_eq!(err.exit_code(), crate::error::exit::INVALID);
    }
}
