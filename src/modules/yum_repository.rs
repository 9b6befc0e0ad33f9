//! `yum_repository`: one `[name]` section of a `.repo` file in `reposdir`, written as
//! Ansible writes it (Python's configparser layout: `key = value`, the section's keys
//! sorted, a list's further lines indented by a tab, a blank line after each section),
//! other sections of the file kept; a file left without sections is removed. Changed
//! when the sorted dump of the file differs (Ansible's test), or its mode or owner does.
//! Comments in an existing file are dropped on a rewrite, as configparser drops them.

use super::args::{self, check_choice, fresh_mark, mark_lines};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct YumRepository;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    name: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    reposdir: Option<String>,
    #[serde(default, deserialize_with = "args::opt_mode")]
    mode: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    group: Option<String>,
    #[serde(default)]
    seuser: Option<String>,
    #[serde(default)]
    serole: Option<String>,
    #[serde(default)]
    selevel: Option<String>,
    #[serde(default)]
    setype: Option<String>,
    #[serde(default, alias = "attr")]
    attributes: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    unsafe_writes: Option<bool>,
    #[serde(default, rename = "async", deserialize_with = "args::opt_bool")]
    async_: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_text")]
    bandwidth: Option<String>,
    #[serde(default, deserialize_with = "args::opt_list")]
    baseurl: Option<Vec<String>>,
    #[serde(default, deserialize_with = "args::opt_text")]
    cost: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    countme: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_text")]
    deltarpm_metadata_percentage: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    deltarpm_percentage: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    description: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    enablegroups: Option<bool>,
    #[serde(default, alias = "excludepkgs", deserialize_with = "args::opt_list")]
    exclude: Option<Vec<String>>,
    #[serde(default, deserialize_with = "args::opt_text")]
    failovermethod: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    file: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    gpgcakey: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    gpgcheck: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_list")]
    gpgkey: Option<Vec<String>>,
    #[serde(default, deserialize_with = "args::opt_text")]
    http_caching: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    include: Option<String>,
    #[serde(default, deserialize_with = "args::opt_list")]
    includepkgs: Option<Vec<String>>,
    #[serde(default, deserialize_with = "args::opt_text")]
    ip_resolve: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    keepalive: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_text")]
    keepcache: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    metadata_expire: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    metadata_expire_filter: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    metalink: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    mirrorlist: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    mirrorlist_expire: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    module_hotfixes: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_text")]
    password: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    priority: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    protect: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_text")]
    proxy: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    proxy_password: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    proxy_username: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    repo_gpgcheck: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_text")]
    retries: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    s3_enabled: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    skip_if_unavailable: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    ssl_check_cert_permissions: Option<bool>,
    #[serde(default, alias = "ca_cert", deserialize_with = "args::opt_text")]
    sslcacert: Option<String>,
    #[serde(default, alias = "client_cert", deserialize_with = "args::opt_text")]
    sslclientcert: Option<String>,
    #[serde(default, alias = "client_key", deserialize_with = "args::opt_text")]
    sslclientkey: Option<String>,
    #[serde(default, alias = "validate_certs", deserialize_with = "args::opt_bool")]
    sslverify: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_text")]
    throttle: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    timeout: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    ui_repoid_vars: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    username: Option<String>,
}

/// The repo's `key = value` pairs Ansible writes (`description` is `name`), sorted.
fn repo_keys(a: &Args) -> Vec<(&'static str, String)> {
    let mut keys: Vec<(&'static str, String)> = [
        ("async", a.async_.map(|b| if b { "1" } else { "0" }.to_owned())),
        ("bandwidth", a.bandwidth.clone()),
        ("baseurl", a.baseurl.as_ref().map(|v| v.join("\n"))),
        ("cost", a.cost.clone()),
        ("countme", a.countme.map(|b| if b { "1" } else { "0" }.to_owned())),
        (
            "deltarpm_metadata_percentage",
            a.deltarpm_metadata_percentage.clone(),
        ),
        ("deltarpm_percentage", a.deltarpm_percentage.clone()),
        ("name", a.description.clone()),
        ("enabled", a.enabled.map(|b| if b { "1" } else { "0" }.to_owned())),
        (
            "enablegroups",
            a.enablegroups.map(|b| if b { "1" } else { "0" }.to_owned()),
        ),
        ("exclude", a.exclude.as_ref().map(|v| v.join(" "))),
        ("failovermethod", a.failovermethod.clone()),
        ("gpgcakey", a.gpgcakey.clone()),
        (
            "gpgcheck",
            a.gpgcheck.map(|b| if b { "1" } else { "0" }.to_owned()),
        ),
        ("gpgkey", a.gpgkey.as_ref().map(|v| v.join("\n"))),
        ("http_caching", a.http_caching.clone()),
        ("include", a.include.clone()),
        ("includepkgs", a.includepkgs.as_ref().map(|v| v.join(" "))),
        ("ip_resolve", a.ip_resolve.clone()),
        (
            "keepalive",
            a.keepalive.map(|b| if b { "1" } else { "0" }.to_owned()),
        ),
        ("keepcache", a.keepcache.clone()),
        ("metadata_expire", a.metadata_expire.clone()),
        ("metadata_expire_filter", a.metadata_expire_filter.clone()),
        ("metalink", a.metalink.clone()),
        ("mirrorlist", a.mirrorlist.clone()),
        ("mirrorlist_expire", a.mirrorlist_expire.clone()),
        (
            "module_hotfixes",
            a.module_hotfixes.map(|b| if b { "1" } else { "0" }.to_owned()),
        ),
        ("password", a.password.clone()),
        ("priority", a.priority.clone()),
        ("protect", a.protect.map(|b| if b { "1" } else { "0" }.to_owned())),
        ("proxy", a.proxy.clone()),
        ("proxy_password", a.proxy_password.clone()),
        ("proxy_username", a.proxy_username.clone()),
        (
            "repo_gpgcheck",
            a.repo_gpgcheck.map(|b| if b { "1" } else { "0" }.to_owned()),
        ),
        ("retries", a.retries.clone()),
        (
            "s3_enabled",
            a.s3_enabled.map(|b| if b { "1" } else { "0" }.to_owned()),
        ),
        (
            "skip_if_unavailable",
            a.skip_if_unavailable
                .map(|b| if b { "1" } else { "0" }.to_owned()),
        ),
        (
            "ssl_check_cert_permissions",
            a.ssl_check_cert_permissions
                .map(|b| if b { "1" } else { "0" }.to_owned()),
        ),
        ("sslcacert", a.sslcacert.clone()),
        ("sslclientcert", a.sslclientcert.clone()),
        ("sslclientkey", a.sslclientkey.clone()),
        (
            "sslverify",
            a.sslverify.map(|b| if b { "1" } else { "0" }.to_owned()),
        ),
        ("throttle", a.throttle.clone()),
        ("timeout", a.timeout.clone()),
        ("ui_repoid_vars", a.ui_repoid_vars.clone()),
        ("username", a.username.clone()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    keys.sort();
    keys
}

type Section = (String, Vec<(String, String)>);

/// An INI file as configparser reads it: comments and blank lines dropped, keys
/// lowercased, indented lines continuing the value above.
fn parse_ini(text: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = sections.last_mut().and_then(|(_, kv)| kv.last_mut()) {
                value.push('\n');
                value.push_str(trimmed);
                continue;
            }
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            sections.push((name.to_owned(), Vec::new()));
            continue;
        }
        let at = trimmed.find(['=', ':']).unwrap_or(trimmed.len());
        let key = trimmed[..at].trim().to_lowercase();
        let value = trimmed.get(at + 1..).unwrap_or("").trim().to_owned();
        if let Some((_, kv)) = sections.last_mut() {
            match kv.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => kv.push((key, value)),
            }
        }
    }
    sections
}

/// The file as configparser writes it.
fn write_ini(sections: &[Section]) -> String {
    let mut out = String::new();
    for (name, kv) in sections {
        out.push_str(&format!("[{name}]\n"));
        for (k, v) in kv {
            out.push_str(&format!("{k} = {}\n", v.replace('\n', "\n\t")));
        }
        out.push('\n');
    }
    out
}

/// Ansible's comparison (and diff): sections and keys sorted.
fn dump(sections: &[Section]) -> String {
    let mut sorted: Vec<Section> = sections.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    for (name, mut kv) in sorted {
        kv.sort();
        out.push_str(&format!("[{name}]\n"));
        for (k, v) in kv {
            out.push_str(&format!("{k} = {v}\n"));
        }
        out.push('\n');
    }
    out
}

const READ: &str = r#"[ -d "$dir" ] || { echo "${m}nodir=1"; exit 0; }
[ -f "$dest" ] && awk -v m="$m" '{ print m "line=" $0 }' "$dest"
echo "${m}read=1"
"#;

#[async_trait]
impl TypedModule for YumRepository {
    type Args = Args;

    fn name(&self) -> &'static str {
        "yum_repository"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        check_choice("state", a.state.as_deref(), &["present", "absent"])?;
        check_choice(
            "failovermethod",
            a.failovermethod.as_deref(),
            &["roundrobin", "priority"],
        )?;
        check_choice(
            "http_caching",
            a.http_caching.as_deref(),
            &["all", "packages", "none"],
        )?;
        check_choice(
            "ip_resolve",
            a.ip_resolve.as_deref(),
            &["4", "6", "IPv4", "IPv6", "whatever"],
        )?;
        check_choice("keepcache", a.keepcache.as_deref(), &["0", "1"])?;
        check_choice(
            "metadata_expire_filter",
            a.metadata_expire_filter.as_deref(),
            &["never", "read-only:past", "read-only:present", "read-only:future"],
        )
    }

    fn check_static(&self, a: &Args, _raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        if a.state.as_deref().unwrap_or("present") != "present" {
            return Ok(());
        }
        if a.baseurl.is_none() && a.mirrorlist.is_none() && a.metalink.is_none() {
            return Err(ArgError::new(
                "state is present but any of the following are missing: baseurl, mirrorlist, metalink",
            ));
        }
        if a.description.is_none() {
            return Err(ArgError::new(
                "state is present but all of the following are missing: description",
            ));
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let _ = (
            &a.seuser,
            &a.serole,
            &a.selevel,
            &a.setype,
            &a.attributes,
            &a.unsafe_writes,
        );
        let state = a.state.clone().unwrap_or_else(|| "present".into());
        let dir = a.reposdir.clone().unwrap_or_else(|| "/etc/yum.repos.d".into());
        let dest = format!(
            "{}/{}.repo",
            dir.trim_end_matches('/'),
            a.file.as_deref().unwrap_or(&a.name)
        );
        let mark = fresh_mark();
        let read = sh_script(&[("m", &mark), ("dir", &dir), ("dest", &dest)], READ);
        let out = ctx
            .host
            .run(&RemoteCommand::new(read).run_as(ctx.run_as.cloned()))
            .await?;
        let mut rest = String::new();
        let marks = mark_lines(&out.stdout, &mark, &mut rest);
        if marks.iter().any(|(k, _)| *k == "nodir") {
            return Err(format!("Repo directory '{dir}' does not exist.").into());
        }
        if out.rc != 0 || !marks.iter().any(|(k, _)| *k == "read") {
            return Err(format!("Problems handling file '{dest}': {}", out.stderr.trim()).into());
        }
        let text: String = marks
            .iter()
            .filter(|(k, _)| *k == "line")
            .map(|(_, v)| format!("{v}\n"))
            .collect();
        let mut sections = parse_ini(&text);
        let before = dump(&sections);
        sections.retain(|(name, _)| *name != a.name);
        if state == "present" {
            let kv = repo_keys(&a)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            sections.push((a.name.clone(), kv));
        }
        let after = dump(&sections);
        let changed = before != after;
        let flag = |b: bool| if b { "1" } else { "0" };
        let write = sh_script(
            &[
                ("m", &mark),
                ("dest", &dest),
                ("content", &write_ini(&sections)),
                ("write", flag(changed)),
                ("mode", a.mode.as_deref().unwrap_or("")),
                ("owner", a.owner.as_deref().unwrap_or("")),
                ("group", a.group.as_deref().unwrap_or("")),
                ("check", flag(ctx.check_mode)),
            ],
            include_str!("yum_repository.sh"),
        );
        let out = ctx
            .host
            .run(&RemoteCommand::new(write).run_as(ctx.run_as.cloned()))
            .await?;
        let (marks, _) = args::split_marks(&out.stdout, &mark);
        if out.rc != 0 {
            let msg = out
                .stderr
                .trim()
                .lines()
                .last()
                .unwrap_or("yum_repository failed");
            return Err(msg.to_owned().into());
        }
        let mut r = ModuleResult::changed(changed || marks.get("attrs").map(String::as_str) == Some("1"));
        r.extra.insert("repo".into(), json!(a.name));
        r.extra.insert("state".into(), json!(state));
        if ctx.diff {
            r.extra.insert(
                "diff".into(),
                json!({"before_header": dest, "before": before, "after_header": dest, "after": after}),
            );
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_is_read_and_written_as_configparser_does() {
        let text = "# c\n[b]\nName: B\nbaseurl = http://x/1\n  http://x/2\n\n[a]\nx=1\n";
        let s = parse_ini(text);
        assert_eq!(
            s[0].1,
            [
                ("name".into(), "B".into()),
                ("baseurl".into(), "http://x/1\nhttp://x/2".into())
            ]
        );
        assert_eq!(
            write_ini(&s),
            "[b]\nname = B\nbaseurl = http://x/1\n\thttp://x/2\n\n[a]\nx = 1\n\n"
        );
        assert_eq!(
            dump(&s),
            "[a]\nx = 1\n\n[b]\nbaseurl = http://x/1\nhttp://x/2\nname = B\n\n"
        );
    }
}
