//! `uri`: an HTTP request from the host, Ansible's health gate (`until: r.status == 200`).
//!
//! Like Ansible's, the request leaves from the target (it sees what the host sees). It is
//! ONE remote command running `curl` there: the status, the final URL and the redirect count
//! come from `-w`, the headers from `-D`, the body from `-o`; all are printed back between
//! marker lines (with this command's nonce, so a header cannot pass for one). The request
//! body travels on the command's standard input; the URL, the headers and the credentials
//! in a curl config file, so none of them is ever on the target's process list.

use super::args::{self, check_choice, fresh_mark, is_template};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::de::{Deserializer, Error as _};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::time::Duration;

pub struct Uri;

const BODY_FORMATS: &[&str] = &["raw", "json", "form-urlencoded"];
const FOLLOW: &[&str] = &["all", "safe", "none", "urllib2", "yes", "no"];

/// The lines between which the script prints curl's `-w` values, the headers and the body.
struct Marks {
    meta: String,
    headers: String,
    body: String,
}

impl Marks {
    fn new(mark: &str) -> Marks {
        Marks {
            meta: format!("{mark}meta"),
            headers: format!("{mark}headers"),
            body: format!("{mark}body"),
        }
    }
}

/// One line of curl's config syntax (`-K`): `name = "value"`, escaped as curl reads it.
fn curl_option(name: &str, value: &str) -> String {
    let mut quoted = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c => quoted.push(c),
        }
    }
    format!("{name} = \"{quoted}\"\n")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    url: String,
    #[serde(default, deserialize_with = "args::opt_text")]
    method: Option<String>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    body_format: Option<String>,
    #[serde(default)]
    headers: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "status_codes")]
    status_code: Option<Vec<u16>>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    return_content: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    timeout: Option<f64>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    validate_certs: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_text")]
    follow_redirects: Option<String>,
    #[serde(default, alias = "url_username", deserialize_with = "args::opt_text")]
    user: Option<String>,
    #[serde(default, alias = "url_password", deserialize_with = "args::opt_text")]
    password: Option<String>,
    /// curl sends the credentials up front anyway.
    #[serde(default, deserialize_with = "args::opt_bool")]
    #[allow(dead_code)]
    force_basic_auth: Option<bool>,
}

/// `200`, `"200"`, `[200, 201]`, `"200,201"`; a template is `None` (not known yet).
fn status_codes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u16>>, D::Error> {
    let one = |v: &Value| -> Result<Option<u16>, D::Error> {
        match v {
            Value::Number(n) => n
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("`{n}` is not an HTTP status code"))),
            Value::String(s) if is_template(s) => Ok(None),
            Value::String(s) => s
                .trim()
                .parse::<u16>()
                .map(Some)
                .map_err(|_| D::Error::custom(format!("`{s}` is not an HTTP status code"))),
            _ => Err(D::Error::custom("expected an HTTP status code or a list of them")),
        }
    };
    let items: Vec<Value> = match Value::deserialize(d)? {
        Value::Null => return Ok(None),
        Value::Array(items) => items,
        Value::String(s) if !is_template(&s) => s.split(',').map(|p| Value::String(p.into())).collect(),
        other => vec![other],
    };
    let mut codes = Vec::new();
    for item in &items {
        match one(item)? {
            Some(code) => codes.push(code),
            None => return Ok(None),
        }
    }
    Ok(Some(codes))
}

impl Args {
    fn check(&self) -> Result<(), ArgError> {
        check_choice("body_format", self.body_format.as_deref(), BODY_FORMATS)?;
        check_choice("follow_redirects", self.follow_redirects.as_deref(), FOLLOW)?;
        let http = self.url.starts_with("http://") || self.url.starts_with("https://");
        if !(is_template(&self.url) || http) {
            return Err(
                ArgError::new(format!("`url`: `{}` is not an http(s) URL", self.url))
                    .key("url")
                    .hint("write the scheme: http://host:port/path"),
            );
        }
        if let Some(m) = self.method.as_deref().filter(|m| !is_template(m)) {
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(ArgError::new(format!("`method`: `{m}` is not an HTTP method")).key("method"));
            }
        }
        Ok(())
    }

    fn method(&self) -> String {
        self.method.as_deref().unwrap_or("GET").to_ascii_uppercase()
    }

    fn expected(&self) -> Vec<u16> {
        self.status_code.clone().unwrap_or_else(|| vec![200])
    }

    /// Ansible's `safe` (the default) follows redirects for GET and HEAD only.
    fn follow(&self) -> bool {
        match self.follow_redirects.as_deref().unwrap_or("safe") {
            "all" | "yes" => true,
            "safe" | "urllib2" => matches!(self.method().as_str(), "GET" | "HEAD"),
            _ => false,
        }
    }

    fn timeout(&self) -> f64 {
        self.timeout.unwrap_or(30.0)
    }

    /// The request body and the content type it implies.
    fn payload(&self) -> Result<Option<Payload>, String> {
        let Some(body) = &self.body else { return Ok(None) };
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Ok(Some(match self.body_format.as_deref().unwrap_or("raw") {
            "json" => {
                let encoded = match body {
                    // A string is taken as JSON already written, as Ansible does.
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (encoded.into_bytes(), Some("application/json"))
            }
            "form-urlencoded" => {
                let pairs: Vec<(String, String)> = match body {
                    Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
                    Value::Array(items) => items
                        .iter()
                        .map(|item| match item {
                            Value::Array(kv) if kv.len() == 2 => Ok((text(&kv[0]), text(&kv[1]))),
                            _ => Err("a form-urlencoded `body` list holds [key, value] pairs".to_owned()),
                        })
                        .collect::<Result<_, _>>()?,
                    Value::String(s) => return Ok(Some((s.clone().into_bytes(), Some(FORM)))),
                    _ => return Err("a form-urlencoded `body` is a mapping".into()),
                };
                let encoded: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| format!("{}={}", form_escape(k), form_escape(v)))
                    .collect();
                (encoded.join("&").into_bytes(), Some(FORM))
            }
            _ => (text(body).into_bytes(), None),
        }))
    }
}

const FORM: &str = "application/x-www-form-urlencoded";

/// The encoded request body, and the content type its format implies.
type Payload = (Vec<u8>, Option<&'static str>);

fn form_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn script(a: &Args, content_type: Option<&str>, has_body: bool, marks: &Marks) -> String {
    let flag = |b: bool| if b { "1" } else { "0" };
    let mut headers = Vec::new();
    let mut has_content_type = false;
    for (k, v) in a.headers.iter().flatten() {
        has_content_type |= k.eq_ignore_ascii_case("content-type");
        let v = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        headers.push(format!("{k}: {v}"));
    }
    if let (Some(ct), false) = (content_type, has_content_type) {
        headers.push(format!("Content-Type: {ct}"));
    }
    let mut config = curl_option("url", &a.url);
    for header in &headers {
        config.push_str(&curl_option("header", header));
    }
    if let Some(user) = &a.user {
        let credentials = format!("{user}:{}", a.password.as_deref().unwrap_or(""));
        config.push_str(&curl_option("user", &credentials));
    }
    sh_script(
        &[
            ("method", &a.method()),
            ("max_time", &a.timeout().to_string()),
            ("follow", flag(a.follow())),
            ("insecure", flag(a.validate_certs == Some(false))),
            ("has_body", flag(has_body)),
            ("config", &config),
            ("meta", &marks.meta),
            ("headers_mark", &marks.headers),
            ("body_mark", &marks.body),
        ],
        include_str!("uri.sh"),
    )
}

/// What came back: curl's exit code, the `-w` values, the last response's header block and
/// the body.
#[derive(Debug, Default, PartialEq)]
struct Response {
    curl_rc: i32,
    status: i64,
    url: String,
    redirects: u64,
    seconds: f64,
    /// The status line's words after the code (`Not Found`).
    reason: String,
    headers: Vec<(String, String)>,
    body: String,
}

fn parse_response(stdout: &str, marks: &Marks) -> Option<Response> {
    let rest = stdout.split_once(&format!("{}\n", marks.meta))?.1;
    let (meta, rest) = rest.split_once(&format!("{}\n", marks.headers))?;
    let (headers, body) = rest.split_once(&format!("{}\n", marks.body))?;
    let mut meta = meta.lines();
    let curl_rc = meta.next()?.trim().parse().ok()?;
    let status = meta.next().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    let url = meta.next().unwrap_or("").to_owned();
    let redirects = meta.next().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    let seconds = meta.next().and_then(|s| s.trim().parse().ok()).unwrap_or(0.0);
    // With -L, -D holds every response: the last block that starts with a status line.
    let block = headers
        .split("\r\n\r\n")
        .filter(|b| b.trim_start().starts_with("HTTP/"))
        .last()
        .unwrap_or("");
    let reason = block
        .lines()
        .next()
        .and_then(|l| l.trim().splitn(3, ' ').nth(2))
        .unwrap_or("")
        .to_owned();
    let headers = block
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect();
    Some(Response {
        curl_rc,
        status,
        url,
        redirects,
        seconds,
        reason,
        headers,
        body: body.to_owned(),
    })
}

fn result(a: &Args, resp: &Response, stderr: &str) -> ModuleResult {
    let mut r = ModuleResult::ok();
    let expected = a.expected();
    let status = if resp.curl_rc != 0 || resp.status == 0 {
        -1
    } else {
        resp.status
    };
    r.extra.insert("status".into(), json!(status));
    r.extra.insert(
        "url".into(),
        json!(if resp.url.is_empty() {
            a.url.clone()
        } else {
            resp.url.clone()
        }),
    );
    r.extra.insert("redirected".into(), json!(resp.redirects > 0));
    r.extra
        .insert("elapsed".into(), json!(resp.seconds.round() as u64));
    for (k, v) in &resp.headers {
        r.extra.insert(k.to_ascii_lowercase().replace('-', "_"), json!(v));
    }
    if a.return_content == Some(true) {
        r.extra.insert("content".into(), json!(resp.body));
    }
    if let Ok(parsed) = serde_json::from_str::<Value>(&resp.body) {
        if parsed.is_object() || parsed.is_array() {
            r.extra.insert("json".into(), parsed);
        }
    }
    let ok = u16::try_from(status).is_ok_and(|s| expected.contains(&s));
    if ok {
        r.msg = Some(format!("OK ({} bytes)", resp.body.len()));
    } else {
        r.failed = true;
        let expected = expected.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
        let why = if status == -1 {
            format!("Request failed: {}", stderr.trim())
        } else if status < 400 {
            // What Ansible (urllib) says of a response that is not an HTTP error.
            format!("OK ({} bytes)", resp.body.len())
        } else {
            format!("HTTP Error {status}: {}", resp.reason)
        };
        r.msg = Some(format!("Status code was {status} and not [{expected}]: {why}"));
    }
    r
}

#[async_trait]
impl TypedModule for Uri {
    type Args = Args;

    fn name(&self) -> &'static str {
        "uri"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        a.check()
    }

    fn check_static(&self, a: &Args, raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        if !raw.to_string().contains("{{") {
            a.payload().map_err(|e| ArgError::new(e).key("body"))?;
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let payload = a.payload()?;
        let content_type = payload.as_ref().and_then(|(_, ct)| *ct);
        let marks = Marks::new(&fresh_mark());
        let mut cmd = RemoteCommand::new(script(&a, content_type, payload.is_some(), &marks))
            .run_as(ctx.run_as.cloned());
        if let Some((body, _)) = payload {
            cmd = cmd.stdin(body);
        }
        cmd.timeout = Some(Duration::from_secs_f64(a.timeout() + 30.0));
        // The script holds the password (for curl's config file): no trace or audit line
        // may show it, `no_log` or not.
        cmd.no_log |= a.password.is_some();
        let out = ctx.host.run(&cmd).await?;
        if out.rc == 127 {
            return Ok(ModuleResult::failed(out.stderr.trim().to_owned()));
        }
        let Some(resp) = parse_response(&out.stdout, &marks) else {
            let mut r = ModuleResult::failed(format!(
                "uri: unexpected output from curl (exit code {}): {}",
                out.rc,
                out.stderr.trim()
            ));
            r.rc = Some(out.rc);
            return Ok(r);
        };
        Ok(result(&a, &resp, &out.stderr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<Args, ArgError> {
        args::parse::<Args>("uri", &v).and_then(|a| a.check().map(|()| a))
    }

    #[test]
    fn arguments_are_checked() {
        let a = parse(json!({"url": "http://x/", "status_code": [200, "201"]})).unwrap();
        assert_eq!(a.expected(), [200, 201]);
        assert_eq!(
            parse(json!({"url": "http://x/", "status_code": "204"}))
                .unwrap()
                .expected(),
            [204]
        );
        let err = parse(json!({"url": "http://x/", "retrun_content": true})).unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `return_content`?"));
        let err = parse(json!({"url": "http://x/", "body_format": "jsn"})).unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `json`?"));
        assert_eq!(
            parse(json!({"url": "x.org/"})).unwrap_err().key.as_deref(),
            Some("url")
        );
    }

    #[test]
    fn bodies_are_encoded_by_format() {
        let a = parse(json!({"url": "http://x/", "body": {"a": 1}, "body_format": "json"})).unwrap();
        assert_eq!(
            a.payload().unwrap(),
            Some((br#"{"a":1}"#.to_vec(), Some("application/json")))
        );
        let a = parse(json!({"url": "http://x/", "body": {"q": "a b&c"}, "body_format": "form-urlencoded"}))
            .unwrap();
        assert_eq!(a.payload().unwrap(), Some((b"q=a+b%26c".to_vec(), Some(FORM))));
    }

    #[test]
    fn secrets_go_to_curls_config_not_its_command_line() {
        let a = parse(json!({
            "url": "http://x/?token=T0K",
            "url_username": "admin",
            "url_password": "pa\"ss\\word",
            "headers": {"Authorization": "Bearer T0K"},
        }))
        .unwrap();
        let s = script(&a, None, false, &Marks::new("__zdd_1__ "));
        assert!(
            s.contains(
                r#"config='url = "http://x/?token=T0K"
header = "Authorization: Bearer T0K"
user = "admin:pa\"ss\\word"
'"#
            ),
            "{s}"
        );
        assert!(s.contains(r#"-K "$tmp/config""#), "{s}");
        assert!(!s.contains(" -u ") && !s.contains(" -H "), "{s}");
        assert_eq!(curl_option("header", "a\nb\tc"), "header = \"a\\nb\\tc\"\n");
    }

    #[test]
    fn the_last_response_of_a_redirect_chain_counts() {
        let m = Marks::new("__zdd_1__ ");
        let out = format!(
            "{}\n0\n200\nhttp://x/b\n1\n0.012\n{}\nHTTP/1.1 302 Found\r\nLocation: /b\r\n\r\n\
             HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}\n{{\"ok\": true}}",
            m.meta, m.headers, m.body
        );
        let resp = parse_response(&out, &m).unwrap();
        assert_eq!(
            (resp.status, resp.redirects, resp.url.as_str()),
            (200, 1, "http://x/b")
        );
        assert_eq!(
            resp.headers,
            [("Content-Type".to_owned(), "application/json".to_owned())]
        );
        let a = parse(json!({"url": "http://x/a"})).unwrap();
        let r = result(&a, &resp, "");
        assert_eq!(r.msg.as_deref(), Some("OK (12 bytes)"));
        assert_eq!(r.extra["json"], json!({"ok": true}));
        assert_eq!(r.extra["content_type"], json!("application/json"));
        assert_eq!(r.extra["redirected"], json!(true));
    }
}
