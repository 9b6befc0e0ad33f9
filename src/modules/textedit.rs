//! The edits of `lineinfile`, `blockinfile` and `replace`: pure functions from the old
//! text to the new one, step for step as Ansible's modules decide (which line matches,
//! where a line or block goes, when nothing changes), so their quirks are kept too.
//! The modules read the file and write the result back (`edit_file.rs`).

use super::pyre::{self, Flags};
use regex::Regex;

/// Python's `readlines()` on bytes: lines split after each `\n`, endings kept.
pub fn readlines(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_owned).collect()
}

/// Python's `bytes.splitlines(True)`: lines end at `\n`, `\r\n` or `\r`, endings kept.
pub fn splitlines_keepends(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(text[start..=i].to_owned());
                start = i + 1;
            }
            b'\r' => {
                let end = if bytes.get(i + 1) == Some(&b'\n') {
                    i + 1
                } else {
                    i
                };
                lines.push(text[start..=end].to_owned());
                i = end;
                start = end + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < text.len() {
        lines.push(text[start..].to_owned());
    }
    lines
}

/// A line without its `\n`: Python's `$` (no MULTILINE) also matches before a final
/// newline, so searching the line without it finds what Python finds.
fn body(line: &str) -> &str {
    line.strip_suffix('\n').unwrap_or(line)
}

fn rstrip_eol(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

/// How `lineinfile` finds its line.
#[derive(Debug, Default)]
pub struct LineSpec<'a> {
    pub regexp: Option<&'a Regex>,
    pub search_string: Option<&'a str>,
    pub line: &'a str,
    /// A regex, or `EOF`/`BOF` (the default is `EOF`).
    pub insertafter: Option<&'a str>,
    /// A regex, or `BOF`.
    pub insertbefore: Option<&'a str>,
    pub backrefs: bool,
    pub firstmatch: bool,
}

/// The new lines, and Ansible's message (empty: nothing changed).
#[derive(Debug, PartialEq)]
pub struct Edited {
    pub text: String,
    pub changed: bool,
    pub msg: String,
}

/// `lineinfile state=present`.
pub fn line_present(text: &str, spec: &LineSpec<'_>) -> Result<Edited, String> {
    let mut lines = readlines(text);
    let insertafter = match (spec.insertafter, spec.insertbefore) {
        (None, None) => Some("EOF"),
        (after, _) => after,
    };
    let insert_re = match (insertafter, spec.insertbefore) {
        (Some(after), _) if after != "BOF" && after != "EOF" => Some(pyre::compile(after, Flags::default())?),
        (_, Some(before)) if before != "BOF" => Some(pyre::compile(before, Flags::default())?),
        _ => None,
    };
    let line = spec.line;
    let (mut found, mut insert_at): (Option<usize>, Option<usize>) = (None, None);
    let mut matched = false;
    let mut expanded: Option<String> = None;
    if let Some(re) = spec.regexp {
        for (i, cur) in lines.iter().enumerate() {
            if let Some(caps) = re.captures(body(cur)) {
                found = Some(i);
                matched = true;
                if spec.backrefs {
                    expanded = Some(pyre::expand(line, &caps)?);
                }
                if spec.firstmatch {
                    break;
                }
            }
        }
    }
    if let Some(needle) = spec.search_string {
        for (i, cur) in lines.iter().enumerate() {
            if cur.contains(needle) {
                found = Some(i);
                matched = true;
                if spec.firstmatch {
                    break;
                }
            }
        }
    }
    if !matched {
        for (i, cur) in lines.iter().enumerate() {
            if rstrip_eol(cur) == line {
                found = Some(i);
            } else if let Some(re) = &insert_re {
                if re.is_match(body(cur)) {
                    insert_at = Some(if spec.insertbefore.is_some() { i } else { i + 1 });
                    if spec.firstmatch {
                        break;
                    }
                }
            }
        }
    }
    let with_eol = |l: &str| format!("{l}\n");
    let mut msg = "";
    if let Some(i) = found {
        let mut new_line = match (&expanded, spec.backrefs && matched) {
            (Some(e), true) => e.clone(),
            _ => line.to_owned(),
        };
        if !new_line.ends_with('\n') {
            new_line.push('\n');
        }
        if lines[i] != new_line {
            lines[i] = new_line;
            msg = "line replaced";
        }
    } else if spec.backrefs {
        // A `backrefs` regex that matches nowhere leaves the file alone.
    } else if spec.insertbefore == Some("BOF") || insertafter == Some("BOF") {
        lines.insert(0, with_eol(line));
        msg = "line added";
    } else if insertafter == Some("EOF") || insert_at.is_none() {
        if lines.last().is_some_and(|l| !l.ends_with(['\n', '\r'])) {
            lines.push("\n".into());
        }
        lines.push(with_eol(line));
        msg = "line added";
    } else if let (Some(_), Some(at)) = (insertafter, insert_at) {
        if lines.len() == at {
            if rstrip_eol(&lines[at - 1]) != line {
                lines.push(with_eol(line));
                msg = "line added";
            }
        } else if rstrip_eol(&lines[at]) != line {
            lines.insert(at, with_eol(line));
            msg = "line added";
        }
    } else if let Some(at) = insert_at {
        lines.insert(at, with_eol(line));
        msg = "line added";
    }
    Ok(Edited {
        text: lines.concat(),
        changed: !msg.is_empty(),
        msg: msg.into(),
    })
}

/// `lineinfile state=absent`: the lines that match go; how many did.
pub fn line_absent(
    text: &str,
    regexp: Option<&Regex>,
    search_string: Option<&str>,
    line: Option<&str>,
) -> (Edited, usize) {
    let lines = readlines(text);
    let matches = |cur: &str| match (regexp, search_string) {
        (Some(re), _) => re.is_match(body(cur)),
        (None, Some(needle)) => cur.contains(needle),
        (None, None) => Some(rstrip_eol(cur)) == line,
    };
    let kept: Vec<&String> = lines.iter().filter(|l| !matches(l)).collect();
    let found = lines.len() - kept.len();
    let msg = if found > 0 {
        format!("{found} line(s) removed")
    } else {
        String::new()
    };
    let edited = Edited {
        text: kept.into_iter().map(String::as_str).collect(),
        changed: found > 0,
        msg,
    };
    (edited, found)
}

/// How `blockinfile` places its block.
#[derive(Debug)]
pub struct BlockSpec<'a> {
    pub present: bool,
    pub block: &'a str,
    /// With `{mark}` in it.
    pub marker: &'a str,
    pub marker_begin: &'a str,
    pub marker_end: &'a str,
    pub insertafter: Option<&'a str>,
    pub insertbefore: Option<&'a str>,
    pub append_newline: bool,
    pub prepend_newline: bool,
}

/// `blockinfile`: `original` is `None` for a file that does not exist yet.
pub fn block(original: Option<&str>, spec: &BlockSpec<'_>) -> Result<Edited, String> {
    let text = original.unwrap_or("");
    let mut lines = splitlines_keepends(text);
    let insertafter = match (spec.insertafter, spec.insertbefore) {
        (None, None) => Some("EOF"),
        (after, _) => after,
    };
    let insert_pattern = match (insertafter, spec.insertbefore) {
        (Some(after), _) if after != "EOF" => Some(after),
        (_, Some(before)) if before != "BOF" => Some(before),
        _ => None,
    };
    let marker0 = format!("{}\n", spec.marker.replace("{mark}", spec.marker_begin));
    let marker1 = format!("{}\n", spec.marker.replace("{mark}", spec.marker_end));
    let mut block_lines = Vec::new();
    if spec.present && !spec.block.is_empty() {
        let mut block = spec.block.to_owned();
        if !block.ends_with('\n') {
            block.push('\n');
        }
        block_lines.push(marker0.clone());
        block_lines.extend(splitlines_keepends(&block));
        block_lines.push(marker1.clone());
    }
    let (mut n0, mut n1) = (None, None);
    for (i, line) in lines.iter().enumerate() {
        if *line == marker0 {
            n0 = Some(i);
        }
        if *line == marker1 {
            n1 = Some(i);
        }
    }
    let at = match (n0, n1) {
        (Some(b), Some(e)) if b < e => {
            lines.drain(b..=e);
            b
        }
        (Some(b), Some(e)) => {
            lines.drain(e..=b);
            e
        }
        _ => match insert_pattern {
            Some(pattern) => {
                let mut at = None;
                if pyre::sets_multiline(pattern) {
                    let re = pyre::compile(pattern, Flags::default())?;
                    if let Some(m) = re.find(text) {
                        let end = if insertafter.is_some() { m.end() } else { m.start() };
                        at = Some(text[..end].matches('\n').count());
                    }
                } else {
                    let re = pyre::compile(pattern, Flags::default())?;
                    for (i, line) in lines.iter().enumerate() {
                        if re.is_match(body(line)) {
                            at = Some(i);
                        }
                    }
                }
                match at {
                    None => lines.len(),
                    Some(i) if insertafter.is_some() => i + 1,
                    Some(i) => i,
                }
            }
            None if spec.insertbefore.is_some() => 0,
            None => lines.len(),
        },
    };
    let mut at = at;
    if at > 0 && !lines[at - 1].ends_with('\n') {
        lines[at - 1].push('\n');
    }
    if spec.prepend_newline && spec.present && at != 0 && lines[at - 1] != "\n" {
        lines.insert(at, "\n".into());
        at += 1;
    }
    let block_len = block_lines.len();
    lines.splice(at..at, block_lines);
    if spec.append_newline && spec.present {
        let after = at + block_len;
        if after < lines.len() && lines[after] != "\n" {
            lines.insert(after, "\n".into());
        }
    }
    let result = lines.concat();
    let (changed, msg) = match original {
        Some(o) if o == result => (false, ""),
        None => (true, "File created"),
        Some(_) if block_len == 0 => (true, "Block removed"),
        Some(_) => (true, "Block inserted"),
    };
    Ok(Edited {
        text: result,
        changed,
        msg: msg.into(),
    })
}

/// `replace`: what came of the search.
#[derive(Debug, PartialEq)]
pub enum Replaced {
    /// `after`/`before` found no section; the pattern they made.
    NoSection(String),
    Done(Edited),
}

/// `replace`: `regexp` (MULTILINE) replaced by `template` throughout the text, or only in
/// the section between `after` and `before` (DOTALL).
pub fn replace(
    text: &str,
    regexp: &str,
    template: &str,
    after: Option<&str>,
    before: Option<&str>,
) -> Result<Replaced, String> {
    let after = after.filter(|a| !a.is_empty());
    let before = before.filter(|b| !b.is_empty());
    let section_pattern = match (after, before) {
        (Some(a), Some(b)) => Some(format!("{a}(?P<subsection>.*?){b}")),
        (Some(a), None) => Some(format!("{a}(?P<subsection>.*)")),
        (None, Some(b)) => Some(format!("(?P<subsection>.*){b}")),
        (None, None) => None,
    };
    let (start, end) = match &section_pattern {
        Some(pattern) => {
            let dotall = Flags {
                multiline: false,
                dotall: true,
            };
            let re = pyre::compile(pattern, dotall)?;
            match re.captures(text).and_then(|c| c.name("subsection")) {
                Some(m) => (m.start(), m.end()),
                None => return Ok(Replaced::NoSection(pattern.clone())),
            }
        }
        None => (0, text.len()),
    };
    let section = &text[start..end];
    let multiline = Flags {
        multiline: true,
        dotall: false,
    };
    let re = pyre::compile(regexp, multiline)?;
    let (new_section, count) = pyre::subn(&re, template, section)
        .map_err(|e| format!("Unable to process replace due to error: {e}"))?;
    if count == 0 || new_section == section {
        return Ok(Replaced::Done(Edited {
            text: text.to_owned(),
            changed: false,
            msg: String::new(),
        }));
    }
    Ok(Replaced::Done(Edited {
        text: format!("{}{new_section}{}", &text[..start], &text[end..]),
        changed: true,
        msg: format!("{count} replacements made"),
    }))
}

#[cfg(test)]
#[path = "textedit_tests.rs"]
mod tests;
