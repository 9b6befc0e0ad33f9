//! `nginx_upstream`: switch the servers of an nginx upstream (blue/green), or read which
//! color is live. zdd's own module (Ansible has none); nginx is driven through the
//! `LoadBalancer` implementation in `lb/nginx.rs`.
//!
//! A switch writes the upstream file atomically (a temporary file in the same directory,
//! renamed over it; the replaced file is kept as `PATH.zdd-previous`), runs `nginx -t`,
//! reloads nginx, then GETs `verify_url` through nginx until it answers 2xx (and holds
//! `verify_contains`). On any failure the previous file goes back and nginx reloads with
//! it, so nginx never keeps a broken configuration, and the task fails. Same servers and
//! color: nothing written, no reload (`changed: false`). Check mode reads only; `--diff`
//! shows the old and new file.
//!
//! Arguments: `path` (the upstream file) and `name` (the upstream), `servers` (`host:port`
//! with optional parameters; required for `state: present`), `color` (written as
//! `# zdd-color: COLOR`), `conf` (nginx's main configuration, default Debian's),
//! `verify_url`, `verify_contains`, `verify_retries` (10), `verify_delay` (0.5 s), `state`
//! (`present`, or `query` to read what is live). After the reload the script waits for a
//! new nginx worker, so no old worker answers the verification.
//!
//! Registered keys (`zdd rollback` reads them from the journal): `changed`, `path`,
//! `upstream` (the name), `color`, `previous_color` (null if none), `servers`,
//! `previous_servers`.

use super::args::{self, check_choice, fresh_mark, split_marks};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use crate::lb::nginx::{self, server_address, UpstreamFile, DEFAULT_CONF, NGINX};
use crate::lb::{Endpoint, LoadBalancer};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

pub struct NginxUpstream;

const STATES: &[&str] = &["present", "query"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The upstream file nginx includes.
    #[serde(alias = "dest")]
    path: String,
    /// The upstream's name (`upstream NAME { ... }`).
    #[serde(alias = "upstream")]
    name: String,
    #[serde(default, deserialize_with = "args::opt_list")]
    servers: Option<Vec<String>>,
    #[serde(default)]
    color: Option<String>,
    /// nginx's main configuration, for `nginx -t -c` and `nginx -s reload -c`.
    #[serde(default, alias = "nginx_conf")]
    conf: Option<String>,
    #[serde(default)]
    verify_url: Option<String>,
    #[serde(default)]
    verify_contains: Option<String>,
    #[serde(default, deserialize_with = "args::opt_i64")]
    verify_retries: Option<i64>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    verify_delay: Option<f64>,
    #[serde(default)]
    state: Option<String>,
}

impl Args {
    fn conf(&self) -> &str {
        self.conf.as_deref().unwrap_or(DEFAULT_CONF)
    }

    fn query(&self) -> bool {
        self.state.as_deref() == Some("query")
    }

    fn servers(&self) -> &[String] {
        self.servers.as_deref().unwrap_or_default()
    }

    fn retries(&self) -> i64 {
        self.verify_retries.unwrap_or(10).max(1)
    }

    fn delay(&self) -> f64 {
        self.verify_delay.unwrap_or(0.5).max(0.0)
    }

    /// Rules on values; a value still holding a template is checked once rendered.
    fn check_values(&self, rendered: bool) -> Result<(), ArgError> {
        let known = |v: &str| rendered || !args::is_template(v);
        let word = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
        if known(&self.name) && (self.name.is_empty() || !self.name.chars().all(word)) {
            return Err(ArgError::new(format!(
                "`name` must be an nginx upstream name (letters, digits, - _ .), not `{}`",
                self.name
            ))
            .key("name"));
        }
        if let Some(color) = self.color.as_deref().filter(|c| known(c)) {
            if color.is_empty() || !color.chars().all(word) {
                return Err(ArgError::new(format!(
                    "`color` must be a word (letters, digits, - _ .), not `{color}`"
                ))
                .key("color"));
            }
        }
        for server in self.servers().iter().filter(|s| known(s)) {
            if server.is_empty() || server.contains([';', '{', '}', '#', '\n', '\'', '"']) {
                return Err(ArgError::new(format!(
                    "`servers`: `{server}` is not an nginx server (`host:port [parameters]`)"
                ))
                .key("servers"));
            }
        }
        if !self.query() && self.servers.as_ref().is_none_or(|s| s.is_empty()) {
            return Err(ArgError::new("`nginx_upstream` with state=present needs `servers`").key("servers"));
        }
        if let Some(url) = self.verify_url.as_deref().filter(|u| known(u)) {
            if !url.starts_with("http://") && !url.starts_with("https://") {
                return Err(
                    ArgError::new(format!("`verify_url` must be an http(s) URL, not `{url}`"))
                        .key("verify_url"),
                );
            }
        }
        Ok(())
    }
}

/// What the target says of the file before the switch.
struct Current {
    text: Option<String>,
    file: UpstreamFile,
}

impl Current {
    fn color(&self) -> Option<&str> {
        self.file.color.as_deref()
    }

    fn servers(&self, name: &str) -> Vec<String> {
        self.file
            .upstream(name)
            .map(|u| u.servers.clone())
            .unwrap_or_default()
    }
}

fn script(a: &Args, mode: &str, mark: &str, content: &str) -> String {
    sh_script(
        &[
            ("m", mark),
            ("mode", mode),
            ("path", &a.path),
            ("conf", a.conf()),
            ("content", content),
            ("previous", &format!("{}{}", a.path, nginx::PREVIOUS_SUFFIX)),
            ("verify_url", a.verify_url.as_deref().unwrap_or("")),
            ("verify_contains", a.verify_contains.as_deref().unwrap_or("")),
            ("retries", &a.retries().to_string()),
            ("delay", &a.delay().to_string()),
        ],
        include_str!("nginx_upstream.sh"),
    )
}

/// What one run of the script said: its exit code, its marks, the rest of its output
/// (the file, in `read` mode) and its error text.
struct Said {
    rc: i32,
    marks: indexmap::IndexMap<String, String>,
    text: String,
    error: String,
}

async fn run_script(ctx: &ModuleCtx<'_>, a: &Args, mode: &str, content: &str) -> Result<Said, Failure> {
    let mark = fresh_mark();
    let mut cmd = RemoteCommand::new(script(a, mode, &mark, content)).run_as(ctx.run_as.cloned());
    let verify_budget = a.retries() as f64 * (a.delay() + 5.0);
    cmd.timeout = Some(Duration::from_secs_f64(verify_budget + 60.0));
    let out = ctx.host.run(&cmd).await?;
    let (marks, text) = split_marks(&out.stdout, &mark);
    let error = match out.stderr.trim() {
        "" => format!("{mode} failed (exit code {})", out.rc),
        e => e.to_owned(),
    };
    Ok(Said {
        rc: out.rc,
        marks,
        text,
        error,
    })
}

/// The result every outcome registers, with the contract's keys.
fn result(a: &Args, current: &Current, color: Option<&str>, servers: &[String]) -> ModuleResult {
    let mut r = ModuleResult::ok();
    r.extra.insert("path".into(), json!(a.path));
    r.extra.insert("upstream".into(), json!(a.name));
    r.extra.insert("color".into(), json!(color));
    r.extra.insert("previous_color".into(), json!(current.color()));
    r.extra.insert("servers".into(), json!(servers));
    r.extra
        .insert("previous_servers".into(), json!(current.servers(&a.name)));
    r
}

/// Same servers (by address and parameters, in order) and the same color: nothing to do.
fn unchanged(current: &Current, name: &str, servers: &[String], color: Option<&str>) -> bool {
    let norm = |list: &[String]| -> Vec<String> {
        list.iter()
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    current.text.is_some()
        && norm(&current.servers(name)) == norm(servers)
        && (color.is_none() || current.color() == color)
}

#[async_trait]
impl TypedModule for NginxUpstream {
    type Args = Args;

    fn name(&self) -> &'static str {
        "nginx_upstream"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        check_choice("state", a.state.as_deref(), STATES)?;
        a.check_values(false)
    }

    fn check_rendered(&self, a: &Args) -> Result<(), ArgError> {
        args::check_rendered_choice("state", a.state.as_deref(), STATES)?;
        a.check_values(true)
    }

    /// nginx must run with a valid configuration and the file must be replaceable before
    /// the first batch (and zdd's rollout lock is taken on it).
    fn lb_endpoints(&self, a: &Args) -> Vec<Endpoint> {
        if a.query() {
            return Vec::new();
        }
        vec![Endpoint {
            lb: &NGINX,
            address: nginx::endpoint(&a.path, a.conf()),
        }]
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let read = run_script(ctx, &a, "read", "").await?;
        if read.rc != 0 {
            return Err(Failure::Task(format!("cannot read {}: {}", a.path, read.error)));
        }
        let exists = !read.marks.contains_key("missing");
        let current = Current {
            file: UpstreamFile::parse(&read.text),
            text: exists.then_some(read.text),
        };
        if a.query() {
            let live = current.servers(&a.name);
            let mut r = result(&a, &current, current.color(), &live);
            r.extra.insert("previous_servers".into(), json!(live));
            return Ok(r);
        }
        let servers = a.servers().to_vec();
        let color = a.color.as_deref();
        let mut r = result(&a, &current, color.or(current.color()), &servers);
        if unchanged(&current, &a.name, &servers, color) {
            if !ctx.check_mode && a.verify_url.is_some() {
                let said = run_script(ctx, &a, "verify", "").await?;
                if said.rc != 0 {
                    r.failed = true;
                    r.msg = Some(format!(
                        "the live upstream {} does not answer through nginx: {}",
                        a.name, said.error
                    ));
                }
            }
            return Ok(r);
        }
        let content = nginx::render_upstream(&a.name, &servers, color);
        r.changed = true;
        if ctx.diff {
            r.extra.insert(
                "diff".into(),
                json!({
                    "before": current.text.as_deref().unwrap_or(""),
                    "after": content,
                    "before_header": a.path,
                    "after_header": a.path,
                }),
            );
        }
        if ctx.check_mode {
            return Ok(r);
        }
        let said = run_script(ctx, &a, "switch", &content).await?;
        let why = said.error.as_str();
        match said.rc {
            0 => {
                let to: Vec<&str> = servers.iter().map(|s| server_address(s)).collect();
                r.msg = Some(match color {
                    Some(c) => format!("upstream {} switched to {c} ({})", a.name, to.join(", ")),
                    None => format!("upstream {} switched to {}", a.name, to.join(", ")),
                });
                Ok(r)
            }
            // Switched back: nginx serves the previous upstream again.
            3 => {
                r.changed = false;
                r.failed = true;
                r.extra.insert("color".into(), json!(current.color()));
                r.extra.insert("servers".into(), json!(current.servers(&a.name)));
                r.extra.insert("restored".into(), json!(true));
                r.msg = Some(format!(
                    "{why}; switched back: nginx serves the previous upstream again"
                ));
                Ok(r)
            }
            // Failed before the file was replaced.
            5 => {
                r.changed = false;
                r.failed = true;
                r.extra.insert("color".into(), json!(current.color()));
                r.extra.insert("servers".into(), json!(current.servers(&a.name)));
                r.msg = Some(format!("cannot replace {}: {why}; nothing was changed", a.path));
                Ok(r)
            }
            _ => {
                r.failed = true;
                r.extra.insert("restored".into(), json!(false));
                let endpoint = nginx::endpoint(&a.path, a.conf());
                r.msg = Some(format!(
                    "{why}; the previous upstream could NOT be put back. To restore it: {}",
                    NGINX.restore_command(&a.name, Some(&endpoint))
                ));
                Ok(r)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::{registry, StaticCtx};

    fn check(args: Value) -> Result<(), ArgError> {
        registry().get("nginx_upstream").expect("registered").check_args(
            &args,
            &StaticCtx {
                playbook_dir: std::path::Path::new("."),
                role_path: None,
            },
        )
    }

    #[test]
    fn arguments_are_checked_before_anything_runs() {
        let ok = json!({"path": "/x/u.conf", "name": "app", "servers": ["127.0.0.1:8082"], "color": "blue"});
        assert!(check(ok).is_ok());
        assert!(check(json!({"path": "/x", "name": "app", "state": "query"})).is_ok());
        assert!(
            check(json!({"path": "/x", "name": "{{ n }}", "servers": "{{ s }}", "color": "{{ c }}"})).is_ok()
        );
        let err =
            check(json!({"path": "/x", "name": "app", "servers": ["a:1"], "colour": "blue"})).unwrap_err();
        assert_eq!(
            (err.key.as_deref(), err.hint.as_deref()),
            (Some("colour"), Some("did you mean `color`?"))
        );
        let err = check(json!({"path": "/x", "name": "app"})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("servers"));
        let err =
            check(json!({"path": "/x", "name": "app", "servers": ["a:1; include /etc/x"]})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("servers"));
        let err = check(json!({"path": "/x", "name": "app", "state": "absent"})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("state"));
        let err = check(json!({"path": "/x", "name": "my app", "state": "query"})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("name"));
        assert!(
            check(json!({"path": "/x", "name": "a", "servers": ["a:1"], "verify_url": "localhost"})).is_err()
        );
        assert!(
            check(json!({"name": "a", "state": "query"})).is_err(),
            "path is required"
        );
    }

    fn current(text: &str) -> Current {
        Current {
            text: Some(text.to_owned()),
            file: UpstreamFile::parse(text),
        }
    }

    #[test]
    fn same_servers_and_color_is_no_change() {
        let servers = vec!["10.0.0.1:8082".to_owned(), "10.0.0.2:8082".to_owned()];
        let now = current(&nginx::render_upstream("app", &servers, Some("blue")));
        assert!(unchanged(&now, "app", &servers, Some("blue")));
        assert!(
            unchanged(&now, "app", &servers, None),
            "no color asked: the servers decide"
        );
        assert!(!unchanged(&now, "app", &servers, Some("green")));
        assert!(!unchanged(&now, "app", &servers[..1], Some("blue")));
        assert!(!unchanged(&now, "other", &servers, Some("blue")));
        let missing = Current {
            text: None,
            file: UpstreamFile::default(),
        };
        assert!(!unchanged(&missing, "app", &[], None));
    }

    #[test]
    fn the_script_gets_its_arguments_quoted() {
        let a: Args = args::parse(
            "nginx_upstream",
            &json!({"path": "/tmp/it's/u.conf", "name": "app", "servers": ["a:1"], "verify_url": "http://x/"}),
        )
        .unwrap();
        let s = script(&a, "switch", "M ", "upstream app {\n}\n");
        assert!(
            s.starts_with("m='M '\nmode=switch\npath='/tmp/it'\\''s/u.conf'\nconf=/etc/nginx/nginx.conf\n"),
            "{s}"
        );
        assert!(
            s.contains("previous='/tmp/it'\\''s/u.conf.zdd-previous'\n"),
            "{s}"
        );
        assert!(s.contains("retries=10\ndelay=0.5\n"), "{s}");
    }
}
