//! Python's `re` as the file-editing modules (`lineinfile`, `blockinfile`, `replace`,
//! `find`) need it, on Rust's `regex` crate: patterns are compiled here (with the few
//! Python spellings Rust reads otherwise translated) and replacement templates expanded
//! as `Match.expand` does (`\1`, `\g<1>`, `\g<name>`, `\n`, ...).
//!
//! Not supported (an error naming the pattern, never a silent mismatch): look-around and
//! backreferences inside a pattern (`(?=`, `(?<!`, `\1`, `(?P=name)`), which Rust's engine
//! refuses.

use regex::{Captures, Regex, RegexBuilder};

/// How a pattern is compiled: Python's `re.MULTILINE` and `re.DOTALL`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags {
    pub multiline: bool,
    pub dotall: bool,
}

/// Python's pattern syntax as Rust's: `\Z` (end of text) is Rust's `\z`; the rest of
/// what Python and Rust both read means the same.
fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Z') => out.push_str("\\z"),
            Some(next) => {
                out.push('\\');
                out.push(next);
            }
            None => out.push('\\'),
        }
    }
    out
}

pub fn compile(pattern: &str, flags: Flags) -> Result<Regex, String> {
    RegexBuilder::new(&translate(pattern))
        .multi_line(flags.multiline)
        .dot_matches_new_line(flags.dotall)
        .build()
        .map_err(|e| format!("invalid regular expression `{pattern}`: {e}"))
}

/// Whether a pattern turns on multiline mode itself (`(?m)`), as Python's
/// `pattern.flags & re.MULTILINE` tells.
pub fn sets_multiline(pattern: &str) -> bool {
    pattern.starts_with("(?")
        && pattern[2..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .any(|c| c == 'm')
}

/// `Match.expand(template)`: groups by number or name (an unmatched group is empty),
/// Python's character escapes, other backslashes kept. An unknown escape of an ASCII
/// letter or a group that does not exist is an error, as in Python.
pub fn expand(template: &str, caps: &Captures<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let group = |name: &str| -> Result<String, String> {
        let found = match name.parse::<usize>() {
            Ok(i) if i < caps.len() => caps.get(i),
            Ok(i) => return Err(format!("invalid group reference {i}")),
            Err(_) => match caps.name(name) {
                Some(m) => Some(m),
                None if name.chars().all(|c| c.is_alphanumeric() || c == '_') && !name.is_empty() => {
                    return Err(format!("unknown group name '{name}'"))
                }
                None => return Err(format!("bad character in group name '{name}'")),
            },
        };
        Ok(found.map_or("", |m| m.as_str()).to_owned())
    };
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => return Err("bad escape (end of pattern)".into()),
            Some('g') => {
                if chars.next() != Some('<') {
                    return Err("missing < in \\g".into());
                }
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('>') => break,
                        Some(c) => name.push(c),
                        None => return Err("missing >, unterminated name".into()),
                    }
                }
                out.push_str(&group(&name)?);
            }
            Some('0') => {
                // An octal escape: up to two more octal digits.
                let mut value = 0u32;
                for _ in 0..2 {
                    match chars.peek().and_then(|c| c.to_digit(8)) {
                        Some(d) => {
                            value = value * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(value).unwrap_or('\0'));
            }
            Some(d) if d.is_ascii_digit() => {
                let mut name = d.to_string();
                if let Some(second) = chars.peek().copied().filter(char::is_ascii_digit) {
                    name.push(second);
                    chars.next();
                }
                out.push_str(&group(&name)?);
            }
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('v') => out.push('\x0b'),
            Some('a') => out.push('\x07'),
            Some('b') => out.push('\x08'),
            Some('\\') => out.push('\\'),
            Some(c) if c.is_ascii_alphabetic() => return Err(format!("bad escape \\{c}")),
            Some(c) => {
                out.push('\\');
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// `re.subn(pattern, template, text)`: the new text and the number of replacements.
/// Python (3.7 on) also replaces an empty match right after a non-empty one, which
/// Rust's own iterator skips; only an empty match where the last one was empty is not
/// taken again.
pub fn subn(re: &Regex, template: &str, text: &str) -> Result<(String, usize), String> {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut count = 0;
    let mut pos = 0;
    let mut empty_at: Option<usize> = None;
    while pos <= text.len() {
        let Some(mut caps) = re.captures_at(text, pos) else {
            break;
        };
        let mut m = caps.get(0).expect("group 0");
        if m.is_empty() && empty_at == Some(m.start()) {
            let Some(next) = text[m.start()..].chars().next().map(|c| m.start() + c.len_utf8()) else {
                break;
            };
            match re.captures_at(text, next) {
                Some(c) => caps = c,
                None => break,
            }
            m = caps.get(0).expect("group 0");
        }
        out.push_str(&text[last..m.start()]);
        out.push_str(&expand(template, &caps)?);
        last = m.end();
        count += 1;
        empty_at = m.is_empty().then_some(m.start());
        pos = m.end();
    }
    out.push_str(&text[last..]);
    Ok((out, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expanded(pattern: &str, text: &str, template: &str) -> Result<String, String> {
        let re = compile(pattern, Flags::default()).unwrap();
        expand(template, &re.captures(text).unwrap())
    }

    #[test]
    fn templates_expand_as_pythons_match_expand() {
        // Python: re.search(r'(\w+)=(?P<v>\d+)?', 'port=').expand(...)
        assert_eq!(
            expanded(r"(\w+)=(\d+)", "port=80", r"\1 is \2").unwrap(),
            "port is 80"
        );
        assert_eq!(
            expanded(r"(\w+)=(?P<v>\d+)", "port=80", r"\g<1>0=\g<v>").unwrap(),
            "port0=80"
        );
        assert_eq!(expanded(r"(\w+)=(\d+)?", "port=", r"[\2]").unwrap(), "[]");
        assert_eq!(expanded(r"(a)", "a", r"x\ty\n\\\.").unwrap(), "x\ty\n\\\\.");
        assert_eq!(
            expanded(r"(a)", "a", r"\101").unwrap_err(),
            "invalid group reference 10"
        );
        assert_eq!(expanded(r"(a)", "a", r"\q").unwrap_err(), r"bad escape \q");
        assert_eq!(
            expanded(r"(a)", "a", r"\g<x>").unwrap_err(),
            "unknown group name 'x'"
        );
    }

    #[test]
    fn python_spellings_compile() {
        let re = compile(r"end\Z", Flags::default()).unwrap();
        assert!(re.is_match("the end") && !re.is_match("the end\n"));
        assert!(compile(r"(?<=a)b", Flags::default())
            .unwrap_err()
            .contains("(?<=a)b"));
        assert!(sets_multiline("(?m)^x") && sets_multiline("(?im)^x") && !sets_multiline("^(?m)"));
    }

    #[test]
    fn subn_counts_like_python() {
        // re.subn(r'^(\w+) = (\w+)$', r'\2 = \1', 'a = b\nc = d\n', flags=re.M) -> ('b = a\nd = c\n', 2)
        let re = compile(
            r"^(\w+) = (\w+)$",
            Flags {
                multiline: true,
                dotall: false,
            },
        )
        .unwrap();
        assert_eq!(
            subn(&re, r"\2 = \1", "a = b\nc = d\n").unwrap(),
            ("b = a\nd = c\n".into(), 2)
        );
        // re.subn('x*', '-', 'abxd') -> ('-a-b--d-', 5)
        let re = compile("x*", Flags::default()).unwrap();
        assert_eq!(subn(&re, "-", "abxd").unwrap(), ("-a-b--d-".into(), 5));
        // re.subn('x*', '-', 'xa') -> ('--a-', 3); re.subn('a|', '-', 'ba') -> ('-b--', 3)
        assert_eq!(subn(&re, "-", "xa").unwrap(), ("--a-".into(), 3));
        let re = compile("a|", Flags::default()).unwrap();
        assert_eq!(subn(&re, "-", "ba").unwrap(), ("-b--".into(), 3));
    }
}
