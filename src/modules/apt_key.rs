//! `apt_key`: an OpenPGP key present in or absent from apt's keyring (or `keyring`), with
//! the target's `apt-key` and `gpg`, as ansible-core's `apt_key` does.
//!
//! Without `id`, the key's id is the first key `gpg --with-colons` lists of `file` (on the
//! target), `data`, or `url` (downloaded by the target's curl, else wget) — one round trip.
//! The keyring's keys are then listed (`apt-key adv --list-public-keys`, a second one) and
//! compared as Ansible compares them (`plan`, pure and unit-tested): an 8-character id by
//! the keys' short ids, a longer one by its last 16 characters. A change (skipped in
//! check mode) is one more round trip: `apt-key add` (the file, `data` or the URL's body
//! on stdin, or `adv --recv` from `keyserver`, tried five times) or `apt-key del` of the
//! short id, then the keys listed again to check it took. Returned as in Ansible: `id`
//! (as given, or the one found), `short_id`, `fp`, `key_id`, `before`, and `after` when
//! something was written; a failure carries them too.

use super::args::{self, check_choice, fresh_mark, split_marks};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use base64::Engine;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub struct AptKey;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default, deserialize_with = "args::opt_text")]
    id: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    data: Option<String>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    keyring: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    validate_certs: Option<bool>,
    #[serde(default)]
    keyserver: Option<String>,
    #[serde(default)]
    state: Option<String>,
}

/// The sources of a key, of which a task gives one at most.
const SOURCES: &[&str] = &["data", "file", "keyserver", "url"];

/// A key id as Ansible splits it: the last 8 characters (what `apt-key del` takes), the
/// last 16 (what the listing shows), and the whole id (what `--recv` takes).
#[derive(Debug, PartialEq)]
struct KeyId {
    short: String,
    fp: String,
    full: String,
}

/// Does Python's `int(text, 16)` accept `text`? (Spaces around, a sign, `0x`, and single
/// underscores between digits.)
fn python_hex(text: &str) -> bool {
    let t = text.trim();
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .map_or(t, |rest| rest.strip_prefix('_').unwrap_or(rest));
    !t.is_empty()
        && !t.starts_with('_')
        && !t.ends_with('_')
        && !t.contains("__")
        && t.chars().all(|c| c.is_ascii_hexdigit() || c == '_')
}

/// Ansible's `parse_key_id`: 8, 16 or more hex characters, an optional `0x` before them.
fn parse_key_id(id: &str) -> Option<KeyId> {
    if !python_hex(id) {
        return None;
    }
    let upper = id.to_uppercase();
    let full = upper.strip_prefix("0X").unwrap_or(&upper).to_owned();
    let n = full.chars().count();
    if n != 8 && n != 16 && n <= 16 {
        return None;
    }
    let tail = |k: usize| full.chars().skip(n.saturating_sub(k)).collect::<String>();
    Some(KeyId {
        short: tail(8),
        fp: tail(16),
        full,
    })
}

/// Ansible's `parse_output_for_keys`: the ids of the `pub` and `sub` lines that are not
/// expired, from apt-key's listing (`pub   ed25519/ID ...`) or gpg's colons (`pub:-:...:ID:`);
/// `short`: their last 8 characters.
fn keys_listed(output: &str, short: bool) -> Vec<String> {
    let mut found = Vec::new();
    for line in output.split('\n') {
        if !(line.starts_with("pub") || line.starts_with("sub")) || line.contains("expired") {
            continue;
        }
        let code = line.split_whitespace().nth(1).and_then(|code| {
            let parts: Vec<&str> = code.split('/').collect();
            (parts.len() == 2).then(|| parts[1].to_owned())
        });
        let code = code.or_else(|| line.split(':').nth(4).map(str::to_owned));
        if let Some(code) = code {
            found.push(code);
        }
    }
    if short {
        for k in &mut found {
            *k = k.chars().skip(k.chars().count().saturating_sub(8)).collect();
        }
    }
    found
}

/// What to do to the keyring.
#[derive(Debug, PartialEq)]
enum Plan {
    Nothing,
    Add,
    Remove,
}

/// Is the key among `keys` (listed short when its id is 8 characters)?
fn is_listed(key: &KeyId, keys: &[String]) -> bool {
    let wanted = if key.full.chars().count() == 8 {
        &key.short
    } else {
        &key.fp
    };
    keys.contains(wanted)
}

/// Ansible's rule: add a key not listed; remove one whose `fp` is listed.
fn plan(key: &KeyId, present: bool, keys: &[String]) -> Plan {
    match present {
        true if !is_listed(key, keys) => Plan::Add,
        false if keys.contains(&key.fp) => Plan::Remove,
        _ => Plan::Nothing,
    }
}

/// Ansible's `mask_url`: a user name and password in the URL become `****`.
fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (netloc, path) = rest.split_at(end);
    let Some((creds, host)) = netloc.rsplit_once('@') else {
        return url.to_owned();
    };
    let masked = if creds.contains(':') { "****:****" } else { "****" };
    format!("{scheme}://{masked}@{host}{path}")
}

/// One phase's output: its marks, and the command output after `{mark}out=`.
struct Reply {
    marks: IndexMap<String, String>,
    out: String,
    stderr: String,
    rc: i32,
}

impl Reply {
    fn get(&self, key: &str) -> Option<&str> {
        self.marks.get(key).map(String::as_str)
    }

    fn code(&self, key: &str) -> i32 {
        self.get(key).and_then(|v| v.parse().ok()).unwrap_or(-1)
    }
}

/// The task's result so far, carried by the failures that Ansible reports with
/// `fail_json(**r)`; a command's failure carries only the command's own fields.
struct Outcome {
    changed: bool,
    extra: Map<String, Value>,
}

impl Outcome {
    fn fail(&self, msg: impl Into<String>) -> ModuleResult {
        let mut r = ModuleResult::failed(msg);
        r.changed = self.changed;
        r.extra = self.extra.clone();
        r
    }
}

/// A command that failed: the message with its `cmd`, `rc`, `stdout` and `stderr`.
fn command_failed(msg: impl Into<String>, cmd: String, rc: i32, stdout: &str, stderr: &str) -> ModuleResult {
    let mut r = ModuleResult::failed(msg);
    r.extra.insert("cmd".into(), json!(cmd));
    r.rc = Some(rc);
    r.stdout = Some(args::trim_end_newlines(stdout));
    r.stderr = Some(args::trim_end_newlines(stderr));
    r
}

struct Remote<'a> {
    ctx: &'a ModuleCtx<'a>,
    a: &'a Args,
    file: String,
}

impl Remote<'_> {
    async fn run(
        &self,
        phase: &str,
        action: &str,
        key: Option<&KeyId>,
        stdin: Option<Vec<u8>>,
    ) -> Result<Reply, Failure> {
        let mark = fresh_mark();
        let a = self.a;
        let script = sh_script(
            &[
                ("m", mark.as_str()),
                ("phase", phase),
                ("action", action),
                ("keyring", a.keyring.as_deref().unwrap_or("")),
                ("file", &self.file),
                ("url", a.url.as_deref().unwrap_or("")),
                (
                    "validate",
                    if a.validate_certs == Some(false) { "0" } else { "1" },
                ),
                ("keyserver", a.keyserver.as_deref().unwrap_or("")),
                ("key_id", key.map_or("", |k| k.full.as_str())),
                ("short_id", key.map_or("", |k| k.short.as_str())),
            ],
            include_str!("apt_key.sh"),
        );
        let mut cmd = RemoteCommand::new(script).run_as(self.ctx.run_as.cloned());
        if let Some(bytes) = stdin {
            cmd = cmd.stdin(bytes);
        }
        let out = self.ctx.host.run(&cmd).await?;
        let tag = format!("{mark}out=\n");
        let (head, body) = out.stdout.split_once(&tag).unwrap_or((&out.stdout, ""));
        Ok(Reply {
            marks: split_marks(head, &mark).0,
            out: body.to_owned(),
            stderr: out.stderr,
            rc: out.rc,
        })
    }

    /// `apt-key [--keyring K]` as Ansible writes it in `cmd`.
    fn apt_key(&self, reply: &Reply) -> String {
        let bin = reply.get("bin_apt-key").unwrap_or("apt-key");
        match &self.a.keyring {
            Some(k) => format!("{bin} --keyring {k}"),
            None => bin.to_owned(),
        }
    }
}

/// A script that stopped short: a binary missing, a download failed, or the shell failed.
fn stopped(reply: &Reply, url: &str) -> Option<ModuleResult> {
    if let Some(msg) = reply.get("msg") {
        return Some(ModuleResult::failed(msg));
    }
    if let Some(why) = reply.get("fetch_error") {
        return Some(ModuleResult::failed(format!(
            "Failed to download key at {}: {why}",
            mask_url(url)
        )));
    }
    (reply.rc != 0).then(|| {
        let mut r = ModuleResult::failed(match reply.stderr.trim() {
            "" => format!("apt_key failed (exit code {})", reply.rc),
            msg => msg.to_owned(),
        });
        r.rc = Some(reply.rc);
        r
    })
}

#[async_trait]
impl TypedModule for AptKey {
    type Args = Args;

    fn name(&self) -> &'static str {
        "apt_key"
    }

    fn check(&self, a: &Args, raw: &Value) -> Result<(), ArgError> {
        check_choice("state", a.state.as_deref(), &["absent", "present"])?;
        let given: Vec<&str> = SOURCES
            .iter()
            .copied()
            .filter(|k| raw.get(*k).is_some())
            .collect();
        if given.len() > 1 {
            return Err(ArgError::new(format!(
                "parameters are mutually exclusive: {}",
                SOURCES.join("|")
            ))
            .key(given[1])
            .hint(format!("give one of {}", given.join(", "))));
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let present = a.state.as_deref() != Some("absent");
        let url = a.url.clone().unwrap_or_default();
        let remote = Remote {
            ctx,
            a: &a,
            file: a.file.clone().unwrap_or_default(),
        };
        let mut o = Outcome {
            changed: false,
            extra: Map::new(),
        };
        let mut data: Option<Vec<u8>> = a.data.clone().map(String::into_bytes);
        let mut id = a.id.clone().filter(|i| !i.is_empty());
        if id.is_none() {
            if a.keyserver.is_some() {
                return Ok(o.fail("Missing key_id, required with keyserver."));
            }
            let from_data = data.as_ref().is_some_and(|d| !d.is_empty());
            if !url.is_empty() || a.file.is_some() || from_data {
                let stdin = if a.file.is_none() && url.is_empty() {
                    data.clone()
                } else {
                    None
                };
                let reply = remote.run("id", "", None, stdin).await?;
                if let Some(r) = stopped(&reply, &url) {
                    return Ok(r);
                }
                if let Some(body) = reply.get("body") {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(body.trim())
                        .map_err(|e| {
                            format!(
                                "reading the key from {}: bad base64 from the host: {e}",
                                mask_url(&url)
                            )
                        })?;
                    data = Some(bytes);
                }
                let tried = a.file.is_some() || data.as_ref().is_some_and(|d| !d.is_empty());
                if tried {
                    if reply.code("rc") != 0 {
                        let what = match &a.file {
                            Some(f) => f.clone(),
                            None => "inline data".into(),
                        };
                        let mut r = ModuleResult::failed(format!("Unable to extract key from '{what}'"));
                        r.stdout = Some(args::trim_end_newlines(&reply.out));
                        r.stderr = Some(args::trim_end_newlines(&reply.stderr));
                        return Ok(r);
                    }
                    id = keys_listed(&reply.out, false).into_iter().next();
                }
            }
        }
        o.extra.insert("id".into(), json!(id));
        let Some(key) = id.as_deref().and_then(parse_key_id) else {
            return Ok(o.fail("Invalid key_id"));
        };
        o.extra.insert("short_id".into(), json!(key.short));
        o.extra.insert("fp".into(), json!(key.fp));
        o.extra.insert("key_id".into(), json!(key.full));
        let short = key.full.chars().count() == 8;
        let list_failed = |r: &Reply| {
            let rc = r.code("list_rc");
            let cmd = format!("{} adv --list-public-keys --keyid-format=long", remote.apt_key(r));
            (rc != 0).then(|| command_failed("Unable to list public keys", cmd, rc, &r.out, &r.stderr))
        };

        let reply = remote.run("list", "", None, None).await?;
        if let Some(r) = stopped(&reply, &url) {
            return Ok(r);
        }
        if let Some(failed) = list_failed(&reply) {
            return Ok(failed);
        }
        let before = keys_listed(&reply.out, short);
        o.extra.insert("before".into(), json!(before));
        let p = plan(&key, present, &before);
        if p == Plan::Nothing {
            return Ok(ModuleResult {
                extra: o.extra,
                ..ModuleResult::changed(false)
            });
        }
        o.changed = true;
        if ctx.check_mode {
            return Ok(ModuleResult {
                extra: o.extra,
                ..ModuleResult::changed(true)
            });
        }
        let (action, stdin) = match p {
            Plan::Remove => ("del", None),
            _ if a.file.is_some() => ("file", None),
            _ if a.keyserver.is_some() => ("keyserver", None),
            _ if data.as_ref().is_some_and(|d| !d.is_empty()) => ("data", data.clone()),
            _ if !url.is_empty() => ("url", None),
            _ => return Ok(o.fail("No key to add ... how did i get here?!?!")),
        };
        let reply = remote.run("write", action, Some(&key), stdin).await?;
        if let Some(r) = stopped(&reply, &url) {
            return Ok(r);
        }
        let ak = remote.apt_key(&reply);
        let rc = reply.code("rc");
        if rc != 0 {
            let act_out = reply
                .get("act_out")
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            let proxy = reply
                .get("proxy")
                .map(|p| format!(" --keyserver-options http-proxy={p}"))
                .unwrap_or_default();
            let keyserver = a.keyserver.clone().unwrap_or_default();
            return Ok(match action {
                "del" => {
                    let mut r = command_failed(
                        format!("Unable to remove a key with id {}", key.short),
                        format!("{ak} del {}", key.short),
                        rc,
                        &act_out,
                        &reply.stderr,
                    );
                    r.extra.insert("key_id".into(), json!(key.short));
                    r
                }
                "file" => {
                    let mut r = command_failed(
                        format!("Unable to add a key from file {}", remote.file),
                        format!("{ak} add {}", remote.file),
                        rc,
                        &act_out,
                        &reply.stderr,
                    );
                    r.extra.insert("keyfile".into(), json!(remote.file));
                    r
                }
                "keyserver" => {
                    let cmd = format!(
                        "{ak} adv --no-tty --keyserver {keyserver}{proxy} --recv {}",
                        key.full
                    );
                    if rc == 2 && act_out.contains("not found on keyserver") {
                        let mut r = ModuleResult::failed(format!(
                            "Key {} not found on keyserver {keyserver}",
                            key.full
                        ));
                        r.extra.insert("cmd".into(), json!(cmd));
                        r
                    } else {
                        command_failed(
                            format!("Error fetching key {} from keyserver: {keyserver}", key.full),
                            cmd,
                            rc,
                            &act_out,
                            &reply.stderr,
                        )
                    }
                }
                _ => command_failed(
                    "Unable to add a key from binary data",
                    format!("{ak} add -"),
                    rc,
                    &act_out,
                    &reply.stderr,
                ),
            });
        }
        if let Some(failed) = list_failed(&reply) {
            return Ok(failed);
        }
        let after = keys_listed(&reply.out, short);
        o.extra.insert("after".into(), json!(after));
        const NO_ERROR: &str =
            "apt-key did not return an error, but {} (check that the id is correct and *not* a subkey)";
        match p {
            Plan::Add if !is_listed(&key, &after) => {
                Ok(o.fail(NO_ERROR.replace("{}", "failed to add the key")))
            }
            Plan::Remove if after.contains(&key.fp) => {
                Ok(o.fail(NO_ERROR.replace("{}", "the key was not removed")))
            }
            _ => Ok(ModuleResult {
                extra: o.extra,
                ..ModuleResult::changed(true)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = "Executing: /tmp/apt-key-gpghome.x/gpg.1.sh --list-public-keys --keyid-format=long
/tmp/k.gpg
----------
pub   ed25519/DF066166BABEC2C4 2026-12-01 [SC]
      429E33EEA5246F3E0941F4F5DF066166BABEC2C4
uid                 [ unknown] zdd test key one <one@zdd.test>
sub   cv25519/146D0DEBEB4E0E77 2026-12-01 [E]

pub   rsa4096/0123456789ABCDEF 2015-01-01 [SC] [expired: 2020-01-01]
uid                 [ expired] old <old@zdd.test>
";

    const COLONS: &str = "pub:-:255:22:DF066166BABEC2C4:1796112403:::-:
uid:::::::::zdd test key one <one@zdd.test>:
sub:-:255:18:146D0DEBEB4E0E77:1796112408::::
";

    fn key(id: &str) -> KeyId {
        parse_key_id(id).unwrap()
    }

    #[test]
    fn key_ids_are_split_as_ansible_splits_them() {
        assert_eq!(
            key("0xbabec2c4"),
            KeyId {
                short: "BABEC2C4".into(),
                fp: "BABEC2C4".into(),
                full: "BABEC2C4".into()
            }
        );
        let fpr = key("429E33EEA5246F3E0941F4F5DF066166BABEC2C4");
        assert_eq!(
            (fpr.short.as_str(), fpr.fp.as_str()),
            ("BABEC2C4", "DF066166BABEC2C4")
        );
        assert_eq!(fpr.full.len(), 40);
        assert_eq!(key("DF066166BABEC2C4").fp, "DF066166BABEC2C4");
        for bad in [
            "",
            "1234",
            "123456789",
            "DF066166BABEC2CZ",
            "0x",
            "None",
            "AB__CDEF12",
        ] {
            assert_eq!(parse_key_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn listed_keys_from_apt_key_and_gpg_skip_expired_ones() {
        assert_eq!(
            keys_listed(LISTING, false),
            ["DF066166BABEC2C4", "146D0DEBEB4E0E77"]
        );
        assert_eq!(keys_listed(LISTING, true), ["BABEC2C4", "EB4E0E77"]);
        assert_eq!(
            keys_listed(COLONS, false),
            ["DF066166BABEC2C4", "146D0DEBEB4E0E77"]
        );
        assert!(keys_listed("Executing: x\n", false).is_empty());
    }

    #[test]
    fn plan_compares_short_ids_short_and_long_ids_by_their_last_16() {
        let long = keys_listed(LISTING, false);
        let short = keys_listed(LISTING, true);
        assert_eq!(plan(&key("DF066166BABEC2C4"), true, &long), Plan::Nothing);
        assert_eq!(
            plan(&key("429E33EEA5246F3E0941F4F5DF066166BABEC2C4"), true, &long),
            Plan::Nothing
        );
        assert_eq!(plan(&key("BABEC2C4"), true, &short), Plan::Nothing);
        assert_eq!(plan(&key("4229EFBA9B2A36FD"), true, &long), Plan::Add);
        assert_eq!(plan(&key("9B2A36FD"), true, &short), Plan::Add);
        // A subkey's id is listed too, as in Ansible.
        assert_eq!(plan(&key("146D0DEBEB4E0E77"), true, &long), Plan::Nothing);
        assert_eq!(plan(&key("DF066166BABEC2C4"), false, &long), Plan::Remove);
        assert_eq!(plan(&key("0xBABEC2C4"), false, &short), Plan::Remove);
        assert_eq!(plan(&key("4229EFBA9B2A36FD"), false, &long), Plan::Nothing);
        // An expired key is not listed: present adds it again, absent leaves it.
        assert_eq!(plan(&key("0123456789ABCDEF"), true, &long), Plan::Add);
        assert_eq!(plan(&key("0123456789ABCDEF"), false, &long), Plan::Nothing);
    }

    #[test]
    fn urls_are_masked_as_ansible_masks_them() {
        assert_eq!(
            mask_url("https://u:p@h.example/k.asc"),
            "https://****:****@h.example/k.asc"
        );
        assert_eq!(
            mask_url("https://u@h.example/k.asc"),
            "https://****@h.example/k.asc"
        );
        assert_eq!(mask_url("https://h.example/a@b"), "https://h.example/a@b");
    }
}
