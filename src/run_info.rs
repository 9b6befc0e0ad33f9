//! Where and how a run was started (`Event::RunInfo`), for the HTML report: the command
//! line with its secrets censored, zdd's version, the machine and the user.

use crate::events::RunInfo;
use serde_json::Value;
use std::sync::OnceLock;
use std::time::SystemTime;

/// What a censored value reads as.
pub const CENSORED: &str = "********";

/// The run this process started, once `start` was called: the journal's events file
/// begins with it (a `zdd watch` redeploy's journal included).
static THIS_RUN: OnceLock<RunInfo> = OnceLock::new();

impl RunInfo {
    /// This process's run of `command` (`apply`, `watch`), now; remembered for
    /// `this_run`.
    pub fn start(command: &str) -> RunInfo {
        THIS_RUN.get_or_init(|| RunInfo::collect(command)).clone()
    }

    /// The run `start` recorded, if any.
    pub fn this_run() -> Option<RunInfo> {
        THIS_RUN.get().cloned()
    }

    fn collect(command: &str) -> RunInfo {
        let argv: Vec<String> = std::env::args().collect();
        RunInfo {
            command: command.to_owned(),
            argv: censor_argv(&argv),
            zdd_version: format!("zdd {}", env!("ZDD_VERSION")),
            machine: machine(),
            platform: platform(),
            user: user(),
            started: crate::journal::utc_timestamp(SystemTime::now()),
        }
    }
}

/// The command line with its secrets replaced by `********`: in `-e`/`--extra-vars`, the
/// values of secret-looking keys (`k=v` pairs, JSON or YAML; `@file` is kept), and in
/// every argument, the password of a URL (`http://user:pass@host/`).
pub fn censor_argv(argv: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut extra_vars_next = false;
    for arg in argv {
        let censored = if extra_vars_next {
            extra_vars_next = false;
            censor_extra_vars(arg)
        } else if arg == "-e" || arg == "--extra-vars" {
            extra_vars_next = true;
            arg.clone()
        } else if let Some(value) = arg.strip_prefix("--extra-vars=") {
            format!("--extra-vars={}", censor_extra_vars(value))
        } else if let Some(value) = arg.strip_prefix("-e").filter(|_| !arg.starts_with("--")) {
            // `-ek=v` and `-e=k=v`, as clap takes them.
            let (eq, value) = match value.strip_prefix('=') {
                Some(v) => ("=", v),
                None => ("", value),
            };
            format!("-e{eq}{}", censor_extra_vars(value))
        } else {
            arg.clone()
        };
        out.push(censor_url_passwords(&censored));
    }
    out
}

/// Whether the censoring of an `-e` value (`k=v` pairs, JSON, YAML, URLs) would hide
/// anything in it: then it is not written down anywhere either (the journal withholds it).
pub fn names_a_secret(extra_vars: &str) -> bool {
    let trimmed = extra_vars.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Ok(parsed) = serde_json::from_str::<Value>(extra_vars) {
            // Compared as values: censoring re-serializes, which may reorder keys.
            return value_names_a_secret(&parsed);
        }
    }
    censor_url_passwords(&censor_extra_vars(extra_vars)) != extra_vars
}

/// Whether a secret-looking key, or a URL with a password, is anywhere in `value`.
pub fn value_names_a_secret(value: &Value) -> bool {
    let mut censored = value.clone();
    censor_json(&mut censored);
    let text = value.to_string();
    censored != *value || censor_url_passwords(&text) != text
}

/// A name that looks like it holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    const WORDS: [&str; 7] = ["pass", "secret", "token", "key", "credential", "auth", "private"];
    let name = name.to_ascii_lowercase();
    WORDS.iter().any(|w| name.contains(w))
}

/// One `-e` value: `@file` as is, JSON with its secret-looking keys' values censored,
/// other YAML censored whole when it names a secret, `k=v` pairs pair by pair.
fn censor_extra_vars(value: &str) -> String {
    let trimmed = value.trim_start();
    if trimmed.starts_with('@') {
        return value.to_owned();
    }
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return match serde_json::from_str::<Value>(value) {
            Ok(mut parsed) => {
                censor_json(&mut parsed);
                parsed.to_string()
            }
            Err(_) if is_secret_name(value) => CENSORED.to_owned(),
            Err(_) => value.to_owned(),
        };
    }
    censor_pairs(value)
}

fn censor_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if is_secret_name(key) {
                    *v = Value::from(CENSORED);
                } else {
                    censor_json(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(censor_json),
        _ => {}
    }
}

/// `k=v k2='v 2'`: each value whose key looks secret becomes `********`, quotes and all;
/// the rest is kept byte for byte.
fn censor_pairs(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while !rest.is_empty() {
        let blank = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..blank]);
        rest = &rest[blank..];
        let end = token_end(rest);
        let (token, after) = rest.split_at(end);
        match token.split_once('=') {
            Some((key, _)) if is_secret_name(key) => {
                out.push_str(key);
                out.push('=');
                out.push_str(CENSORED);
            }
            _ => out.push_str(token),
        }
        rest = after;
    }
    out
}

/// Where the whitespace-separated token at the start of `s` ends, quotes honoured.
fn token_end(s: &str) -> usize {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => return i,
            _ => {}
        }
    }
    s.len()
}

/// In a URL anywhere in the text, the password (`scheme://user:password@host` becomes
/// `scheme://user:********@host`) and the values of secret-looking query parameters
/// (`?token=********`).
pub fn censor_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let authority_end = after
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        match authority.rfind('@').map(|i| (&authority[..i], &authority[i..])) {
            Some((userinfo, host)) if userinfo.contains(':') => {
                let user = userinfo.split(':').next().unwrap_or_default();
                out.push_str(user);
                out.push(':');
                out.push_str(CENSORED);
                out.push_str(host);
            }
            _ => out.push_str(authority),
        }
        let after = &after[authority_end..];
        let url_end = after.find(char::is_whitespace).unwrap_or(after.len());
        let (url_rest, tail) = after.split_at(url_end);
        match url_rest.split_once('?') {
            Some((path, query)) => {
                out.push_str(path);
                out.push('?');
                out.push_str(&censor_query(query));
            }
            None => out.push_str(url_rest),
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// `a=1&token=x#frag` -> `a=1&token=********#frag`.
fn censor_query(query: &str) -> String {
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, _)) if is_secret_name(key) => format!("{key}={CENSORED}"),
            _ => param.to_owned(),
        })
        .collect();
    let mut out = params.join("&");
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

fn machine() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// `Debian GNU/Linux 12 (bookworm), x86_64, 2 CPUs`.
fn platform() -> String {
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| pretty_name(&text))
        .unwrap_or_else(|| std::env::consts::OS.to_owned());
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let plural = if cpus == 1 { "" } else { "s" };
    format!("{os}, {}, {cpus} CPU{plural}", std::env::consts::ARCH)
}

/// `PRETTY_NAME` of an os-release file.
fn pretty_name(os_release: &str) -> Option<String> {
    os_release.lines().find_map(|line| {
        let value = line.strip_prefix("PRETTY_NAME=")?;
        let value = value.trim();
        let unquoted = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        Some(unquoted.to_owned())
    })
}

/// `$USER`, else the name of the real user id in the password database, else `uid N`.
fn user() -> String {
    if let Ok(user) = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")) {
        return user;
    }
    // SAFETY: getuid cannot fail; getpwuid_r writes only into `entry` and `buf`, whose
    // sizes it is given, and `pw_name` points into `buf` while it lives.
    unsafe {
        let uid = libc::getuid();
        let mut entry: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut entry, buf.as_mut_ptr(), buf.len(), &mut found);
        if rc == 0 && !found.is_null() && !entry.pw_name.is_null() {
            return std::ffi::CStr::from_ptr(entry.pw_name)
                .to_string_lossy()
                .into_owned();
        }
        format!("uid {uid}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn censor(args: &[&str]) -> Vec<String> {
        censor_argv(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn secret_looking_extra_vars_are_censored_and_the_rest_kept() {
        assert_eq!(
            censor(&[
                "zdd",
                "apply",
                "site.yml",
                "-e",
                "version=1.2 db_password=hunter2 API_Token='a b'"
            ]),
            [
                "zdd",
                "apply",
                "site.yml",
                "-e",
                "version=1.2 db_password=******** API_Token=********"
            ]
        );
        assert_eq!(
            censor(&[
                "-e",
                "ssh_private_key_file=/k",
                "--extra-vars=aws_secret=x user=bob",
                "-eauth=y",
                "-e=color=blue"
            ]),
            [
                "-e",
                "ssh_private_key_file=********",
                "--extra-vars=aws_secret=******** user=bob",
                "-eauth=********",
                "-e=color=blue"
            ]
        );
    }

    #[test]
    fn json_extra_vars_keep_their_shape_with_secret_values_censored() {
        assert_eq!(
            censor(&[
                "-e",
                r#"{"version": "2", "db": {"password": "hunter2", "port": 5432}, "keys": [1]}"#
            ]),
            [
                "-e",
                r#"{"version":"2","db":{"password":"********","port":5432},"keys":"********"}"#
            ]
        );
        // YAML that is not JSON: censored whole when it names a secret, kept otherwise.
        assert_eq!(censor(&["-e", "{password: hunter2}"]), ["-e", CENSORED]);
        assert_eq!(censor(&["-e", "{version: 2}"]), ["-e", "{version: 2}"]);
    }

    #[test]
    fn a_vars_file_is_kept_and_plain_flags_are_untouched() {
        let args = [
            "zdd",
            "apply",
            "-e",
            "@secrets.yml",
            "--limit",
            "web1",
            "--forks",
            "5",
        ];
        assert_eq!(censor(&args), args);
    }

    #[test]
    fn url_passwords_and_secret_query_parameters_are_censored_in_any_argument() {
        assert_eq!(
            censor(&[
                "--probe",
                "http://admin:s3cret@lb:8080/health",
                "--notify=http://hook:tok@ci.example/x?a=b&api_token=abc#top",
                "-e",
                "repo=https://u:p@git.example/r.git",
                "http://user@host/",
            ]),
            [
                "--probe",
                "http://admin:********@lb:8080/health",
                "--notify=http://hook:********@ci.example/x?a=b&api_token=********#top",
                "-e",
                "repo=https://u:********@git.example/r.git",
                "http://user@host/",
            ]
        );
    }

    #[test]
    fn the_platform_names_the_os_release() {
        assert_eq!(
            pretty_name("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n").as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(pretty_name("NAME=x\n"), None);
        let info = RunInfo::collect("apply");
        assert!(info.zdd_version.starts_with("zdd "));
        assert!(info.platform.contains(std::env::consts::ARCH));
        assert!(!info.machine.is_empty() && !info.user.is_empty());
    }
}
