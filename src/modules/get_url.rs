//! `get_url`: download a file over HTTP(S)/FTP on the host, with the host's curl (else
//! wget), as Ansible's `get_url` decides: an existing `dest` file is left alone unless
//! `force` or a `checksum` that does not match it (it is still asked for with
//! If-Modified-Since, and only replaced when the content differs); `dest` a directory
//! takes the name from Content-Disposition or the URL; `checksum: algo:hex` or
//! `algo:URL` of a checksum file; check mode asks with HEAD and changes nothing.
//! Headers and `url_username`/`url_password` travel on stdin as a curl (or wget) config
//! file, so they never appear on a command line on the target.
//!
//! Not done: `unredirected_headers`, `use_gssapi`, SELinux contexts and `attributes`
//! (rejected as unknown arguments rather than ignored).

use super::args::{self, check_choice, fresh_mark, split_marks};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub struct GetUrl;

const ALGORITHMS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    url: String,
    dest: String,
    #[serde(default, deserialize_with = "args::opt_bool")]
    backup: Option<bool>,
    #[serde(default)]
    checksum: Option<String>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    timeout: Option<f64>,
    #[serde(default)]
    headers: Option<Value>,
    #[serde(default)]
    tmp_dest: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    decompress: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_list")]
    ciphers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    use_netrc: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    force: Option<bool>,
    #[serde(default, alias = "username", deserialize_with = "args::opt_text")]
    url_username: Option<String>,
    #[serde(default, alias = "password", deserialize_with = "args::opt_text")]
    url_password: Option<String>,
    /// curl sends the credentials with the first request anyway (wget is told to).
    #[serde(default, deserialize_with = "args::opt_bool")]
    #[allow(dead_code)]
    force_basic_auth: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    validate_certs: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    use_proxy: Option<bool>,
    #[serde(default)]
    http_agent: Option<String>,
    #[serde(default)]
    client_cert: Option<String>,
    #[serde(default)]
    client_key: Option<String>,
    #[serde(default, deserialize_with = "args::opt_mode")]
    mode: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    group: Option<String>,
    /// The file is always written beside `dest` and renamed into place.
    #[serde(default, deserialize_with = "args::opt_bool")]
    #[allow(dead_code)]
    unsafe_writes: Option<bool>,
}

/// `checksum: sha256:abc...` or `sha256:https://.../SHA256SUMS`.
#[derive(Debug, PartialEq)]
enum Checksum {
    None,
    Value(String, String),
    Url(String, String),
}

fn parse_checksum(text: Option<&str>) -> Result<Checksum, ArgError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(Checksum::None);
    };
    let bad =
        || ArgError::new("The checksum parameter has to be in format <algorithm>:<checksum>").key("checksum");
    let (algo, value) = text.split_once(':').ok_or_else(bad)?;
    check_choice("checksum", Some(algo), ALGORITHMS)?;
    let scheme = value.split_once("://").map(|(s, _)| s);
    if matches!(scheme, Some("http" | "https" | "ftp" | "file")) {
        return Ok(Checksum::Url(algo.into(), value.into()));
    }
    let hex: String = value
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_')
        .collect::<String>()
        .to_lowercase();
    if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ArgError::new("The checksum format is invalid").key("checksum"));
    }
    Ok(Checksum::Value(algo.into(), hex))
}

/// Ansible's `url_filename`: the path's last part, `index.html` for none.
fn url_filename(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("", |at| &rest[at..]);
    let path = path.split(['?', '#']).next().unwrap_or("");
    match path.rsplit('/').next() {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => "index.html".to_owned(),
    }
}

/// `headers` as a mapping, or Ansible's old `"Name: value,Other: value"` string.
fn header_pairs(headers: Option<&Value>) -> Result<Vec<(String, String)>, ArgError> {
    let err = || ArgError::new("`headers` must be a mapping of header names to values").key("headers");
    match headers {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => Ok(map
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect()),
        Some(Value::String(s)) => s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                p.split_once(':')
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .ok_or_else(err)
            })
            .collect(),
        Some(_) => Err(err()),
    }
}

/// A curl config value: double-quoted, `\` and `"` escaped.
fn curl_quote(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The curl and the wget config files (credentials, headers, TLS and proxy choices).
fn config_files(a: &Args) -> Result<(String, String), ArgError> {
    let mut curl = String::new();
    let mut wget = String::new();
    let one_line = |key: &str, v: &str| {
        if v.contains(['\n', '\r']) {
            Err(ArgError::new(format!("`{key}` cannot hold a line break")).key(key))
        } else {
            Ok(())
        }
    };
    for (k, v) in header_pairs(a.headers.as_ref())? {
        one_line("headers", &k)?;
        one_line("headers", &v)?;
        curl.push_str(&format!("header = {}\n", curl_quote(&format!("{k}: {v}"))));
        wget.push_str(&format!("header = {k}: {v}\n"));
    }
    if let Some(user) = &a.url_username {
        let pass = a.url_password.as_deref().unwrap_or("");
        one_line("url_username", user)?;
        one_line("url_password", pass)?;
        curl.push_str(&format!("user = {}\n", curl_quote(&format!("{user}:{pass}"))));
        wget.push_str(&format!(
            "user = {user}\npassword = {pass}\nauth_no_challenge = on\n"
        ));
    }
    let agent = a.http_agent.as_deref().unwrap_or("ansible-httpget");
    one_line("http_agent", agent)?;
    curl.push_str(&format!("user-agent = {}\n", curl_quote(agent)));
    wget.push_str(&format!("user_agent = {agent}\n"));
    if a.validate_certs == Some(false) {
        curl.push_str("insecure\n");
        wget.push_str("check_certificate = off\n");
    }
    if a.use_proxy == Some(false) {
        curl.push_str("noproxy = \"*\"\n");
        wget.push_str("use_proxy = off\n");
    }
    if a.use_netrc != Some(false) {
        curl.push_str("netrc-optional\n");
    }
    if let Some(ciphers) = &a.ciphers {
        curl.push_str(&format!("ciphers = {}\n", curl_quote(&ciphers.join(":"))));
    }
    if a.decompress != Some(false) {
        curl.push_str("compressed\n");
    }
    for (key, opt, v) in [
        ("client_cert", "cert", &a.client_cert),
        ("client_key", "key", &a.client_key),
    ] {
        if let Some(v) = v {
            one_line(key, v)?;
            curl.push_str(&format!("{opt} = {}\n", curl_quote(v)));
            wget.push_str(&format!(
                "{}= {v}\n",
                if opt == "cert" {
                    "certificate "
                } else {
                    "private_key "
                }
            ));
        }
    }
    Ok((curl, wget))
}

fn script(a: &Args, sum: &Checksum, check: bool, curl_size: usize, mark: &str) -> String {
    let (algo, value, sum_url) = match sum {
        Checksum::None => ("", "", ""),
        Checksum::Value(algo, v) => (algo.as_str(), v.as_str(), ""),
        Checksum::Url(algo, u) => (algo.as_str(), "", u.as_str()),
    };
    let flag = |b: bool| if b { "1" } else { "0" };
    let timeout = a.timeout.unwrap_or(10.0).max(1.0).round().to_string();
    sh_script(
        &[
            ("m", mark),
            ("url", &a.url),
            ("dest", &a.dest),
            ("algo", algo),
            ("sum", value),
            ("sum_url", sum_url),
            ("url_name", &url_filename(&a.url)),
            ("force", flag(a.force == Some(true))),
            ("backup", flag(a.backup == Some(true))),
            ("check", flag(check)),
            ("timeout", &timeout),
            ("tmp_dest", a.tmp_dest.as_deref().unwrap_or("")),
            ("mode", a.mode.as_deref().unwrap_or("")),
            ("owner", a.owner.as_deref().unwrap_or("")),
            ("group", a.group.as_deref().unwrap_or("")),
            ("curl_size", &curl_size.to_string()),
        ],
        include_str!("get_url.sh"),
    )
}

/// Ansible's `mask_url`: a password in the URL shown as `********`.
fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let masked = if userinfo.contains(':') {
                format!("{user}:********")
            } else {
                user.to_owned()
            };
            format!("{scheme}://{masked}@{host}{}", &rest[host_end..])
        }
        None => url.to_owned(),
    }
}

/// What the script's marks say, as Ansible's result.
fn result(a: &Args, marks: &indexmap::IndexMap<String, String>, rc: i32, check: bool) -> ModuleResult {
    let mut r = ModuleResult::default();
    let text = |k: &str| marks.get(k).map(|v| json!(v)).unwrap_or(Value::Null);
    let mut x = Map::new();
    x.insert("url".into(), json!(mask_url(&a.url)));
    x.insert(
        "dest".into(),
        json!(marks.get("dest").cloned().unwrap_or_else(|| a.dest.clone())),
    );
    x.insert(
        "elapsed".into(),
        json!(marks
            .get("elapsed")
            .and_then(|e| e.parse::<u64>().ok())
            .unwrap_or(0)),
    );
    if let Some(code) = marks.get("status_code") {
        x.insert("status_code".into(), json!(code.parse::<i64>().unwrap_or(-1)));
    }
    r.msg = marks.get("msg").cloned();
    if rc != 0 || marks.contains_key("response") {
        r.failed = true;
        if r.msg.is_none() {
            r.msg = Some(format!("get_url failed on the host (exit code {rc})"));
        }
        if let Some(resp) = marks.get("response") {
            x.insert("response".into(), json!(resp));
        }
        x.insert("checksum_src".into(), text("checksum_src"));
        x.insert("checksum_dest".into(), text("checksum_dest"));
        r.extra = x;
        return r;
    }
    if marks.contains_key("not_modified") {
        r.extra = x;
        return r;
    }
    x.insert("checksum_src".into(), text("checksum_src"));
    x.insert("checksum_dest".into(), text("checksum_dest"));
    let attrs_changed = marks.contains_key("attrs_changed");
    if marks.contains_key("exists") {
        r.changed = attrs_changed;
        if attrs_changed {
            r.msg = Some("file already exists but file attributes changed".into());
        }
    } else if check {
        r.changed = marks.get("checksum_src") != marks.get("checksum_dest");
    } else {
        r.changed = marks.contains_key("content_changed") || attrs_changed;
        x.insert("src".into(), text("src"));
        x.insert("md5sum".into(), text("md5sum"));
        if let Some(b) = marks.get("backup_file") {
            x.insert("backup_file".into(), json!(b));
        }
    }
    if check && !marks.contains_key("exists") {
        x.insert("src".into(), text("src"));
    }
    if let Some(stat) = marks.get("stat") {
        let f: Vec<&str> = stat.split(' ').collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let mode = u32::from_str_radix(f.first().copied().unwrap_or("0"), 8).unwrap_or(0);
        x.insert("mode".into(), json!(format!("{mode:04o}")));
        x.insert("uid".into(), json!(num(1)));
        x.insert("gid".into(), json!(num(2)));
        x.insert("size".into(), json!(num(3)));
        x.insert("owner".into(), json!(f.get(4).copied().unwrap_or("")));
        x.insert("group".into(), json!(f.get(5).copied().unwrap_or("")));
        x.insert("state".into(), json!("file"));
    }
    r.extra = x;
    r
}

#[async_trait]
impl TypedModule for GetUrl {
    type Args = Args;

    fn name(&self) -> &'static str {
        "get_url"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        if let Some(sum) = a.checksum.as_deref().filter(|s| !args::is_template(s)) {
            parse_checksum(Some(sum))?;
        }
        if !a
            .headers
            .as_ref()
            .is_some_and(|h| h.as_str().is_some_and(args::is_template))
        {
            header_pairs(a.headers.as_ref())?;
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let sum = parse_checksum(a.checksum.as_deref())?;
        let (curl, wget) = config_files(&a)?;
        let mark = fresh_mark();
        let mut data = curl.clone().into_bytes();
        data.extend_from_slice(wget.as_bytes());
        let cmd = RemoteCommand::new(script(&a, &sum, ctx.check_mode, curl.len(), &mark))
            .run_as(ctx.run_as.cloned())
            .stdin(data);
        let out = ctx.host.run(&cmd).await?;
        let (marks, _) = split_marks(&out.stdout, &mark);
        let mut r = result(&a, &marks, out.rc, ctx.check_mode);
        if r.failed && !marks.contains_key("msg") && !out.stderr.trim().is_empty() {
            r.msg = Some(out.stderr.trim().to_owned());
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args::MARK;

    fn parse(v: Value) -> Result<Args, ArgError> {
        GetUrl.parse(&v).and_then(|a| GetUrl.check(&a, &v).map(|_| a))
    }

    #[test]
    fn checksums_as_ansible_reads_them() {
        assert_eq!(parse_checksum(None).unwrap(), Checksum::None);
        assert_eq!(
            parse_checksum(Some("sha256:AB-cd")).unwrap(),
            Checksum::Value("sha256".into(), "abcd".into())
        );
        assert_eq!(
            parse_checksum(Some("sha1:http://h/SUMS")).unwrap(),
            Checksum::Url("sha1".into(), "http://h/SUMS".into())
        );
        assert!(parse_checksum(Some("abc"))
            .unwrap_err()
            .message
            .contains("<algorithm>:<checksum>"));
        assert_eq!(
            parse_checksum(Some("sha256:xyz")).unwrap_err().message,
            "The checksum format is invalid"
        );
        assert_eq!(
            parse_checksum(Some("sha257:ab")).unwrap_err().hint.as_deref(),
            Some("did you mean `sha256`?")
        );
    }

    #[test]
    fn names_from_the_url() {
        assert_eq!(url_filename("http://h/a/b.tar.gz?x=1"), "b.tar.gz");
        assert_eq!(url_filename("http://h/"), "index.html");
        assert_eq!(url_filename("http://h"), "index.html");
        assert_eq!(mask_url("https://u:secret@h/x"), "https://u:********@h/x");
        assert_eq!(mask_url("https://h/x@y"), "https://h/x@y");
    }

    #[test]
    fn secrets_go_in_the_config_never_the_script() {
        let a = parse(
            json!({"url": "http://h/f", "dest": "/tmp/f", "url_username": "bob",
            "password": "s3\"cret", "headers": {"X-Token": "t"}, "validate_certs": false}),
        )
        .unwrap();
        let (curl, wget) = config_files(&a).unwrap();
        assert!(curl.contains("user = \"bob:s3\\\"cret\"\n"), "{curl}");
        assert!(
            curl.contains("header = \"X-Token: t\"\n") && curl.contains("insecure\n"),
            "{curl}"
        );
        assert!(wget.contains("password = s3\"cret\n"), "{wget}");
        let s = script(&a, &Checksum::None, false, curl.len(), MARK);
        assert!(!s.contains("s3") && !s.contains("X-Token"), "{s}");
        let a = parse(json!({"url": "u", "dest": "d", "headers": {"X": "a\nb"}})).unwrap();
        assert!(config_files(&a).is_err());
        let a = parse(json!({"url": "u", "dest": "d", "headers": "A: 1, B: 2"})).unwrap();
        assert_eq!(header_pairs(a.headers.as_ref()).unwrap().len(), 2);
        let err = parse(json!({"url": "u", "dest": "d", "forse": true})).unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `force`?"));
    }

    #[test]
    fn results_with_ansibles_keys() {
        let a = parse(json!({"url": "http://h/f", "dest": "/d"})).unwrap();
        let out = format!(
            "{MARK}elapsed=0\n{MARK}dest=/d/f\n{MARK}status_code=200\n{MARK}msg=OK (3 bytes)\n{MARK}src=/t\n\
             {MARK}checksum_src=aa\n{MARK}content_changed=1\n{MARK}stat=644 1000 1000 3 deploy deploy\n{MARK}md5sum=bb\n"
        );
        let r = result(&a, &split_marks(&out, MARK).0, 0, false);
        assert!(r.changed && !r.failed);
        assert_eq!(r.extra["checksum_dest"], Value::Null);
        assert_eq!(
            (
                r.extra["status_code"].clone(),
                r.extra["mode"].clone(),
                r.extra["size"].clone()
            ),
            (json!(200), json!("0644"), json!(3))
        );
        let out = format!("{MARK}dest=/d\n{MARK}status_code=404\n{MARK}response=HTTP Error 404: Not Found\n{MARK}msg=Request failed\n");
        let r = result(&a, &split_marks(&out, MARK).0, 3, false);
        assert!(r.failed);
        assert_eq!(r.msg.as_deref(), Some("Request failed"));
    }
}
