//! `user`: a local user present or absent, as Ansible's `user` module manages it on Linux
//! (useradd, usermod, userdel, chage, ssh-keygen; `user.sh`).
//!
//! The same changes as Ansible's for the same arguments: `uid`, `group`, `groups` (with
//! `append`), `comment`, `home` (`move_home`), `shell`, `expires`,
//! `password_expire_*`, `password_lock`, `password` (a hash; with `update_password`),
//! `create_home`, `skeleton`, `system`, `remove`, `force`, `generate_ssh_key` and
//! `ssh_key_*`. Returned under `register` with Ansible's keys: `name`, `state`, `uid`,
//! `group` (the gid), `comment`, `home`, `shell`, `groups` (as given), `system` and
//! `create_home` for a new user, `append` and `move_home` for an existing one, `force` and
//! `remove` for a deleted one, `ssh_key_file`, `ssh_fingerprint`, `ssh_public_key`,
//! `password: NOT_LOGGING_PASSWORD`. In check mode a user to add or delete reports only
//! `changed`, as Ansible's early exit does.
//!
//! The password hash is never in a command's arguments: it travels on the script's
//! standard input to `chpasswd -e` (Ansible passes it to `useradd -p`/`usermod -p`).
//! Not done: `ssh_key_passphrase` (ssh-keygen takes it only as an argument or from a
//! terminal) and `local: true` (luseradd); both are refused with a message.

use super::args::{self, check_choice, fresh_mark, split_marks};
use super::group::{command_failed, flag, num};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct User;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(alias = "user")]
    name: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default, deserialize_with = "args::opt_i64")]
    uid: Option<i64>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    non_unique: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_text")]
    group: Option<String>,
    #[serde(default, deserialize_with = "groups_list")]
    groups: Option<Vec<String>>,
    #[serde(default, deserialize_with = "args::opt_text")]
    comment: Option<String>,
    #[serde(default)]
    home: Option<String>,
    #[serde(default)]
    shell: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    password: Option<String>,
    #[serde(default)]
    update_password: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    password_lock: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_i64")]
    password_expire_max: Option<i64>,
    #[serde(default, deserialize_with = "args::opt_i64")]
    password_expire_min: Option<i64>,
    #[serde(default, deserialize_with = "args::opt_i64")]
    password_expire_warn: Option<i64>,
    #[serde(default, deserialize_with = "args::opt_i64")]
    password_expire_account_disable: Option<i64>,
    #[serde(default, deserialize_with = "opt_float")]
    expires: Option<f64>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    force: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    remove: Option<bool>,
    #[serde(default, alias = "createhome", deserialize_with = "args::opt_bool")]
    create_home: Option<bool>,
    #[serde(default)]
    skeleton: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    system: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    move_home: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    append: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    generate_ssh_key: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_i64")]
    ssh_key_bits: Option<i64>,
    #[serde(default)]
    ssh_key_type: Option<String>,
    #[serde(default)]
    ssh_key_file: Option<String>,
    #[serde(default)]
    ssh_key_comment: Option<String>,
    #[serde(default)]
    ssh_key_passphrase: Option<String>,
    #[serde(default)]
    seuser: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    local: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_text")]
    umask: Option<String>,
    #[serde(default, deserialize_with = "args::opt_i64")]
    uid_min: Option<i64>,
    #[serde(default, deserialize_with = "args::opt_i64")]
    uid_max: Option<i64>,
    // macOS, BSD and Solaris options: accepted, and without effect on Linux as in Ansible.
    #[serde(default, deserialize_with = "args::opt_bool")]
    hidden: Option<bool>,
    #[serde(default)]
    login_class: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    authorization: Option<String>,
    #[serde(default)]
    role: Option<String>,
}

/// `groups`: a list, or one string split on commas (`[]` and `""`: no supplementary groups).
fn groups_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    args::opt_list(d)
}

fn opt_float<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    use serde::de::Error as _;
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(n.as_f64()),
        Value::String(s) if args::is_template(&s) => Ok(None),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("`{s}` is not a number"))),
        _ => Err(D::Error::custom("expected a number of seconds since the epoch")),
    }
}

/// `expires` for the script: `neg` (no expiry), or whole seconds since the epoch.
fn expires_word(expires: Option<f64>) -> String {
    match expires {
        None => String::new(),
        Some(e) if e < 0.0 => "neg".into(),
        Some(e) => format!("{}", e.floor() as i64),
    }
}

fn script(a: &Args, check_mode: bool, mark: &str) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let lock = match a.password_lock {
        Some(true) => "1",
        Some(false) => "0",
        None => "",
    };
    let key_type = a.ssh_key_type.clone().unwrap_or_else(|| "rsa".into());
    let key_file = a
        .ssh_key_file
        .clone()
        .unwrap_or_else(|| format!(".ssh/id_{key_type}"));
    let groups = a.groups.as_ref().map(|g| g.join(",")).unwrap_or_default();
    sh_script(
        &[
            ("m", mark),
            ("name", &a.name),
            ("state", a.state.as_deref().unwrap_or("present")),
            ("uid", &num(a.uid)),
            ("non_unique", flag(a.non_unique)),
            ("group", &opt(&a.group)),
            ("groups_set", flag(Some(a.groups.is_some()))),
            ("groups", &groups),
            ("comment_set", flag(Some(a.comment.is_some()))),
            ("comment", &opt(&a.comment)),
            ("home", &opt(&a.home)),
            ("shell", &opt(&a.shell)),
            ("has_password", flag(Some(a.password.is_some()))),
            (
                "update_password",
                a.update_password.as_deref().unwrap_or("always"),
            ),
            ("password_lock", lock),
            ("expire_min", &num(a.password_expire_min)),
            ("expire_max", &num(a.password_expire_max)),
            ("expire_warn", &num(a.password_expire_warn)),
            ("inactive", &num(a.password_expire_account_disable)),
            ("expires", &expires_word(a.expires)),
            ("force", flag(a.force)),
            ("remove", flag(a.remove)),
            ("create_home", flag(Some(a.create_home != Some(false)))),
            ("skeleton", &opt(&a.skeleton)),
            ("system", flag(a.system)),
            ("move_home", flag(a.move_home)),
            ("append", flag(a.append)),
            ("gen_key", flag(a.generate_ssh_key)),
            ("key_type", &key_type),
            ("key_bits", &a.ssh_key_bits.unwrap_or(0).to_string()),
            ("key_file", &key_file),
            ("key_comment_set", flag(Some(a.ssh_key_comment.is_some()))),
            ("key_comment", &a.ssh_key_comment.clone().unwrap_or_default()),
            ("seuser", &opt(&a.seuser)),
            ("local", flag(a.local)),
            ("umask", &opt(&a.umask)),
            ("uid_min", &num(a.uid_min)),
            ("uid_max", &num(a.uid_max)),
            ("check", flag(Some(check_mode))),
        ],
        include_str!("user.sh"),
    )
}

#[async_trait]
impl TypedModule for User {
    type Args = Args;

    fn name(&self) -> &'static str {
        "user"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        check_choice("state", a.state.as_deref(), &["absent", "present"])?;
        check_choice(
            "update_password",
            a.update_password.as_deref(),
            &["always", "on_create"],
        )?;
        if a.ssh_key_passphrase.is_some() {
            return Err(ArgError::new(
                "zdd does not set `ssh_key_passphrase`: ssh-keygen takes a passphrase only as an argument, \
                 where any user on the host could read it",
            )
            .key("ssh_key_passphrase")
            .hint("generate the key without a passphrase, or run this task through Ansible"));
        }
        if a.local == Some(true) && (a.umask.is_some() || a.uid_min.is_some() || a.uid_max.is_some()) {
            return Err(
                ArgError::new("'umask', 'uid_min' and 'uid_max' can not be used with 'local'").key("local"),
            );
        }
        if a.password.as_deref().is_some_and(|p| p.contains(['\n', ':'])) {
            return Err(
                ArgError::new("`password` must be a crypt hash: one line, without `:`").key("password"),
            );
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let mark = fresh_mark();
        let _ = (&a.hidden, &a.login_class, &a.profile, &a.authorization, &a.role);
        let mut cmd = RemoteCommand::new(script(&a, ctx.check_mode, &mark)).run_as(ctx.run_as.cloned());
        if let Some(password) = &a.password {
            cmd = cmd.stdin(format!("{password}\n").into_bytes());
        }
        let out = ctx.host.run(&cmd).await?;
        let (marks, stdout) = split_marks(&out.stdout, &mark);
        if out.rc != 0 {
            let mut r = command_failed(out.rc, &out.stderr, "user");
            r.extra.insert("name".into(), json!(a.name));
            return Ok(r);
        }
        let mut r = ModuleResult::changed(marks.contains_key("ran"));
        if marks.contains_key("early") {
            return Ok(r);
        }
        let state = a.state.clone().unwrap_or_else(|| "present".into());
        let bool_of = |b: Option<bool>| json!(b == Some(true));
        r.extra.insert("name".into(), json!(a.name));
        r.extra.insert("state".into(), json!(state));
        if state == "absent" {
            if r.changed {
                r.extra.insert("force".into(), bool_of(a.force));
                r.extra.insert("remove".into(), bool_of(a.remove));
            }
        } else {
            if marks.contains_key("created") {
                r.extra.insert("system".into(), bool_of(a.system));
                r.extra
                    .insert("create_home".into(), json!(a.create_home != Some(false)));
            } else {
                r.extra.insert("append".into(), bool_of(a.append));
                r.extra.insert("move_home".into(), bool_of(a.move_home));
            }
            if a.password.is_some() {
                r.extra.insert("password".into(), json!("NOT_LOGGING_PASSWORD"));
            }
        }
        if !stdout.is_empty() {
            r.stdout = Some(stdout);
        }
        if !out.stderr.is_empty() {
            r.stderr = Some(out.stderr);
        }
        if state == "present" {
            let int = |k: &str| marks.get(k).and_then(|v| v.parse::<i64>().ok());
            if let (Some(uid), Some(gid)) = (int("uid"), int("group")) {
                r.extra.insert("uid".into(), json!(uid));
                r.extra.insert("group".into(), json!(gid));
                for key in ["comment", "home", "shell"] {
                    r.extra
                        .insert(key.into(), json!(marks.get(key).cloned().unwrap_or_default()));
                }
            }
            if let Some(groups) = &a.groups {
                r.extra.insert("groups".into(), json!(groups.join(",")));
            }
            if let Some(file) = marks.get("ssh_key_file") {
                r.extra.insert(
                    "ssh_fingerprint".into(),
                    json!(marks.get("ssh_fingerprint").cloned().unwrap_or_default()),
                );
                r.extra.insert("ssh_key_file".into(), json!(file));
                r.extra.insert(
                    "ssh_public_key".into(),
                    marks.get("ssh_public_key").map_or(Value::Null, |k| json!(k)),
                );
            }
            if ["home_made", "key_made", "aged"]
                .iter()
                .any(|k| marks.contains_key(*k))
            {
                r.changed = true;
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::{registry, StaticCtx};

    fn check(args: Value) -> Result<(), ArgError> {
        registry()
            .get("ansible.builtin.user")
            .expect("registered")
            .check_args(
                &args,
                &StaticCtx {
                    playbook_dir: std::path::Path::new("."),
                    role_path: None,
                },
            )
    }

    #[test]
    fn arguments_and_aliases() {
        assert!(
            check(json!({"user": "app", "uid": "1500", "groups": "adm,www-data", "createhome": "no"}))
                .is_ok()
        );
        assert!(check(json!({"name": "app", "groups": [], "append": true, "expires": -1})).is_ok());
        let err = check(json!({"name": "app", "update_password": "sometimes"})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("update_password"));
        let err = check(json!({"name": "app", "shel": "/bin/sh"})).unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `shell`?"));
        let err =
            check(json!({"name": "app", "generate_ssh_key": true, "ssh_key_passphrase": "x"})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("ssh_key_passphrase"));
    }

    #[test]
    fn the_password_is_not_in_the_script() {
        let a: Args = args::parse(
            "user",
            &json!({"name": "app", "password": "$6$salt$hash", "expires": 86400.5}),
        )
        .unwrap();
        let s = script(&a, false, "M ");
        assert!(!s.contains("$6$salt$hash"), "{s}");
        assert!(
            s.contains("has_password=1\n") && s.contains("expires=86400\n"),
            "{s}"
        );
        assert_eq!(expires_word(Some(-5.0)), "neg");
    }
}
