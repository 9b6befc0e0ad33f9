//! `authorized_key` (ansible.posix): SSH public keys present in or absent from a user's
//! `authorized_keys`, edited as Ansible edits it so a file touched by both reads the same.
//!
//! One round trip reads the file (`~user/.ssh/authorized_keys`, or `path`); the edit is
//! pure (`edit`, unit-tested); a second one writes it (through a temporary file renamed
//! into place) only when it changed, creating `.ssh` (0700) and the file (0600) owned by
//! the user as Ansible does (`manage_dir`). As in Ansible: keys are matched on their
//! base64 blob; a present key whose options or comment differ is replaced and moves to
//! the end; lines that are not keys are kept; `exclusive` drops every other key; a key
//! without a comment is written with a trailing space. Returned: the arguments, `keyfile`,
//! and `diff` under `--diff`. Not done: a `key` that is a URL (`http...`) or a
//! `file://` path; both are refused with a message.

use super::args::{self, check_choice, fresh_mark, split_marks};
use super::group::{command_failed, flag};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct AuthorizedKey;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    user: String,
    key: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    manage_dir: Option<bool>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    key_options: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    exclusive: Option<bool>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    validate_certs: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    follow: Option<bool>,
}

const KEY_TYPES: &[&str] = &[
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "ssh-dss",
    "ssh-rsa",
    "ssh-xmss@openssh.com",
    "ssh-xmss-cert-v01@openssh.com",
    "rsa-sha2-256",
    "rsa-sha2-512",
    "ssh-rsa-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com",
    "ssh-dss-cert-v01@openssh.com",
];

/// One line of the file: a key, or a line kept as it is.
#[derive(Debug, Clone, PartialEq)]
enum Line {
    Key {
        blob: String,
        kind: String,
        options: Vec<(String, Option<String>)>,
        comment: String,
        rank: usize,
    },
    Other {
        text: String,
        rank: usize,
    },
}

impl Line {
    fn rank(&self) -> usize {
        match self {
            Line::Key { rank, .. } | Line::Other { rank, .. } => *rank,
        }
    }
}

/// `no-pty,from="a,b",command="x y"` -> its options in order, commas inside quotes kept.
fn parse_options(text: &str) -> Vec<(String, Option<String>)> {
    let mut parts = Vec::new();
    let (mut cur, mut quote) = (String::new(), None);
    for c in text.chars() {
        match (quote, c) {
            (None, ',') => parts.push(std::mem::take(&mut cur)),
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), _) if q == c => {
                quote = None;
                cur.push(c);
            }
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
            None => (p, None),
        })
        .collect()
}

/// A key line, as Ansible's `parsekey` reads it (words split on whitespace): `None` when
/// no word is a key type.
fn parse_key(raw: &str, rank: usize) -> Option<Line> {
    let raw = raw.replace("\\#", "#");
    let words: Vec<&str> = raw.split_whitespace().collect();
    if words.first() == Some(&"#") {
        return Some(Line::Other { text: raw, rank });
    }
    let at = words.iter().position(|w| KEY_TYPES.contains(w))?;
    let blob = words.get(at + 1)?;
    Some(Line::Key {
        blob: (*blob).to_owned(),
        kind: words[at].to_owned(),
        options: parse_options(&words[..at].join(" ")),
        comment: words.get(at + 2..).map(|w| w.join(" ")).unwrap_or_default(),
        rank,
    })
}

/// The file's lines keyed as Ansible keys them (a key by its blob, any other line by its
/// text): a repeated one keeps its last rank.
fn parse_file(content: &str) -> IndexMap<String, Line> {
    let mut lines = IndexMap::new();
    for (rank, line) in content.split_inclusive('\n').enumerate() {
        match parse_key(line, rank) {
            Some(Line::Key {
                blob,
                kind,
                options,
                comment,
                ..
            }) => lines.insert(
                blob.clone(),
                Line::Key {
                    blob,
                    kind,
                    options,
                    comment,
                    rank,
                },
            ),
            _ => lines.insert(
                line.to_owned(),
                Line::Other {
                    text: line.to_owned(),
                    rank,
                },
            ),
        };
    }
    lines
}

fn serialize(lines: &IndexMap<String, Line>) -> String {
    let mut sorted: Vec<&Line> = lines.values().collect();
    sorted.sort_by_key(|l| l.rank());
    let mut out = String::new();
    for line in sorted {
        match line {
            Line::Other { text, .. } => out.push_str(text),
            Line::Key {
                blob,
                kind,
                options,
                comment,
                ..
            } => {
                if !options.is_empty() {
                    let opts: Vec<String> = options
                        .iter()
                        .map(|(k, v)| match v {
                            Some(v) => format!("{k}={v}"),
                            None => k.clone(),
                        })
                        .collect();
                    out.push_str(&opts.join(","));
                    out.push(' ');
                }
                out.push_str(&format!("{kind} {blob} {comment}\n"));
            }
        }
    }
    out
}

/// What the task wants done to the file.
struct Want<'a> {
    keys: &'a str,
    present: bool,
    key_options: Option<&'a str>,
    comment: Option<&'a str>,
    exclusive: bool,
}

/// The file's new content, or `None` when it stays as it is.
fn edit(existing: &str, want: &Want<'_>) -> Result<Option<String>, String> {
    let mut lines = parse_file(existing);
    let base = lines.len();
    let mut write = false;
    let mut keep = Vec::new();
    let new_keys = want.keys.lines().filter(|l| !l.is_empty() && !l.starts_with('#'));
    for (rank, text) in new_keys.enumerate() {
        let Some(Line::Key {
            blob,
            kind,
            mut options,
            mut comment,
            ..
        }) = parse_key(text, rank)
        else {
            return Err(format!("invalid key specified: {text}"));
        };
        if let Some(o) = want.key_options {
            options = parse_options(o);
        }
        if let Some(c) = want.comment {
            comment = c.to_owned();
        }
        let same = |o: &[(String, Option<String>)], k: &str, c: &str| {
            let mut a = o.to_vec();
            let mut b = options.clone();
            a.sort();
            b.sort();
            a == b && k == kind && c == comment
        };
        let matched = match lines.get(&blob) {
            Some(Line::Key {
                kind: k,
                options: o,
                comment: c,
                ..
            }) => same(o, k, c) || !want.present,
            Some(Line::Other { .. }) => true,
            None => false,
        };
        if want.present {
            keep.push(blob.clone());
            if lines.contains_key(&blob) && !matched {
                lines.shift_remove(&blob);
                write = true;
            }
            if !matched {
                lines.insert(
                    blob.clone(),
                    Line::Key {
                        blob,
                        kind,
                        options,
                        comment,
                        rank: base + rank,
                    },
                );
                write = true;
            }
        } else if matched {
            lines.shift_remove(&blob);
            write = true;
        }
    }
    if want.present && want.exclusive {
        let before = lines.len();
        lines.retain(|k, _| keep.contains(k));
        write |= lines.len() != before;
    }
    Ok(write.then(|| serialize(&lines)))
}

fn script(a: &Args, phase: &str, check_mode: bool, mark: &str) -> String {
    sh_script(
        &[
            ("m", mark),
            ("phase", phase),
            ("user", &a.user),
            ("path", a.path.as_deref().unwrap_or("")),
            ("manage_dir", flag(Some(a.manage_dir != Some(false)))),
            ("follow", flag(a.follow)),
            ("check", flag(Some(check_mode))),
        ],
        include_str!("authorized_key.sh"),
    )
}

#[async_trait]
impl TypedModule for AuthorizedKey {
    type Args = Args;

    fn name(&self) -> &'static str {
        "authorized_key"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        check_choice("state", a.state.as_deref(), &["absent", "present"])?;
        if !args::is_template(&a.key) && (a.key.starts_with("http") || a.key.starts_with("file")) {
            return Err(ArgError::new(format!(
                "zdd does not fetch keys from a URL or a file (`{}`): give the key's text",
                a.key
            ))
            .key("key")
            .hint("read it with a lookup on the controller: key: \"{{ lookup('file', 'id.pub') }}\""));
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let mark = fresh_mark();
        let read = RemoteCommand::new(script(&a, "read", ctx.check_mode, &mark)).run_as(ctx.run_as.cloned());
        let out = ctx.host.run(&read).await?;
        if out.rc != 0 {
            return Ok(command_failed(out.rc, &out.stderr, "authorized_key"));
        }
        let content_tag = format!("{mark}content=\n");
        let (head, existing) = match out.stdout.split_once(&content_tag) {
            Some((head, content)) => (head.to_owned(), content.to_owned()),
            None => (out.stdout.clone(), String::new()),
        };
        let keyfile = split_marks(&head, &mark)
            .0
            .get("keyfile")
            .cloned()
            .unwrap_or_default();
        let state = a.state.clone().unwrap_or_else(|| "present".into());
        let want = Want {
            keys: &a.key,
            present: state == "present",
            key_options: a.key_options.as_deref(),
            comment: a.comment.as_deref(),
            exclusive: a.exclusive == Some(true),
        };
        let new_content = edit(&existing, &want)?;
        let mut r = ModuleResult::changed(new_content.is_some());
        if let Some(content) = &new_content {
            let write = RemoteCommand::new(script(&a, "write", ctx.check_mode, &mark))
                .stdin(content.clone().into_bytes())
                .run_as(ctx.run_as.cloned());
            let out = ctx.host.run(&write).await?;
            if out.rc != 0 {
                return Ok(command_failed(out.rc, &out.stderr, "authorized_key"));
            }
            let filename = split_marks(&out.stdout, &mark)
                .0
                .get("filename")
                .cloned()
                .unwrap_or_default();
            if ctx.diff {
                r.extra.insert(
                    "diff".into(),
                    json!({"before_header": keyfile, "after_header": filename, "before": existing, "after": content}),
                );
            }
        }
        let e = &mut r.extra;
        e.insert("user".into(), json!(a.user));
        e.insert("key".into(), json!(a.key));
        e.insert("path".into(), json!(a.path));
        e.insert("manage_dir".into(), json!(a.manage_dir != Some(false)));
        e.insert("state".into(), json!(state));
        e.insert("key_options".into(), json!(a.key_options));
        e.insert("exclusive".into(), json!(a.exclusive == Some(true)));
        e.insert("comment".into(), json!(a.comment));
        e.insert("validate_certs".into(), json!(a.validate_certs != Some(false)));
        e.insert("follow".into(), json!(a.follow == Some(true)));
        e.insert("keyfile".into(), json!(keyfile));
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey1 alice@laptop";
    const K2: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQKey2";

    fn want(keys: &str, present: bool) -> Want<'_> {
        Want {
            keys,
            present,
            key_options: None,
            comment: None,
            exclusive: false,
        }
    }

    #[test]
    fn adds_keys_keeps_other_lines_and_is_idempotent() {
        let existing = "# managed by hand\nnot a key\n";
        let after = edit(existing, &want(&format!("{K1}\n{K2}"), true))
            .unwrap()
            .unwrap();
        assert_eq!(after, format!("# managed by hand\nnot a key\n{K1}\n{K2} \n"));
        assert_eq!(edit(&after, &want(K1, true)).unwrap(), None);
        assert_eq!(edit(&after, &want(K2, true)).unwrap(), None);
    }

    #[test]
    fn changed_options_replace_the_key_at_the_end() {
        let existing = format!("{K1}\n{K2} \n");
        let mut w = want(K1, true);
        w.key_options = Some(r#"no-pty,from="10.0.0.1,10.0.0.2""#);
        let after = edit(&existing, &w).unwrap().unwrap();
        assert_eq!(after, format!("{K2} \nno-pty,from=\"10.0.0.1,10.0.0.2\" {K1}\n"));
        assert_eq!(edit(&after, &w).unwrap(), None);
    }

    #[test]
    fn absent_and_exclusive() {
        let existing = format!("# c\n{K1}\n{K2} \n");
        assert_eq!(
            edit(&existing, &want(K1, false)).unwrap().unwrap(),
            format!("# c\n{K2} \n")
        );
        assert_eq!(edit("", &want(K1, false)).unwrap(), None);
        let mut w = want(K2, true);
        w.exclusive = true;
        assert_eq!(edit(&existing, &w).unwrap().unwrap(), format!("{K2} \n"));
        assert!(edit("", &want("not a key", true))
            .unwrap_err()
            .contains("invalid key"));
    }

    #[test]
    fn options_split_outside_quotes() {
        assert_eq!(
            parse_options(r#"command="a,b",no-pty"#),
            vec![
                ("command".into(), Some("\"a,b\"".into())),
                ("no-pty".into(), None)
            ]
        );
    }
}
