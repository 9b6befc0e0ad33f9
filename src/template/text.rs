//! Ansible's string, regex, path and hash filters, with Python's semantics.

use super::filters::{defined, invalid};
use super::pyrepr::py_str;
use minijinja::value::{Kwargs, Rest};
use minijinja::{Environment, Error, State, Value};
use regex::{Regex, RegexBuilder};

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter("regex_escape", regex_escape);
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("basename", basename);
    env.add_filter("dirname", dirname);
    env.add_filter("expanduser", expanduser);
    env.add_filter("splitext", splitext);
    env.add_filter("quote", quote);
    env.add_filter("hash", hash);
    env.add_filter("checksum", |value: String| digest("sha1", value.as_bytes()));
    env.add_filter("sha1", |value: String| digest("sha1", value.as_bytes()));
    env.add_filter("md5", |value: String| digest("md5", value.as_bytes()));
    env.add_filter("realpath", |value: String| realpath(&value));
    env.add_filter("normpath", |value: String| normpath(&value));
    env.add_filter("path_join", path_join);
    env.add_filter("relpath", relpath);
    env.add_filter("commonpath", commonpath);
    env.add_filter("expandvars", |value: String| expandvars(&value));
    env.add_filter("urlsplit", urlsplit);
    env.add_filter("urldecode", |value: String| urldecode(&value));
    env.add_filter("comment", comment);
    env.add_filter("to_uuid", to_uuid);
}

/// A Python regex as Rust's, with Ansible's `ignorecase`/`multiline` flags.
pub fn regex(pattern: &str, kwargs: &Kwargs) -> Result<Regex, Error> {
    let ignorecase = kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false);
    RegexBuilder::new(pattern)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|err| invalid(format!("invalid regular expression `{pattern}`: {err}")))
}

/// Python's replacement syntax (`\1`, `\g<1>`, `\g<name>`) as Rust's (`${1}`).
fn python_replacement(replacement: &str) -> String {
    let mut out = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut group = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        group.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{group}}}"));
                }
                Some('g') => {
                    chars.next();
                    let name: String = chars
                        .by_ref()
                        .skip_while(|c| *c == '<')
                        .take_while(|c| *c != '>')
                        .collect();
                    out.push_str(&format!("${{{name}}}"));
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

fn regex_replace(
    value: String,
    pattern: String,
    replacement: Option<String>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let re = regex(&pattern, &kwargs)?;
    let count = kwargs.get::<Option<usize>>("count")?.unwrap_or(0);
    kwargs.assert_all_used()?;
    let replacement = python_replacement(&replacement.unwrap_or_default());
    Ok(re.replacen(&value, count, replacement.as_str()).into_owned())
}

/// The match, or with group arguments (`'\\1'`, `'\\g<name>'`) the list of those groups;
/// none when nothing matches.
fn regex_search(
    value: String,
    pattern: String,
    groups: Rest<String>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let re = regex(&pattern, &kwargs)?;
    kwargs.assert_all_used()?;
    let Some(caps) = re.captures(&value) else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(Value::from(caps.get(0).map_or("", |m| m.as_str())));
    }
    let mut out = Vec::new();
    for group in groups.iter() {
        let name = group
            .trim_start_matches('\\')
            .trim_start_matches("g<")
            .trim_end_matches('>');
        let found = match name.parse::<usize>() {
            Ok(i) => caps.get(i),
            Err(_) => caps.name(name),
        };
        out.push(found.map_or(Value::from(()), |m| Value::from(m.as_str())));
    }
    Ok(Value::from(out))
}

/// Python's `re.findall`: the matches, or the group (a list of groups when several).
fn regex_findall(value: String, pattern: String, kwargs: Kwargs) -> Result<Value, Error> {
    let re = regex(&pattern, &kwargs)?;
    kwargs.assert_all_used()?;
    let groups = re.captures_len() - 1;
    let mut out = Vec::new();
    for caps in re.captures_iter(&value) {
        let text = |i: usize| Value::from(caps.get(i).map_or("", |m| m.as_str()));
        out.push(match groups {
            0 => text(0),
            1 => text(1),
            n => Value::from((1..=n).map(text).collect::<Vec<_>>()),
        });
    }
    Ok(Value::from(out))
}

/// Python 3.7's `re.escape`.
fn regex_escape(value: String) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\u{b}\u{c}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn b64encode(value: String) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
}

fn b64decode(value: String) -> Result<String, Error> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|err| invalid(format!("b64decode: {err}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Python's `os.path.basename`: what follows the last `/` (empty after a trailing one).
fn basename(value: String) -> String {
    value.rsplit('/').next().unwrap_or_default().to_owned()
}

/// Python's `os.path.dirname`: before the last `/`, trailing slashes trimmed unless root.
fn dirname(value: String) -> String {
    match value.rfind('/') {
        None => String::new(),
        Some(i) => {
            let head = &value[..=i];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                head.to_owned()
            } else {
                trimmed.to_owned()
            }
        }
    }
}

fn expanduser(value: String) -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    if value == "~" {
        home
    } else if let Some(rest) = value.strip_prefix("~/") {
        format!("{}/{rest}", home.trim_end_matches('/'))
    } else {
        value
    }
}

/// Python's `os.path.splitext`: `[root, ext]`, a leading dot is not an extension.
fn splitext(value: String) -> Value {
    let name_start = value.rfind('/').map_or(0, |i| i + 1);
    let name = &value[name_start..];
    let split = name
        .rfind('.')
        .filter(|&dot| name[..dot].chars().any(|c| c != '.'))
        .map(|dot| name_start + dot);
    let (root, ext) = match split {
        Some(i) => (&value[..i], &value[i..]),
        None => (value.as_str(), ""),
    };
    Value::from(vec![Value::from(root), Value::from(ext)])
}

fn quote(state: &State, value: &Value) -> Result<String, Error> {
    defined(state, value)?;
    Ok(shell_quote(&py_str(value)))
}

/// Python's `shlex.quote`.
pub fn shell_quote(text: &str) -> String {
    if text.is_empty() {
        return "''".into();
    }
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c))
    {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', "'\"'\"'"))
}

pub fn digest(algorithm: &str, data: &[u8]) -> Result<String, Error> {
    use sha2::Digest;
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
    Ok(match algorithm {
        "sha1" => hex(&sha1::Sha1::digest(data)),
        "md5" => hex(&md5::Md5::digest(data)),
        "sha224" => hex(&sha2::Sha224::digest(data)),
        "sha256" => hex(&sha2::Sha256::digest(data)),
        "sha384" => hex(&sha2::Sha384::digest(data)),
        "sha512" => hex(&sha2::Sha512::digest(data)),
        other => return Err(invalid(format!("hash: unsupported algorithm `{other}`"))),
    })
}

fn hash(state: &State, value: &Value, algorithm: Option<String>) -> Result<String, Error> {
    defined(state, value)?;
    digest(algorithm.as_deref().unwrap_or("sha1"), py_str(value).as_bytes())
}

/// Python's `os.path.normpath`: `.` and `..` resolved as text, slashes collapsed.
pub fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let lead = if path.starts_with("//") && !path.starts_with("///") {
        "//"
    } else if path.starts_with('/') {
        "/"
    } else {
        ""
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if !lead.is_empty() => {}
            other => parts.push(other),
        }
    }
    let joined = format!("{lead}{}", parts.join("/"));
    if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        normpath(path)
    } else {
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        normpath(&format!("{cwd}/{path}"))
    }
}

/// Python's `os.path.realpath`: links resolved as far as the path exists, the rest as text.
fn realpath(path: &str) -> String {
    let full = absolute(path);
    let mut existing = std::path::PathBuf::from(&full);
    let mut rest: Vec<String> = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&existing) {
            let mut out = real;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return normpath(&out.display().to_string());
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_string_lossy().into_owned());
                existing = parent.to_path_buf();
            }
            _ => return full,
        }
    }
}

/// Python's `os.path.join` over a list: an absolute part starts over.
fn path_join(value: Value) -> Result<String, Error> {
    let parts: Vec<String> = match value.as_str() {
        Some(one) => vec![one.to_owned()],
        None => value.try_iter()?.map(|v| py_str(&v)).collect(),
    };
    let mut out = String::new();
    for part in parts {
        if part.starts_with('/') || out.is_empty() {
            out = part;
        } else if out.ends_with('/') {
            out.push_str(&part);
        } else {
            out = format!("{out}/{part}");
        }
    }
    Ok(out)
}

/// Python's `os.path.relpath(path, start)`.
fn relpath(path: String, start: Option<String>) -> String {
    let path = absolute(&path);
    let start = absolute(start.as_deref().unwrap_or("."));
    let split = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let (a, b) = (split(&path), split(&start));
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".into(); b.len() - common];
    parts.extend(a[common..].iter().cloned());
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// Python's `os.path.commonpath`: the longest common folder of the paths.
fn commonpath(value: Value) -> Result<String, Error> {
    let paths: Vec<String> = value.try_iter()?.map(|v| py_str(&v)).collect();
    let Some(first) = paths.first() else {
        return Err(invalid("commonpath() arg is an empty sequence"));
    };
    let absolute = first.starts_with('/');
    if paths.iter().any(|p| p.starts_with('/') != absolute) {
        return Err(invalid("Can't mix absolute and relative paths"));
    }
    let split = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .map(str::to_owned)
            .collect()
    };
    let mut common = split(first);
    for path in &paths[1..] {
        let other = split(path);
        let n = common.iter().zip(&other).take_while(|(a, b)| a == b).count();
        common.truncate(n);
    }
    Ok(format!("{}{}", if absolute { "/" } else { "" }, common.join("/")))
}

/// Python's `os.path.expandvars`: `$NAME` and `${NAME}` of the controller's environment;
/// unknown names stay as written.
fn expandvars(text: &str) -> String {
    let re = Regex::new(r"\$(\w+|\{[^}]*\})").expect("static regex");
    re.replace_all(text, |caps: &regex::Captures<'_>| {
        let name = caps[1].trim_start_matches('{').trim_end_matches('}');
        std::env::var(name).unwrap_or_else(|_| caps[0].to_owned())
    })
    .into_owned()
}

/// Python's `urllib.parse.urlsplit` as Ansible's `urlsplit` shows it (a dictionary, or one
/// component by name).
fn urlsplit(url: String, component: Option<String>) -> Result<Value, Error> {
    let mut rest = url.as_str();
    let mut scheme = "";
    if let Some(colon) = rest.find(':') {
        let candidate = &rest[..colon];
        if candidate.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && candidate
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            scheme = candidate;
            rest = &rest[colon + 1..];
        }
    }
    let mut netloc = "";
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = &after[..end];
        rest = &after[end..];
    }
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (userinfo, hostinfo) = match netloc.rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, netloc),
    };
    let (username, password) = match userinfo {
        Some(info) => match info.split_once(':') {
            Some((u, p)) => (Value::from(u), Value::from(p)),
            None => (Value::from(info), Value::from(())),
        },
        None => (Value::from(()), Value::from(())),
    };
    let (host, port) = match hostinfo.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').unwrap_or((v6, ""));
            (host, after.strip_prefix(':'))
        }
        None => match hostinfo.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostinfo, None),
        },
    };
    let hostname = if host.is_empty() {
        Value::from(())
    } else {
        Value::from(host.to_lowercase())
    };
    let port = match port.filter(|p| !p.is_empty()) {
        Some(p) => match p.parse::<u16>() {
            Ok(n) => Value::from(n),
            Err(_) => {
                return Err(invalid(format!(
                    "Port could not be cast to integer value as {p:?}"
                )))
            }
        },
        None => Value::from(()),
    };
    let parts = [
        ("fragment", Value::from(fragment)),
        ("hostname", hostname),
        ("netloc", Value::from(netloc)),
        ("password", password),
        ("path", Value::from(path)),
        ("port", port),
        ("query", Value::from(query)),
        ("scheme", Value::from(scheme.to_lowercase())),
        ("username", username),
    ];
    match component.filter(|c| !c.is_empty()) {
        Some(name) => parts
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| invalid(format!("urlsplit: unknown URL component: {name}"))),
        None => Ok(Value::from_pairs(parts)),
    }
}

fn hex_byte(two: &[u8]) -> Option<u8> {
    u8::from_str_radix(std::str::from_utf8(two).ok()?, 16).ok()
}

/// Jinja's `urldecode` (Python's `unquote_plus`): `%XX` escapes and `+` as a space.
fn urldecode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 3 <= bytes.len() && hex_byte(&bytes[i + 1..i + 3]).is_some() => {
                out.extend(hex_byte(&bytes[i + 1..i + 3]));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Ansible's `comment`: the text as a comment block in a style (`plain`, `erlang`, `c`,
/// `cblock`, `xml`), each piece overridable (`prefix`, `decoration`, `postfix`, ...).
fn comment(state: &State, value: &Value, style: Option<String>, kwargs: Kwargs) -> Result<String, Error> {
    defined(state, value)?;
    let style = style.unwrap_or_else(|| "plain".into());
    let (beginning, decoration, end) = match style.as_str() {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        other => {
            return Err(invalid(format!(
                "Invalid style '{other}'. Available styles: plain, erlang, c, cblock, xml"
            )))
        }
    };
    let text_opt = |name: &str, default: &str| -> Result<String, Error> {
        Ok(kwargs
            .get::<Option<Value>>(name)?
            .map_or_else(|| default.to_owned(), |v| py_str(&v)))
    };
    let count_opt = |name: &str| -> Result<usize, Error> {
        Ok(match kwargs.get::<Option<Value>>(name)? {
            Some(v) => py_str(&v)
                .trim()
                .parse()
                .map_err(|_| invalid(format!("comment: `{name}` must be a number")))?,
            None => 1,
        })
    };
    let decoration = text_opt("decoration", decoration)?;
    let newline = text_opt("newline", "\n")?;
    let beginning = text_opt("beginning", beginning)?;
    // Without `decoration=` given, the style's own decoration, trimmed, is the prefix and postfix.
    let prepost = decoration.trim_end().to_owned();
    let prefix = text_opt("prefix", &prepost)?;
    let postfix = text_opt("postfix", &prepost)?;
    let end = text_opt("end", end)?;
    let prefix_count = count_opt("prefix_count")?;
    let postfix_count = count_opt("postfix_count")?;
    kwargs.assert_all_used()?;
    let text = py_str(value);
    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(&beginning);
        out.push_str(&newline);
    }
    if !prefix.is_empty() {
        let one = if prefix == newline {
            newline.clone()
        } else {
            format!("{prefix}{newline}")
        };
        out.push_str(&one.repeat(prefix_count));
    }
    let body = format!(
        "{decoration}{}",
        text.replace(&newline, &format!("{newline}{decoration}"))
    );
    out.push_str(&body.replace(
        &format!("{decoration}{newline}"),
        &format!("{}{newline}", decoration.trim_end()),
    ));
    for _ in 0..postfix_count {
        out.push_str(&newline);
        out.push_str(&postfix);
    }
    if !end.is_empty() {
        out.push_str(&newline);
        out.push_str(&end);
    }
    Ok(out)
}

/// Ansible's `to_uuid`: a version-5 UUID of the text in Ansible's namespace (or the one given).
fn to_uuid(value: String, namespace: Option<String>) -> Result<String, Error> {
    use sha1::Digest;
    let namespace = namespace.unwrap_or_else(|| "361E6D51-FAEC-444A-9079-341386DA8E2E".into());
    let hex: String = namespace.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    if hex.len() != 32 {
        return Err(invalid(format!("to_uuid: invalid namespace {namespace}")));
    }
    let ns: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect();
    let digest = sha1::Sha1::new()
        .chain_update(&ns)
        .chain_update(value.as_bytes())
        .finalize();
    let mut b: [u8; 16] = digest[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}
