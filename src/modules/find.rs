//! `find`: files, directories or links under `paths` that match every filter given,
//! returned as Ansible's `find` returns them (`files`: stat-like dicts with its keys,
//! `matched`, `examined`, `msg`, `skipped_paths`). Read-only: the same in check mode.
//!
//! One GNU `find -printf` on the target lists every entry with its lstat fields
//! (`find.sh`); the filters (`patterns`/`excludes` as fnmatch or Python regexes, `age`,
//! `size`, `mode`, `hidden`, `depth`, `file_type`) run here, in the order Python's
//! `os.walk` visits entries (each directory's files, then its directories, then into
//! each), so `files`, `examined` and `limit` come out as Ansible's. `contains` and
//! `get_checksum` need the files' content: a second round trip for the candidates only
//! (`find_check.sh`: `grep -P`, Perl's regexes being the nearest to Python's, and
//! `sha1sum` and friends).
//!
//! Differences: `mode` is octal only (no symbolic modes); with `follow`, a followed link is
//! reported as what it points to (find -L), where Ansible reports the link; `encoding` is
//! taken and ignored (UTF-8 or bytes, as grep reads them).

use super::args::{self, check_choice, fresh_mark};
use super::pyre::{self, Flags};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_quote, sh_script, RemoteCommand};
use async_trait::async_trait;
use regex::Regex;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

pub struct Find;

const ALGORITHMS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(alias = "name", alias = "path", deserialize_with = "args::opt_list")]
    paths: Option<Vec<String>>,
    #[serde(default, alias = "pattern", deserialize_with = "args::opt_list")]
    patterns: Option<Vec<String>>,
    #[serde(default, alias = "exclude", deserialize_with = "args::opt_list")]
    excludes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "args::opt_text")]
    contains: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    read_whole_file: Option<bool>,
    #[serde(default)]
    file_type: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    age: Option<String>,
    #[serde(default)]
    age_stamp: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    size: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    recurse: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    hidden: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    follow: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    get_checksum: Option<bool>,
    #[serde(default, alias = "checksum", alias = "checksum_algo")]
    checksum_algorithm: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    use_regex: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    depth: Option<f64>,
    #[serde(default, deserialize_with = "args::opt_text")]
    mode: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    exact_mode: Option<bool>,
    #[serde(default)]
    #[allow(dead_code)]
    encoding: Option<String>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    limit: Option<f64>,
}

/// `NUMBER[UNIT]` as Ansible reads `age` (s m h d w) and `size` (b k m g t).
fn with_unit(text: &str, units: &[(char, i64)]) -> Option<i64> {
    let text = text.trim().to_lowercase();
    let (number, factor) = match text.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            (&text[..text.len() - 1], units.iter().find(|(u, _)| *u == c)?.1)
        }
        _ => (text.as_str(), 1),
    };
    let digits = number.strip_prefix('-').unwrap_or(number);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse::<i64>().ok().map(|n| n * factor)
}

const AGE_UNITS: &[(char, i64)] = &[('s', 1), ('m', 60), ('h', 3600), ('d', 86400), ('w', 604_800)];
const SIZE_UNITS: &[(char, i64)] = &[
    ('b', 1),
    ('k', 1024),
    ('m', 1024 * 1024),
    ('g', 1024 * 1024 * 1024),
    ('t', 1024 * 1024 * 1024 * 1024),
];

/// Python's `fnmatch.translate`: `*`, `?`, `[seq]`, `[!seq]`, the rest literal.
fn fnmatch_regex(pattern: &str) -> Regex {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::from("(?s)^");
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                let mut j = i + 1;
                if chars.get(j) == Some(&'!') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str("\\[");
                } else {
                    let inner: String = chars[i + 1..j].iter().collect();
                    let (negate, inner) = match inner.strip_prefix('!') {
                        Some(rest) => (true, rest.to_owned()),
                        None => (false, inner),
                    };
                    let escaped = inner
                        .replace('\\', "\\\\")
                        .replace('[', "\\[")
                        .replace('&', "\\&")
                        .replace('~', "\\~");
                    out.push('[');
                    if negate {
                        out.push('^');
                    }
                    out.push_str(&escaped);
                    out.push(']');
                    i = j;
                }
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    out.push('$');
    Regex::new(&out)
        .unwrap_or_else(|_| Regex::new(&format!("^{}$", regex::escape(pattern))).expect("literal"))
}

/// `patterns` and `excludes` on an entry's name, as Ansible's `pfilter`.
struct NameFilter {
    patterns: Vec<Regex>,
    excludes: Vec<Regex>,
}

impl NameFilter {
    fn new(a: &Args) -> Result<Self, String> {
        let use_regex = a.use_regex == Some(true);
        let compile = |p: &String| -> Result<Regex, String> {
            if use_regex {
                // re.match: anchored at the start only.
                pyre::compile(&format!("^(?:{p})"), Flags::default())
            } else {
                Ok(fnmatch_regex(p))
            }
        };
        let mut patterns: Vec<String> = a.patterns.clone().unwrap_or_default();
        if patterns.is_empty() {
            patterns.push(if use_regex { ".*" } else { "*" }.into());
        }
        Ok(NameFilter {
            patterns: patterns.iter().map(compile).collect::<Result<_, _>>()?,
            excludes: a
                .excludes
                .iter()
                .flatten()
                .map(compile)
                .collect::<Result<_, _>>()?,
        })
    }

    fn matches(&self, name: &str) -> bool {
        self.patterns.iter().any(|p| p.is_match(name)) && !self.excludes.iter().any(|e| e.is_match(name))
    }
}

/// One entry as `find -printf` gave it.
#[derive(Debug, Clone)]
struct Entry {
    /// Relative to the searched path.
    rel: String,
    kind: char,
    /// What a link points to (`d` for a directory).
    target_kind: char,
    mode: u32,
    fields: Vec<String>,
}

impl Entry {
    fn parse(record: &str) -> Option<Entry> {
        let parts: Vec<&str> = record.splitn(15, ' ').collect();
        if parts.len() != 15 {
            return None;
        }
        Some(Entry {
            rel: parts[14].to_owned(),
            kind: parts[0].chars().next()?,
            target_kind: parts[1].chars().next()?,
            mode: u32::from_str_radix(parts[2], 8).ok()?,
            fields: parts[3..14].iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    fn name(&self) -> &str {
        self.rel.rsplit('/').next().unwrap_or(&self.rel)
    }

    fn parent(&self) -> &str {
        self.rel.rsplit_once('/').map_or("", |(p, _)| p)
    }

    /// `os.walk` puts a link to a directory among the directories.
    fn dir_like(&self) -> bool {
        self.kind == 'd' || (self.kind == 'l' && self.target_kind == 'd')
    }

    fn int(&self, i: usize) -> u64 {
        self.fields[i].parse().unwrap_or(0)
    }

    fn float(&self, i: usize) -> f64 {
        self.fields[i].parse().unwrap_or(0.0)
    }

    fn size(&self) -> i64 {
        self.fields[2].parse().unwrap_or(0)
    }

    fn time(&self, stamp: &str) -> f64 {
        match stamp {
            "atime" => self.float(6),
            "ctime" => self.float(8),
            _ => self.float(7),
        }
    }

    /// Ansible's `statinfo`, after `path`.
    fn info(&self, path: &str) -> Map<String, Value> {
        let mut st = Map::new();
        st.insert("path".into(), json!(path));
        st.insert("mode".into(), json!(format!("{:04o}", self.mode & 0o7777)));
        for (key, k) in [
            ("isdir", 'd'),
            ("ischr", 'c'),
            ("isblk", 'b'),
            ("isreg", 'f'),
            ("isfifo", 'p'),
            ("islnk", 'l'),
            ("issock", 's'),
        ] {
            st.insert(key.into(), json!(self.kind == k));
        }
        for (key, i) in [
            ("uid", 0),
            ("gid", 1),
            ("size", 2),
            ("inode", 3),
            ("dev", 4),
            ("nlink", 5),
        ] {
            st.insert(key.into(), json!(self.int(i)));
        }
        for (key, i) in [("atime", 6), ("mtime", 7), ("ctime", 8)] {
            st.insert(key.into(), json!(self.float(i)));
        }
        // GNU find prints the number for an id without a name; Python gives "".
        let name = |i: usize, id: usize| {
            if self.fields[i] == self.fields[id] {
                String::new()
            } else {
                self.fields[i].clone()
            }
        };
        st.insert("gr_name".into(), json!(name(10, 1)));
        st.insert("pw_name".into(), json!(name(9, 0)));
        for (key, b) in [
            ("wusr", 0o200),
            ("rusr", 0o400),
            ("xusr", 0o100),
            ("wgrp", 0o020),
            ("rgrp", 0o040),
            ("xgrp", 0o010),
            ("woth", 0o002),
            ("roth", 0o004),
            ("xoth", 0o001),
            ("isuid", 0o4000),
            ("isgid", 0o2000),
        ] {
            st.insert(key.into(), json!(self.mode & b != 0));
        }
        st
    }
}

/// Python's `os.path.normpath` on a POSIX path.
fn normpath(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// The entries of one searched path, in the order `os.walk` visits them, with the depth
/// of each and how many entries the walk looked at until `stop` said so.
struct Walk<'a> {
    children: HashMap<&'a str, Vec<&'a Entry>>,
    follow: bool,
}

impl<'a> Walk<'a> {
    fn new(entries: &'a [Entry], follow: bool) -> Self {
        let mut children: HashMap<&str, Vec<&Entry>> = HashMap::new();
        for e in entries {
            children.entry(e.parent()).or_default().push(e);
        }
        Walk { children, follow }
    }

    /// Calls `visit(entry, depth)` for each entry until it returns true (a limit reached);
    /// returns how many entries were looked at and whether it was stopped.
    fn run(&self, recurse: bool, visit: &mut dyn FnMut(&Entry, usize) -> bool) -> (usize, bool) {
        let mut looked = 0;
        let stopped = self.walk("", 1, recurse, visit, &mut looked);
        (looked, stopped)
    }

    fn walk(
        &self,
        dir: &str,
        depth: usize,
        recurse: bool,
        visit: &mut dyn FnMut(&Entry, usize) -> bool,
        looked: &mut usize,
    ) -> bool {
        let Some(children) = self.children.get(dir) else {
            return false;
        };
        *looked += children.len();
        let (dirs, files): (Vec<&Entry>, Vec<&Entry>) = children.iter().partition(|e| e.dir_like());
        for e in files.iter().chain(dirs.iter()) {
            if visit(e, depth) {
                return true;
            }
        }
        if !recurse {
            return true;
        }
        for d in dirs {
            if (d.kind == 'd' || self.follow) && self.walk(&d.rel, depth + 1, recurse, visit, looked) {
                return true;
            }
        }
        false
    }
}

/// One searched path: its entries, or why it was skipped.
struct Listed {
    root: String,
    entries: Vec<Entry>,
    not_dir: bool,
}

fn parse_listing(stdout: &str, mark: &str) -> (f64, Vec<Listed>) {
    let mut now = 0.0;
    let mut listed: Vec<Listed> = Vec::new();
    for piece in stdout.split(mark).skip(1) {
        let (head, body) = piece.split_once('\n').unwrap_or((piece, ""));
        let (key, value) = head.split_once('=').unwrap_or((head, ""));
        match key {
            "now" => now = value.parse().unwrap_or(0.0),
            "root" => listed.push(Listed {
                root: value.to_owned(),
                entries: body.split('\0').filter_map(Entry::parse).collect(),
                not_dir: false,
            }),
            "notdir" => {
                if let Some(last) = listed.last_mut() {
                    last.not_dir = true;
                }
            }
            _ => {}
        }
    }
    (now, listed)
}

struct Filters {
    names: NameFilter,
    file_type: String,
    age: Option<i64>,
    age_stamp: String,
    size: Option<i64>,
    mode: Option<u32>,
    exact_mode: bool,
    hidden: bool,
    depth: Option<usize>,
}

impl Filters {
    /// Every filter but `contains` (which needs the file's content).
    fn pass(&self, e: &Entry, depth: usize, now: f64) -> bool {
        if self.depth.is_some_and(|d| depth > d) || (e.name().starts_with('.') && !self.hidden) {
            return false;
        }
        let age_ok = match self.age {
            None => true,
            Some(age) if age >= 0 => now - e.time(&self.age_stamp) >= age as f64,
            Some(age) => now - e.time(&self.age_stamp) <= age.unsigned_abs() as f64,
        };
        let size_ok = match self.size {
            None => true,
            Some(size) if size >= 0 => e.size() >= size,
            Some(size) => e.size() <= size.abs(),
        };
        let mode_ok = match self.mode {
            None => true,
            Some(m) if self.exact_mode => e.mode & 0o7777 == m,
            Some(m) => e.mode & m != 0,
        };
        let common = self.names.matches(e.name()) && age_ok && mode_ok;
        match self.file_type.as_str() {
            "any" => common && (e.kind != 'f' || size_ok),
            "directory" => common && e.kind == 'd',
            "link" => common && e.kind == 'l',
            _ => common && e.kind == 'f' && size_ok,
        }
    }
}

fn filters(a: &Args) -> Result<Filters, String> {
    let age = a
        .age
        .as_deref()
        .map(|t| with_unit(t, AGE_UNITS).ok_or_else(|| "failed to process age".to_owned()))
        .transpose()?;
    let size = a
        .size
        .as_deref()
        .map(|t| with_unit(t, SIZE_UNITS).ok_or_else(|| "failed to process size".to_owned()))
        .transpose()?;
    let mode = a
        .mode
        .as_deref()
        .map(|m| {
            u32::from_str_radix(m.trim(), 8)
                .map(|m| m & 0o7777)
                .map_err(|_| format!("mode `{m}`: zdd's find takes an octal mode"))
        })
        .transpose()?;
    Ok(Filters {
        names: NameFilter::new(a)?,
        file_type: a.file_type.clone().unwrap_or_else(|| "file".into()),
        age,
        age_stamp: a.age_stamp.clone().unwrap_or_else(|| "mtime".into()),
        size,
        mode,
        exact_mode: a.exact_mode != Some(false),
        hidden: a.hidden == Some(true),
        depth: a.depth.filter(|d| *d > 0.0).map(|d| d as usize),
    })
}

fn check_args(a: &Args) -> Result<(), ArgError> {
    if a.paths.as_ref().is_none_or(Vec::is_empty) {
        return Err(ArgError::new("missing required arguments: paths").key("paths"));
    }
    check_choice(
        "file_type",
        a.file_type.as_deref(),
        &["any", "directory", "file", "link"],
    )?;
    check_choice("age_stamp", a.age_stamp.as_deref(), &["atime", "ctime", "mtime"])?;
    check_choice("checksum_algorithm", a.checksum_algorithm.as_deref(), ALGORITHMS)?;
    if let Some(limit) = a.limit.filter(|l| *l <= 0.0) {
        return Err(ArgError::new(format!("limit cannot be {limit} (use None for unlimited)")).key("limit"));
    }
    Ok(())
}

#[async_trait]
impl TypedModule for Find {
    type Args = Args;

    fn name(&self) -> &'static str {
        "find"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        check_args(a)
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let f = filters(&a)?;
        let recurse = a.recurse == Some(true);
        let follow = a.follow == Some(true);
        let maxdepth = match (recurse, f.depth) {
            (false, _) => Some(1),
            (true, Some(d)) => Some(d + 1),
            (true, None) => None,
        };
        let paths = a.paths.clone().unwrap_or_default().join("\n");
        let mark = fresh_mark();
        let script = sh_script(
            &[
                ("m", &mark),
                ("paths", &paths),
                ("follow", if follow { "1" } else { "0" }),
                ("maxdepth", &maxdepth.map(|d| d.to_string()).unwrap_or_default()),
            ],
            include_str!("find.sh"),
        );
        let out = ctx
            .host
            .run(&RemoteCommand::new(script).run_as(ctx.run_as.cloned()))
            .await?;
        if out.rc != 0 {
            return Err(Failure::Task(format!("find failed: {}", out.stderr.trim())));
        }
        let (now, listed) = parse_listing(&out.stdout, &mark);
        let mut skipped = Map::new();
        for line in out.stderr.lines() {
            if let Some(path) = line
                .find(&mark)
                .map(|at| &line[at + mark.len()..])
                .and_then(|l| l.strip_prefix("denied="))
            {
                skipped.insert(
                    path.into(),
                    json!(format!("[Errno 13] Permission denied: '{path}'")),
                );
            }
        }
        // Candidates: every filter but `contains`, by (path index, entry index).
        let mut candidates: BTreeMap<(usize, usize), String> = BTreeMap::new();
        for (pi, l) in listed.iter().enumerate() {
            let index: HashMap<*const Entry, usize> = l
                .entries
                .iter()
                .enumerate()
                .map(|(i, e)| (e as *const Entry, i))
                .collect();
            Walk::new(&l.entries, follow).run(recurse, &mut |e, depth| {
                if f.pass(e, depth, now) {
                    candidates.insert(
                        (pi, index[&(e as *const Entry)]),
                        normpath(&format!("{}/{}", l.root, e.rel)),
                    );
                }
                false
            });
        }
        // The content pass: `contains` for files, checksums for regular files.
        let contains = a.contains.clone().filter(|_| f.file_type == "file");
        let algo = (a.get_checksum == Some(true))
            .then(|| a.checksum_algorithm.clone().unwrap_or_else(|| "sha1".into()));
        let mut hits: Option<HashSet<(usize, usize)>> = None;
        let mut sums: HashMap<(usize, usize), String> = HashMap::new();
        let checked: Vec<((usize, usize), &String)> = candidates
            .iter()
            .filter(|(k, _)| listed[k.0].entries[k.1].kind == 'f')
            .map(|(k, p)| (*k, p))
            .collect();
        if (contains.is_some() || algo.is_some()) && !checked.is_empty() {
            let mark = fresh_mark();
            let set = checked
                .iter()
                .map(|(_, p)| sh_quote(p))
                .collect::<Vec<_>>()
                .join(" ");
            let script = sh_script(
                &[
                    ("m", &mark),
                    ("contains", contains.as_deref().unwrap_or("")),
                    ("whole", if a.read_whole_file == Some(true) { "1" } else { "0" }),
                    ("algo", algo.as_deref().unwrap_or("")),
                ],
                &format!("set -- {set}\n{}", include_str!("find_check.sh")),
            );
            let out = ctx
                .host
                .run(&RemoteCommand::new(script).run_as(ctx.run_as.cloned()))
                .await?;
            let mut rest = String::new();
            let mut found = HashSet::new();
            for (key, value) in args::mark_lines(&out.stdout, &mark, &mut rest) {
                let number = |v: &str| {
                    v.parse::<usize>()
                        .ok()
                        .and_then(|i| checked.get(i.wrapping_sub(1)))
                        .map(|c| c.0)
                };
                match key {
                    "hit" => found.extend(number(value)),
                    "sum" => {
                        if let Some((i, sum)) = value.split_once(' ') {
                            if let Some(k) = number(i) {
                                sums.insert(k, sum.to_owned());
                            }
                        }
                    }
                    _ => {}
                }
            }
            if contains.is_some() {
                hits = Some(found);
            }
        }
        // The final walk, in Python's order, with `limit`.
        let limit = a.limit.map(|l| l as usize);
        let mut files = Vec::new();
        let mut examined = 0;
        let mut msg = "All paths examined";
        let mut warned = false;
        for (pi, l) in listed.iter().enumerate() {
            if l.not_dir {
                skipped.insert(l.root.clone(), json!(format!("'{}' is not a directory", l.root)));
                warned = true;
                continue;
            }
            let index: HashMap<*const Entry, usize> = l
                .entries
                .iter()
                .enumerate()
                .map(|(i, e)| (e as *const Entry, i))
                .collect();
            let (looked, _) = Walk::new(&l.entries, follow).run(recurse, &mut |e, _| {
                let key = (pi, index[&(e as *const Entry)]);
                let Some(path) = candidates.get(&key) else {
                    return false;
                };
                let is_file = e.kind == 'f';
                if is_file && f.file_type == "file" && hits.as_ref().is_some_and(|h| !h.contains(&key)) {
                    return false;
                }
                let mut info = e.info(path);
                if let Some(sum) = sums.get(&key) {
                    info.insert("checksum".into(), json!(sum));
                }
                files.push(Value::Object(info));
                if Some(files.len()) == limit {
                    msg = "Limit of matches reached";
                    return true;
                }
                false
            });
            examined += looked;
        }
        if warned {
            msg = "Not all paths examined, check warnings for details";
        }
        let mut r = ModuleResult::ok();
        r.msg = Some(msg.into());
        r.extra.insert("matched".into(), json!(files.len()));
        r.extra.insert("files".into(), Value::Array(files));
        r.extra.insert("examined".into(), json!(examined));
        r.extra.insert("skipped_paths".into(), Value::Object(skipped));
        Ok(r)
    }
}

#[cfg(test)]
#[path = "find_tests.rs"]
mod tests;
