//! INI values typed as Ansible types them: `ast.literal_eval`, falling back to the raw text.
//!
//! `8081` is an int, `1.5` a float, `True` a bool, `'a b'` a string without its quotes,
//! `[1, 2]` a list, `80,443` a tuple (a list), and anything Python would not parse as a
//! literal (`/srv/www`, `-o Opt=x`, `0644`, `127.0.0.1`) stays the text it was.

use serde_json::{Map, Number, Value};

/// The value of `key=value` in an INI inventory, typed as Ansible does.
pub fn parse_value(raw: &str) -> Value {
    literal_eval(raw).unwrap_or_else(|| Value::String(raw.to_owned()))
}

/// Python's `ast.literal_eval` for the literals inventories hold; `None` where Python raises.
pub fn literal_eval(text: &str) -> Option<Value> {
    let mut p = Parser {
        s: text.trim_start_matches([' ', '\t']).as_bytes(),
        i: 0,
    };
    let value = p.expression_list()?;
    p.skip_space();
    (p.i == p.s.len()).then_some(value)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Whitespace and a trailing `# comment`, which Python's tokenizer drops.
    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\x0c' => self.i += 1,
                b'#' => self.i = self.s.len(),
                _ => break,
            }
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_space();
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// `a` or `a, b` (a tuple, which Ansible keeps as a list).
    fn expression_list(&mut self) -> Option<Value> {
        let first = self.expression()?;
        if !self.eat(b',') {
            return Some(first);
        }
        let mut items = vec![first];
        loop {
            self.skip_space();
            if self.i == self.s.len() {
                break;
            }
            items.push(self.expression()?);
            if !self.eat(b',') {
                break;
            }
        }
        Some(Value::Array(items))
    }

    fn expression(&mut self) -> Option<Value> {
        self.skip_space();
        match self.peek()? {
            b'[' => {
                self.i += 1;
                self.sequence(b']').map(Value::Array)
            }
            b'(' => {
                self.i += 1;
                self.parenthesized()
            }
            b'{' => {
                self.i += 1;
                self.braces()
            }
            b'+' | b'-' => {
                let negative = self.peek() == Some(b'-');
                self.i += 1;
                self.skip_space();
                if self.peek() == Some(b'(') {
                    // `-(1)`: parentheses make no node, so this is still a signed number.
                    self.i += 1;
                    let inner = self.expression()?;
                    if !self.eat(b')') {
                        return None;
                    }
                    return negate(inner, negative);
                }
                let n = self.number()?;
                negate(n, negative)
            }
            b'0'..=b'9' | b'.' => self.number(),
            c if c == b'\'' || c == b'"' || c.is_ascii_alphabetic() || c == b'_' => self.word_or_string(),
            _ => None,
        }
    }

    fn sequence(&mut self, close: u8) -> Option<Vec<Value>> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(items);
            }
            items.push(self.expression()?);
            if !self.eat(b',') {
                return self.eat(close).then_some(items);
            }
        }
    }

    fn parenthesized(&mut self) -> Option<Value> {
        if self.eat(b')') {
            return Some(Value::Array(Vec::new()));
        }
        let first = self.expression()?;
        if self.eat(b')') {
            return Some(first);
        }
        if !self.eat(b',') {
            return None;
        }
        let mut rest = self.sequence(b')')?;
        rest.insert(0, first);
        Some(Value::Array(rest))
    }

    /// `{}` is a dict, `{1, 2}` a set (kept as a list), `{'k': v}` a dict.
    fn braces(&mut self) -> Option<Value> {
        if self.eat(b'}') {
            return Some(Value::Object(Map::new()));
        }
        let first = self.expression()?;
        if !self.eat(b':') {
            let mut items = vec![first];
            if self.eat(b',') {
                items.extend(self.sequence(b'}')?);
            } else if !self.eat(b'}') {
                return None;
            }
            return Some(Value::Array(items));
        }
        let mut map = Map::new();
        let mut key = first;
        loop {
            let value = self.expression()?;
            map.insert(key_text(&key)?, value);
            if !self.eat(b',') {
                return self.eat(b'}').then_some(Value::Object(map));
            }
            if self.eat(b'}') {
                return Some(Value::Object(map));
            }
            key = self.expression()?;
            if !self.eat(b':') {
                return None;
            }
        }
    }

    /// `True`, `False`, `None`, or one or more adjacent string literals (`'a' "b"` is `ab`).
    fn word_or_string(&mut self) -> Option<Value> {
        let mut text: Option<String> = None;
        loop {
            self.skip_space();
            let start = self.i;
            while self
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
            {
                self.i += 1;
            }
            let word = std::str::from_utf8(&self.s[start..self.i]).ok()?;
            if matches!(self.peek(), Some(b'\'' | b'"')) {
                let prefix = word.to_ascii_lowercase();
                if !matches!(prefix.as_str(), "" | "r" | "u" | "b" | "br" | "rb") {
                    return None;
                }
                let piece = self.string(prefix.contains('r'))?;
                text.get_or_insert_with(String::new).push_str(&piece);
                continue;
            }
            return match text {
                Some(text) => {
                    self.i = start;
                    Some(Value::String(text))
                }
                None => match word {
                    "True" => Some(Value::Bool(true)),
                    "False" => Some(Value::Bool(false)),
                    "None" => Some(Value::Null),
                    _ => None,
                },
            };
        }
    }

    /// One quoted string, `'...'`, `"..."` or tripled, at the opening quote.
    fn string(&mut self, raw: bool) -> Option<String> {
        let quote = self.peek()?;
        let triple = self.s[self.i..].starts_with(&[quote; 3]);
        let delim_len = if triple { 3 } else { 1 };
        self.i += delim_len;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = self.peek()?;
            if c == quote && (!triple || self.s[self.i..].starts_with(&[quote; 3])) {
                self.i += delim_len;
                return String::from_utf8(out).ok();
            }
            if c == b'\n' && !triple {
                return None;
            }
            self.i += 1;
            if c != b'\\' {
                out.push(c);
                continue;
            }
            let e = self.peek()?;
            self.i += 1;
            if raw {
                out.extend([b'\\', e]);
                continue;
            }
            match e {
                b'\n' => {}
                b'\\' | b'\'' | b'"' => out.push(e),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'a' => out.push(0x07),
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'v' => out.push(0x0b),
                b'0'..=b'7' => {
                    let mut n = u32::from(e - b'0');
                    for _ in 0..2 {
                        match self.peek() {
                            Some(d @ b'0'..=b'7') => {
                                n = n * 8 + u32::from(d - b'0');
                                self.i += 1;
                            }
                            _ => break,
                        }
                    }
                    push_char(&mut out, char::from_u32(n)?);
                }
                b'x' | b'u' | b'U' => {
                    let len = match e {
                        b'x' => 2,
                        b'u' => 4,
                        _ => 8,
                    };
                    let hex = std::str::from_utf8(self.s.get(self.i..self.i + len)?).ok()?;
                    let n = u32::from_str_radix(hex, 16).ok()?;
                    self.i += len;
                    push_char(&mut out, char::from_u32(n)?);
                }
                _ => out.extend([b'\\', e]),
            }
        }
    }

    /// A Python int or float literal. `0644` and `1e` are syntax errors, as in Python.
    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        let hex = self.s[start..].starts_with(b"0x") || self.s[start..].starts_with(b"0X");
        loop {
            match self.peek() {
                Some(c) if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' => self.i += 1,
                Some(b'+' | b'-') if !hex && self.i > start && matches!(self.s[self.i - 1], b'e' | b'E') => {
                    self.i += 1
                }
                _ => break,
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        number_value(text)
    }
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

fn negate(v: Value, negative: bool) -> Option<Value> {
    let Value::Number(n) = v else { return None };
    if !negative {
        return Some(Value::Number(n));
    }
    if let Some(i) = n.as_i64() {
        return Some(Value::from(i.checked_neg()?));
    }
    if n.as_u64() == Some(1 << 63) {
        return Some(Value::from(i64::MIN));
    }
    Number::from_f64(-n.as_f64()?).map(Value::Number)
}

/// A dict key as JSON wants it: Python would keep `{1: 'a'}`'s key an int.
fn key_text(key: &Value) -> Option<String> {
    match key {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        Value::Null => Some("None".into()),
        _ => None, // lists are unhashable: Python raises
    }
}

fn digits_ok(digits: &str, radix: u32) -> bool {
    !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.chars().all(|c| c == '_' || c.is_digit(radix))
}

fn number_value(text: &str) -> Option<Value> {
    let lower = text.to_ascii_lowercase();
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = lower.strip_prefix(prefix) {
            let digits = digits.strip_prefix('_').unwrap_or(digits);
            if !digits_ok(digits, radix) {
                return None;
            }
            return int_value(&digits.replace('_', ""), radix);
        }
    }
    if lower.ends_with('j') {
        return None; // complex: nothing JSON can hold
    }
    let is_float = lower.contains(['.', 'e']);
    if !is_float {
        if !digits_ok(&lower, 10) {
            return None;
        }
        let plain = lower.replace('_', "");
        // Python 3 refuses leading zeros on a non-zero decimal int (`0644`).
        if plain.len() > 1 && plain.starts_with('0') && plain.bytes().any(|b| b != b'0') {
            return None;
        }
        return int_value(&plain, 10);
    }
    let (mantissa, exponent) = match lower.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (lower.as_str(), None),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if (!int_part.is_empty() && !digits_ok(int_part, 10))
        || (!frac_part.is_empty() && !digits_ok(frac_part, 10))
    {
        return None;
    }
    if let Some(e) = exponent {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        if !digits_ok(e, 10) {
            return None;
        }
    }
    let f: f64 = lower.replace('_', "").parse().ok()?;
    Number::from_f64(f).map(Value::Number)
}

fn int_value(digits: &str, radix: u32) -> Option<Value> {
    if let Ok(i) = i64::from_str_radix(digits, radix) {
        return Some(Value::from(i));
    }
    // Past u64 Python still has an exact int; JSON here has none, so keep the text.
    u64::from_str_radix(digits, radix).ok().map(Value::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_booleans_and_none_are_typed() {
        assert_eq!(parse_value("8081"), json!(8081));
        assert_eq!(parse_value("-5"), json!(-5));
        assert_eq!(parse_value("1_000"), json!(1000));
        assert_eq!(parse_value("0x1f"), json!(31));
        assert_eq!(parse_value("0"), json!(0));
        assert_eq!(parse_value("1.5"), json!(1.5));
        assert_eq!(parse_value(".5"), json!(0.5));
        assert_eq!(parse_value("1e3"), json!(1000.0));
        assert_eq!(parse_value("2.5E-1"), json!(0.25));
        assert_eq!(parse_value("True"), json!(true));
        assert_eq!(parse_value("False"), json!(false));
        assert_eq!(parse_value("None"), json!(null));
    }

    #[test]
    fn what_python_refuses_stays_text() {
        for raw in [
            "0644",
            "127.0.0.1",
            "/srv/www",
            "-o UserKnownHostsFile=/tmp/x",
            "yes",
            "true",
            "1e",
            "1__0",
            "10_",
            "web1",
            "",
            "'unterminated",
            "1 2",
            "--1",
            "Trueish",
            "f'x'",
            "3j",
        ] {
            assert_eq!(parse_value(raw), json!(raw), "{raw:?}");
        }
    }

    #[test]
    fn quoted_strings_lose_their_quotes() {
        assert_eq!(
            parse_value("'-o UserKnownHostsFile=/tmp/lab/known_hosts'"),
            json!("-o UserKnownHostsFile=/tmp/lab/known_hosts")
        );
        assert_eq!(parse_value(r#""a\tb\"c""#), json!("a\tb\"c"));
        assert_eq!(parse_value("'1'"), json!("1"));
        assert_eq!(parse_value("'a' \"b\""), json!("ab"));
        assert_eq!(parse_value(r"r'\d+'"), json!(r"\d+"));
        assert_eq!(parse_value(r"'\x41\101\u00e9'"), json!("AAé"));
        assert_eq!(parse_value("'''it's'''"), json!("it's"));
    }

    #[test]
    fn containers_tuples_and_comments() {
        assert_eq!(parse_value("[1, 'two', [3]]"), json!([1, "two", [3]]));
        assert_eq!(parse_value("80,443"), json!([80, 443]));
        assert_eq!(parse_value("(1,)"), json!([1]));
        assert_eq!(parse_value("(1)"), json!(1));
        assert_eq!(parse_value("()"), json!([]));
        assert_eq!(
            parse_value("{'a': 1, 'b': {'c': None},}"),
            json!({"a": 1, "b": {"c": null}})
        );
        assert_eq!(parse_value("{1: 'x'}"), json!({"1": "x"}));
        assert_eq!(parse_value("{1, 2}"), json!([1, 2]));
        assert_eq!(parse_value("{}"), json!({}));
        assert_eq!(parse_value("8081 # the app"), json!(8081));
        assert_eq!(parse_value("  42"), json!(42));
        assert_eq!(parse_value("bar # c"), json!("bar # c"));
        assert_eq!(parse_value("[1, 2"), json!("[1, 2"));
        assert_eq!(parse_value("{[1]: 2}"), json!("{[1]: 2}"));
    }
}
