//! `getent`: a name service database (`passwd`, `group`, `hosts`, `services`, ...) read
//! with the target's `getent`, set as the fact `getent_<database>` (also under
//! `ansible_facts`), each entry keyed by its first field as Ansible keys it: the rest of
//! the line split on `split` (`:` for passwd, shadow, group and gshadow, else whitespace),
//! a repeated key becoming a list of entries. `fail_key: false` sets a missing key to
//! null with a `msg` instead of failing. Read-only: the same in check mode.

use super::args::{self, fresh_mark};
use super::group::command_failed;
use super::{Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_quote, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub struct Getent;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    database: String,
    #[serde(default, deserialize_with = "args::opt_text")]
    key: Option<String>,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    split: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    fail_key: Option<bool>,
}

const COLON: &[&str] = &["passwd", "shadow", "group", "gshadow"];

/// `getent`'s output as Ansible's fact holds it.
fn parse(out: &str, split: Option<&str>) -> Map<String, Value> {
    let mut db = Map::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for line in out.lines() {
        let fields: Vec<&str> = match split {
            Some(sep) => line.split(sep).collect(),
            None => line.split_whitespace().collect(),
        };
        let Some((first, rest)) = fields.split_first() else {
            continue;
        };
        let rest = json!(rest);
        let count = seen.entry((*first).to_owned()).or_insert(0);
        *count += 1;
        match (*count, db.get_mut(*first)) {
            (1, _) | (_, None) => {
                db.insert((*first).to_owned(), rest);
            }
            (2, Some(old)) => *old = json!([old.clone(), rest]),
            (_, Some(Value::Array(list))) => list.push(rest),
            (_, Some(_)) => {}
        }
    }
    db
}

#[async_trait]
impl TypedModule for Getent {
    type Args = Args;

    fn name(&self) -> &'static str {
        "getent"
    }

    fn defines_vars(&self, a: &Args) -> Vec<String> {
        if args::is_template(&a.database) {
            return Vec::new();
        }
        vec![format!("getent_{}", a.database)]
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let mark = fresh_mark();
        let mut script = format!("getent {}", sh_quote(&a.database));
        if let Some(key) = &a.key {
            script.push_str(&format!(" {}", sh_quote(key)));
        }
        if let Some(service) = &a.service {
            script.push_str(&format!(" -s {}", sh_quote(service)));
        }
        script.push_str(&format!("\necho \"{mark}rc=$?\""));
        let out = ctx
            .host
            .run(&RemoteCommand::new(script).run_as(ctx.run_as.cloned()))
            .await?;
        let (marks, stdout) = args::split_marks(&out.stdout, &mark);
        let Some(rc) = marks.get("rc").and_then(|rc| rc.parse::<i32>().ok()) else {
            return Ok(command_failed(out.rc, &out.stderr, "getent"));
        };
        let split = a
            .split
            .clone()
            .or_else(|| COLON.contains(&a.database.as_str()).then(|| ":".to_owned()));
        let fact = format!("getent_{}", a.database);
        let mut r = ModuleResult::ok();
        let db = match rc {
            0 => parse(&stdout, split.as_deref()),
            2 if a.fail_key == Some(false) => {
                r.msg = Some("One or more supplied key could not be found in the database.".into());
                let mut db = Map::new();
                db.insert(a.key.clone().unwrap_or_default(), Value::Null);
                db
            }
            1 => return Err("Missing arguments, or database unknown.".into()),
            2 => return Err("One or more supplied key could not be found in the database.".into()),
            3 => return Err("Enumeration not supported on this database.".into()),
            _ => return Err("Unexpected failure!".into()),
        };
        let mut facts = match ctx.vars.get("ansible_facts") {
            Some(Value::Object(facts)) => facts.clone(),
            _ => Map::new(),
        };
        facts.insert(fact.clone(), Value::Object(db.clone()));
        r.facts.insert(fact, Value::Object(db));
        r.facts.insert("ansible_facts".into(), Value::Object(facts));
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_keyed_by_their_first_field() {
        let db = parse(
            "root:x:0:0:root:/root:/bin/bash\ndeploy:x:1000:1000::/home/deploy:/bin/sh\n",
            Some(":"),
        );
        assert_eq!(db["root"], json!(["x", "0", "0", "root", "/root", "/bin/bash"]));
        assert_eq!(db["deploy"][4], json!("/home/deploy"));
    }

    #[test]
    fn repeated_keys_become_a_list_and_whitespace_splits_by_default() {
        let db = parse(
            "127.0.0.1       localhost\n127.0.0.1  lab\n127.0.0.1 x y\n::1 localhost ip6-localhost\n",
            None,
        );
        assert_eq!(db["127.0.0.1"], json!([["localhost"], ["lab"], ["x", "y"]]));
        assert_eq!(db["::1"], json!(["localhost", "ip6-localhost"]));
    }
}
