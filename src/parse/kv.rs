//! Module arguments written as one string, split as Ansible splits them
//! (`ansible.parsing.splitter`): `name="{{ item }}" state=present`, or free-form shell text
//! with `chdir=`/`creates=`... pairs taken out of it.

use serde_json::{Map, Value};

/// The keys Ansible takes out of free-form text (`shell: make chdir=/src`).
pub const FREE_FORM_KEYS: &[&str] = &[
    "chdir",
    "creates",
    "removes",
    "executable",
    "warn",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
];

/// A whitespace-separated word of the text: quotes and `{{ }}`/`{% %}`/`{# #}` blocks keep
/// their spaces. `start..end` are byte offsets into the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: &'a str,
    pub start: usize,
    pub end: usize,
}

impl<'a> Token<'a> {
    /// `key=value` when the token has an unescaped `=` after a non-empty key.
    pub fn key_value(&self) -> Option<(&'a str, &'a str)> {
        let bytes = self.text.as_bytes();
        let pos = (1..bytes.len()).find(|&i| bytes[i] == b'=' && bytes[i - 1] != b'\\')?;
        Some((&self.text[..pos], &self.text[pos + 1..]))
    }

    /// `key=value` with a key that could be an argument name.
    fn argument(&self) -> Option<(&'a str, &'a str)> {
        self.key_value().filter(|(k, _)| is_identifier(k))
    }
}

pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Split like Ansible's `split_args`.
pub fn split(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let mut start: Option<usize> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if quote.is_none() && depth == 0 && c.is_whitespace() {
            if let Some(s) = start.take() {
                tokens.push(Token {
                    text: &text[s..i],
                    start: s,
                    end: i,
                });
            }
            continue;
        }
        start.get_or_insert(i);
        let next = chars.peek().map(|&(_, n)| n);
        match (quote, c) {
            (Some('"'), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\\') => {
                chars.next();
            }
            (None, '"' | '\'') if depth == 0 => quote = Some(c),
            (None, '{') if matches!(next, Some('{' | '%' | '#')) => {
                depth += 1;
                chars.next();
            }
            (None, '}' | '%' | '#') if depth > 0 && next == Some('}') => {
                depth -= 1;
                chars.next();
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        tokens.push(Token {
            text: &text[s..],
            start: s,
            end: text.len(),
        });
    }
    tokens
}

/// Strip one pair of matching outer quotes (Ansible's `unquote`).
pub fn unquote(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] && b[b.len() - 2] != b'\\' {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// Backslash escapes in a `key=value` value (`\n`, `\t`, `\"`, `\=`...).
fn decode_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(e @ ('\\' | '\'' | '"' | '=')) => out.push(e),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn value_of(v: &str) -> Value {
    Value::String(decode_escapes(unquote(v.trim())))
}

/// The arguments parsed out of a string, with the byte offset each key starts at.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub args: Map<String, Value>,
    pub offsets: Vec<(String, usize)>,
}

/// `k=v k2="v 2"`: every `key=value` token is an argument (a string, as Ansible leaves
/// it); any other words are joined under `_raw_params`.
pub fn key_values(text: &str) -> Parsed {
    let mut args = Map::new();
    let mut offsets = Vec::new();
    let mut raw = Vec::new();
    for tok in split(text) {
        match tok.key_value() {
            Some((k, v)) => {
                args.insert(k.trim().to_owned(), value_of(v));
                offsets.push((k.trim().to_owned(), tok.start));
            }
            None => raw.push(tok.text.replace("\\=", "=")),
        }
    }
    if !raw.is_empty() {
        offsets.push(("_raw_params".into(), 0));
        args.insert("_raw_params".into(), Value::String(raw.join(" ")));
    }
    Parsed { args, offsets }
}

/// Free-form text (`shell`, `command`): the text under `_raw_params`, as written, with
/// Ansible's `chdir=`, `creates=`... pairs taken out wherever they are.
pub fn free_form(text: &str) -> Parsed {
    let mut args = Map::new();
    let mut offsets = Vec::new();
    let mut raw = String::new();
    let mut copied = 0;
    for tok in split(text) {
        let Some((k, v)) = tok.key_value() else { continue };
        if !FREE_FORM_KEYS.contains(&k) {
            continue;
        }
        // Drop the pair and the blanks before it, so the command keeps single spaces.
        let cut = text[..tok.start].trim_end().len().max(copied);
        raw.push_str(&text[copied..cut]);
        copied = tok.end;
        args.insert(k.to_owned(), value_of(v));
        offsets.push((k.to_owned(), tok.start));
    }
    raw.push_str(&text[copied..]);
    let raw = raw.trim();
    let mut out = Map::new();
    if !raw.is_empty() {
        out.insert("_raw_params".into(), Value::String(raw.to_owned()));
        offsets.insert(0, ("_raw_params".into(), 0));
    }
    out.extend(args);
    Parsed { args: out, offsets }
}

/// Whether every word of the text is a `key=value` pair (how zdd reads a string for a
/// module it does not know: otherwise it is free-form text).
pub fn all_key_values(text: &str) -> bool {
    let tokens = split(text);
    !tokens.is_empty() && tokens.iter().all(|t| t.argument().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(text: &str) -> Vec<&str> {
        split(text).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn split_keeps_quotes_and_jinja_together() {
        assert_eq!(
            words(r#"name="{{ item }}" state=installed"#),
            [r#"name="{{ item }}""#, "state=installed"]
        );
        assert_eq!(
            words(r#"echo "a  b" | tee {{ path | default('x y') }}  'c d'"#),
            [
                "echo",
                r#""a  b""#,
                "|",
                "tee",
                "{{ path | default('x y') }}",
                "'c d'"
            ]
        );
        assert_eq!(words("  a\n b\t c "), ["a", "b", "c"]);
        assert_eq!(words(r#"msg="say \"hi there\"""#), [r#"msg="say \"hi there\"""#]);
    }

    #[test]
    fn key_values_unquote_and_decode() {
        let p = key_values(r#"name="{{ item }}" state=installed msg='a b' x=1\n2"#);
        assert_eq!(
            Value::Object(p.args),
            json!({"name": "{{ item }}", "state": "installed", "msg": "a b", "x": "1\n2"})
        );
        assert_eq!(p.offsets[1], ("state".to_string(), 18));
    }

    #[test]
    fn key_values_keep_other_words_as_raw_params() {
        let p = key_values("src=a dest=b extra words");
        assert_eq!(
            Value::Object(p.args),
            json!({"src": "a", "dest": "b", "_raw_params": "extra words"})
        );
    }

    #[test]
    fn free_form_takes_out_ansible_pairs_anywhere() {
        let p = free_form("make install chdir=/src creates=/usr/bin/x");
        assert_eq!(
            Value::Object(p.args),
            json!({"_raw_params": "make install", "chdir": "/src", "creates": "/usr/bin/x"})
        );
        let p = free_form("chdir=/tmp ls -l  a=b removes='/x y' | wc");
        assert_eq!(
            Value::Object(p.args),
            json!({"_raw_params": "ls -l  a=b | wc", "chdir": "/tmp", "removes": "/x y"})
        );
        assert_eq!(
            p.offsets,
            [
                ("_raw_params".into(), 0),
                ("chdir".into(), 0),
                ("removes".into(), 22)
            ]
        );
    }

    #[test]
    fn free_form_keeps_multiline_scripts_as_written() {
        let text = "set -e\nif [ -f /x ]; then\n  echo \"a=b\"\nfi\n";
        let p = free_form(text);
        assert_eq!(Value::Object(p.args), json!({"_raw_params": text.trim_end()}));
    }

    #[test]
    fn unknown_modules_are_free_form_unless_all_pairs() {
        assert!(all_key_values("name=x state=present"));
        assert!(!all_key_values("echo a=b"));
        assert!(!all_key_values("/bin/sleep 5"));
        assert!(!all_key_values(""));
    }
}
