//! `ansible.cfg` read as Python's `configparser.ConfigParser(inline_comment_prefixes=(';',))`
//! reads it (Ansible's own parser), keeping the line of every value:
//!
//! - `[section]` headers; section names are case-sensitive, keys are lowercased;
//! - `key = value` or `key: value` (the first `=` or `:` splits), both sides trimmed;
//! - whole-line comments start with `#` or `;`; an inline comment starts with `;` after
//!   whitespace (`#` is not an inline comment: `a = b # c` is the value `b # c`);
//! - a line indented deeper than its key continues the value (joined with a newline;
//!   blank lines inside are kept, trailing ones dropped);
//! - `[DEFAULT]` keys apply to every section;
//! - a key outside any section, a line with no `=`/`:`, a section or key given twice in
//!   one section are errors, as they are for Ansible.
//!
//! Values are raw: Ansible reads them with `raw=True`, so `%(x)s` and `%%` are not
//! interpolated.

/// One `key = value` of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub section: String,
    /// Lowercased, as configparser stores it.
    pub key: String,
    pub value: String,
    /// 1-based line of the key.
    pub line: usize,
}

/// A line configparser refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniError {
    pub line: usize,
    pub message: String,
}

/// The name configparser gives the section whose keys every other section inherits.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// A section header: its name and line.
pub type Section = (String, usize);

/// Every entry of `text`, in file order, and the sections in the order they appear (a
/// section with no keys is still a section).
pub fn parse(text: &str) -> Result<(Vec<Entry>, Vec<Section>), IniError> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut sections: Vec<(String, usize)> = Vec::new();
    let mut section: Option<String> = None;
    // The entry a continuation line extends, and its key line's indentation.
    let mut open: Option<usize> = None;
    let mut indent_level = 0usize;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let value = strip_comment(raw).trim();
        if value.is_empty() {
            // A blank line inside a value is part of it (a comment line is not).
            if let Some(at) = open {
                if raw.trim().is_empty() {
                    entries[at].value.push('\n');
                }
            }
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        if let Some(at) = open.filter(|_| indent > indent_level) {
            let entry = &mut entries[at];
            entry.value.push('\n');
            entry.value.push_str(value);
            continue;
        }
        indent_level = indent;
        if let Some(name) = section_header(value) {
            if sections.iter().any(|(s, _)| s == name) {
                return Err(IniError {
                    line: line_no,
                    message: format!("section [{name}] already exists"),
                });
            }
            sections.push((name.to_owned(), line_no));
            section = Some(name.to_owned());
            open = None;
            continue;
        }
        let Some(current) = &section else {
            return Err(IniError {
                line: line_no,
                message: "a setting before any [section] header".into(),
            });
        };
        let Some(at) = value.find(['=', ':']) else {
            return Err(IniError {
                line: line_no,
                message: format!("`{value}` is not `key = value`"),
            });
        };
        let key = value[..at].trim_end().to_lowercase();
        if key.is_empty() {
            return Err(IniError {
                line: line_no,
                message: format!("`{value}` has no key before its `{}`", &value[at..=at]),
            });
        }
        if let Some(first) = entries.iter().find(|e| e.section == *current && e.key == key) {
            return Err(IniError {
                line: line_no,
                message: format!("`{key}` is already set in [{current}] on line {}", first.line),
            });
        }
        entries.push(Entry {
            section: current.clone(),
            key,
            value: value[at + 1..].trim().to_owned(),
            line: line_no,
        });
        open = Some(entries.len() - 1);
    }
    for entry in &mut entries {
        let trimmed = entry.value.trim_end().len();
        entry.value.truncate(trimmed);
    }
    Ok((entries, sections))
}

/// `[name]`: configparser's `\[(?P<header>.+)\]` on the trimmed line.
fn section_header(value: &str) -> Option<&str> {
    let name = value.strip_prefix('[')?.strip_suffix(']')?;
    (!name.is_empty()).then_some(name)
}

/// The line without its comment: all of it when it starts with `#` or `;` (after
/// whitespace), else from the first `;` that follows whitespace.
fn strip_comment(line: &str) -> &str {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') || trimmed.starts_with(';') {
        return "";
    }
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b';' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

/// `key` of `section` (or of `[DEFAULT]`), as `parser.get(section, key, raw=True)`.
pub fn lookup<'a>(entries: &'a [Entry], section: &str, key: &str) -> Option<&'a Entry> {
    entries
        .iter()
        .find(|e| e.section == section && e.key == key)
        .or_else(|| {
            entries
                .iter()
                .find(|e| e.section == DEFAULT_SECTION && e.key == key)
        })
}

/// Ansible's `unquote`: one pair of matching quotes around the whole value is removed.
pub fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            return &value[1..value.len() - 1];
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(String, String, String, usize)> {
        parse(text)
            .unwrap()
            .0
            .into_iter()
            .map(|e| (e.section, e.key, e.value, e.line))
            .collect()
    }

    #[test]
    fn reads_sections_keys_and_both_delimiters() {
        let text =
            "# top\n[defaults]\nRemote_User = deploy\nforks: 7\n\n[ssh_connection]\nssh_args=-o A=b -o C:d\n";
        assert_eq!(
            values(text),
            [
                ("defaults".into(), "remote_user".into(), "deploy".into(), 3),
                ("defaults".into(), "forks".into(), "7".into(), 4),
                (
                    "ssh_connection".into(),
                    "ssh_args".into(),
                    "-o A=b -o C:d".into(),
                    7
                ),
            ]
        );
    }

    #[test]
    fn comments_as_configparser_sees_them() {
        let text = "[defaults]\n  ; indented comment\nremote_user = deploy ; inline\nlog_path = /tmp/a;b\nnote = keep # this\n";
        let got = values(text);
        assert_eq!(got[0].2, "deploy");
        assert_eq!(got[1].2, "/tmp/a;b", "`;` right after text is not a comment");
        assert_eq!(got[2].2, "keep # this", "`#` is never an inline comment");
    }

    #[test]
    fn indented_lines_continue_a_value_and_percent_stays_raw() {
        let text =
            "[ssh_connection]\nssh_args = -o A=1\n  -o B=2\n\n    -o C=%%(x)s\n\n[defaults]\nforks = 3\n";
        let got = values(text);
        assert_eq!(got[0].2, "-o A=1\n-o B=2\n\n-o C=%%(x)s");
        assert_eq!(got[1], ("defaults".into(), "forks".into(), "3".into(), 8));
    }

    #[test]
    fn refuses_what_configparser_refuses() {
        let err = |t: &str| parse(t).unwrap_err();
        assert_eq!(err("forks = 3\n").line, 1);
        assert!(err("[defaults]\nforks\n").message.contains("not `key = value`"));
        let dup = err("[defaults]\nforks = 3\nFORKS = 4\n");
        assert_eq!(dup.line, 3);
        assert!(
            dup.message.contains("already set in [defaults] on line 2"),
            "{dup:?}"
        );
        assert_eq!(err("[a]\n[b]\n[a]\n").line, 3);
        assert!(err("[defaults]\n= x\n").message.contains("no key"));
    }

    #[test]
    fn default_section_fills_every_section_and_quotes_come_off() {
        let (entries, _) = parse("[DEFAULT]\nremote_user = 'ops'\n[defaults]\nforks = 2\n").unwrap();
        let user = lookup(&entries, "defaults", "remote_user").unwrap();
        assert_eq!(unquote(&user.value), "ops");
        assert_eq!(unquote("\"a'"), "\"a'");
        assert!(lookup(&entries, "defaults", "timeout").is_none());
    }
}
