//! Ansible host patterns: `web:&prod:!web3`, `*.example.com`, `~web\d+`, `web[0:2]`.

use super::{Inventory, LOCALHOST_NAMES};
use indexmap::IndexSet;
use regex::Regex;
use std::sync::LazyLock;

static SUBSCRIPT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$").unwrap());

pub(super) fn select(inv: &Inventory, pattern: &str) -> Result<Vec<String>, String> {
    let mut terms = Vec::new();
    for term in split_host_pattern(pattern) {
        match term.strip_prefix('@') {
            Some(file) => {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| format!("cannot read host list `{file}`: {e}"))?;
                terms.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(String::from),
                );
            }
            None => terms.push(term),
        }
    }
    // Unions first, then intersections, then exclusions, whatever order they were written in.
    let mut ordered: Vec<&str> = terms
        .iter()
        .map(String::as_str)
        .filter(|t| !t.starts_with(['&', '!']))
        .collect();
    if ordered.is_empty() {
        ordered.push("all");
    }
    ordered.extend(terms.iter().map(String::as_str).filter(|t| t.starts_with('&')));
    ordered.extend(terms.iter().map(String::as_str).filter(|t| t.starts_with('!')));

    let mut hosts: IndexSet<String> = IndexSet::new();
    for term in ordered {
        if let Some(rest) = term.strip_prefix('&') {
            let keep: IndexSet<String> = match_one(inv, rest)?.into_iter().collect();
            hosts.retain(|h| keep.contains(h));
        } else if let Some(rest) = term.strip_prefix('!') {
            let drop: IndexSet<String> = match_one(inv, rest)?.into_iter().collect();
            hosts.retain(|h| !drop.contains(h));
        } else if inv.hosts.contains_key(term) {
            hosts.insert(term.to_owned());
        } else {
            hosts.extend(match_one(inv, term)?);
        }
    }
    Ok(hosts.into_iter().collect())
}

/// `a:b`, `a,b`; a single host with a port or an IPv6 address stays whole.
fn split_host_pattern(pattern: &str) -> Vec<String> {
    let parts: Vec<String> = if pattern.contains(',') {
        pattern.split(',').map(String::from).collect()
    } else if is_single_address(pattern) {
        vec![pattern.to_owned()]
    } else {
        let mut parts = Vec::new();
        let mut current = String::new();
        let mut depth = 0;
        for c in pattern.chars() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                ':' if depth == 0 => {
                    parts.push(std::mem::take(&mut current));
                    continue;
                }
                _ => {}
            }
            current.push(c);
        }
        parts.push(current);
        parts
    };
    parts
        .into_iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

/// An IPv6 address (`::1`, `fe80::1`): many colons and nothing else but hex digits and dots.
fn is_single_address(pattern: &str) -> bool {
    pattern.matches(':').count() >= 2
        && !pattern.contains(['&', '!', '*', '~', '@'])
        && pattern
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
}

/// One term without its `&`/`!`: matching groups' hosts, then matching hosts.
fn match_one(inv: &Inventory, term: &str) -> Result<Vec<String>, String> {
    let (expr, subscript) = split_subscript(term);
    let hosts = enumerate_matches(inv, expr)?;
    let Some((start, end)) = subscript else {
        return Ok(hosts);
    };
    let len = hosts.len() as i64;
    let missing = || format!("no hosts matched the subscripted pattern `{term}`");
    let index = |i: i64| if i < 0 { i + len } else { i };
    match end {
        // Ansible treats an end of 0 as no end: a single host.
        None | Some(0) => {
            let i = index(start);
            if i < 0 || i >= len {
                return Err(missing());
            }
            Ok(vec![hosts[i as usize].clone()])
        }
        Some(end) => {
            let end = if end == -1 { len - 1 } else { end };
            let (s, e) = (index(start).clamp(0, len), (end + 1).clamp(0, len));
            Ok(hosts[s as usize..(e.max(s)) as usize].to_vec())
        }
    }
}

/// `web[1:3]` -> (`web`, (1, Some(3))); `web[0]` -> (`web`, (0, None)); `web[1:]` ends at -1.
fn split_subscript(term: &str) -> (&str, Option<(i64, Option<i64>)>) {
    if term.starts_with('~') {
        return (term, None);
    }
    let Some(c) = SUBSCRIPT.captures(term) else {
        return (term, None);
    };
    let expr = c.get(1).unwrap().as_str();
    if let Some(idx) = c.get(2) {
        return match idx.as_str().parse() {
            Ok(i) => (expr, Some((i, None))),
            Err(_) => (term, None),
        };
    }
    let start = c[3].parse().unwrap_or(0);
    let end = if c[5].is_empty() {
        -1
    } else {
        c[5].parse().unwrap_or(-1)
    };
    (expr, Some((start, Some(end))))
}

enum Matcher {
    Exact(String),
    Regex(Regex),
}

impl Matcher {
    fn new(pattern: &str) -> Result<Matcher, String> {
        if let Some(re) = pattern.strip_prefix('~') {
            return Regex::new(&format!("^(?:{re})"))
                .map(Matcher::Regex)
                .map_err(|e| format!("invalid regular expression in host pattern `{pattern}`: {e}"));
        }
        if !pattern.contains(['*', '?', '[']) {
            return Ok(Matcher::Exact(pattern.to_owned()));
        }
        Regex::new(&glob_to_regex(pattern))
            .map(Matcher::Regex)
            .map_err(|e| format!("invalid host pattern `{pattern}`: {e}"))
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == name,
            Matcher::Regex(re) => re.is_match(name),
        }
    }
}

/// Python's `fnmatch.fnmatch` (case-sensitive): whether `name` matches `glob`.
pub fn fnmatch(glob: &str, name: &str) -> bool {
    regex::Regex::new(&glob_to_regex(glob)).is_ok_and(|re| re.is_match(name))
}

/// Python's `fnmatch.translate`: `*`, `?`, `[seq]`, `[!seq]`, anchored at both ends.
fn glob_to_regex(glob: &str) -> String {
    let chars: Vec<char> = glob.chars().collect();
    let mut re = String::from("^(?s:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    re.push_str("\\[");
                    continue;
                }
                let mut class: String = chars[i..j].iter().collect();
                i = j + 1;
                if let Some(rest) = class.strip_prefix('!') {
                    class = format!("^{rest}");
                } else if class.starts_with('^') {
                    class = format!("\\{class}");
                }
                re.push('[');
                re.push_str(&class.replace('\\', "\\\\").replace('[', "\\["));
                re.push(']');
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push_str(")$");
    re
}

/// Ansible's `_enumerate_matches`: hosts of the groups the pattern names, plus hosts it
/// names when no group matched or it is a wildcard or regex; the implicit localhost last.
fn enumerate_matches(inv: &Inventory, pattern: &str) -> Result<Vec<String>, String> {
    let matcher = Matcher::new(pattern)?;
    let mut results = Vec::new();
    let groups: Vec<&String> = inv.groups.keys().filter(|g| matcher.matches(g)).collect();
    for g in &groups {
        results.extend(inv.group_hosts(g));
    }
    let wild = pattern.starts_with('~') || pattern.contains(['.', '?', '*', '[']);
    if groups.is_empty() || wild {
        results.extend(inv.hosts.keys().filter(|h| matcher.matches(h)).cloned());
    }
    if results.is_empty() && LOCALHOST_NAMES.contains(&pattern) {
        results.push(pattern.to_owned());
    }
    Ok(results)
}
