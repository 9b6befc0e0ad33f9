//! Host definitions as inventories write them: a POSIX-quoted line (`shlex`), an optional
//! `:port`, and ranges (`web[01:20]`, `db-[a:f]`, `n[1:9:2]`) that multiply out.

/// A word of a host line, with the byte offset where it starts.
#[derive(Debug, PartialEq)]
pub(super) struct Token {
    pub text: String,
    pub start: usize,
}

/// Python's `shlex.split(line, comments=True)`: POSIX quoting, `#` ends the line.
/// `Err` holds the byte offset of the problem.
pub(super) fn shlex_split(line: &str) -> Result<Vec<Token>, (usize, String)> {
    let mut tokens = Vec::new();
    let mut current: Option<Token> = None;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let token = current.get_or_insert_with(|| Token {
            text: String::new(),
            start: i,
        });
        match c {
            c if c.is_whitespace() => {
                let t = current.take().unwrap();
                if t.start != i {
                    tokens.push(t);
                }
            }
            '#' => {
                if token.start == i {
                    current = None;
                }
                break;
            }
            '\\' => match chars.next() {
                Some((_, next)) => token.text.push(next),
                None => return Err((i, "a backslash ends the line with nothing to escape".into())),
            },
            '\'' => loop {
                match chars.next() {
                    Some((_, '\'')) => break,
                    Some((_, ch)) => token.text.push(ch),
                    None => return Err((i, "unterminated quote: no closing `'`".into())),
                }
            },
            '"' => loop {
                match chars.next() {
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.peek() {
                        Some((_, next @ ('"' | '\\'))) => {
                            token.text.push(*next);
                            chars.next();
                        }
                        _ => token.text.push('\\'),
                    },
                    Some((_, ch)) => token.text.push(ch),
                    None => return Err((i, "unterminated quote: no closing `\"`".into())),
                }
            },
            c => token.text.push(c),
        }
    }
    tokens.extend(current);
    Ok(tokens)
}

/// `host:2222` -> (`host`, 2222); IPv6 addresses keep their colons (`[::1]:22` has a port).
pub(super) fn split_host_port(pattern: &str) -> Result<(String, Option<u16>), String> {
    let outside_colons: Vec<usize> = {
        let mut depth = 0i32;
        pattern
            .char_indices()
            .filter_map(|(i, c)| {
                match c {
                    '[' => depth += 1,
                    ']' => depth -= 1,
                    ':' if depth == 0 => return Some(i),
                    _ => {}
                }
                None
            })
            .collect()
    };
    if let Some(inner) = pattern.strip_prefix('[') {
        if let Some((addr, rest)) = inner.split_once(']') {
            if addr.matches(':').count() >= 2 {
                return match rest.strip_prefix(':') {
                    None if rest.is_empty() => Ok((addr.to_owned(), None)),
                    Some(p) => parse_port(pattern, p).map(|p| (addr.to_owned(), Some(p))),
                    None => Err(format!("invalid host `{pattern}`")),
                };
            }
        }
    }
    match outside_colons.as_slice() {
        [] => Ok((pattern.to_owned(), None)),
        [i] => {
            let (host, port) = (&pattern[..*i], &pattern[i + 1..]);
            if host.is_empty() {
                return Err(format!("invalid host `{pattern}`: no name before the `:`"));
            }
            parse_port(pattern, port).map(|p| (host.to_owned(), Some(p)))
        }
        _ => Ok((pattern.to_owned(), None)), // a bare IPv6 address
    }
}

fn parse_port(pattern: &str, port: &str) -> Result<u16, String> {
    if port.is_empty() {
        return Err(format!(
            "invalid host `{pattern}`: a trailing `:` must be followed by a port"
        ));
    }
    port.parse::<u16>()
        .map_err(|_| format!("invalid port `{port}` in `{pattern}`"))
}

#[derive(Debug, PartialEq)]
pub(super) struct RangeError {
    /// Byte offset of the `[` in the pattern.
    pub at: usize,
    pub message: String,
    pub hint: String,
}

/// The most hosts one range line may stand for: far beyond any fleet zdd rolls out to,
/// and small enough that a typo (`web[0:99999999]`) is an error, not all the memory.
pub const MAX_RANGE_HOSTS: u64 = 100_000;

/// `web[01:03].example.com`, `db-[a:c]`, `n[1:10:2]`, several ranges multiplying out.
pub(super) fn expand_hostname_range(pattern: &str) -> Result<Vec<String>, RangeError> {
    let Some(open) = pattern.find('[') else {
        return Ok(vec![pattern.to_owned()]);
    };
    let err = |message: String, hint: &str| RangeError {
        at: open,
        message,
        hint: hint.to_owned(),
    };
    let Some(len) = pattern[open..].find(']') else {
        return Err(err(
            format!("unclosed `[` in host range `{pattern}`"),
            "a host range is `web[1:3]`, `web[01:20]` or `db-[a:f]`",
        ));
    };
    let close = open + len;
    let (head, spec, tail) = (&pattern[..open], &pattern[open + 1..close], &pattern[close + 1..]);
    let bounds: Vec<&str> = spec.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err(err(
            format!("host range `[{spec}]` must be `[begin:end]` or `[begin:end:step]`"),
            "for example `web[1:3]` or `web[1:9:2]`",
        ));
    }
    let beg = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err(err(
            format!("host range `[{spec}]` has no end"),
            "write the last value too: `web[1:3]`",
        ));
    }
    let step = match bounds.get(2) {
        None => 1,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(err(
                    format!("host range `[{spec}]` has an invalid step `{s}`"),
                    "the step is a positive number: `web[1:9:2]`",
                ))
            }
        },
    };
    let values: Vec<String> = if let (Some(b), Some(e)) = (letter_index(beg), letter_index(end)) {
        if b > e {
            return Err(err(
                format!("host range `[{spec}]` goes backwards"),
                "begin must come before end: `db-[a:f]`",
            ));
        }
        (b..=e).step_by(step).map(|i| LETTERS[i..=i].to_owned()).collect()
    } else {
        let (Ok(b), Ok(e)) = (beg.parse::<u64>(), end.parse::<u64>()) else {
            return Err(err(
                format!("host range `[{spec}]` must be numbers or single letters"),
                "for example `web[1:3]` or `db-[a:f]`",
            ));
        };
        if b > e {
            return Err(err(
                format!("host range `[{spec}]` goes backwards"),
                "begin must not be greater than end: `web[1:3]`",
            ));
        }
        let count = (e - b) / step as u64 + 1;
        if count > MAX_RANGE_HOSTS {
            return Err(err(
                format!("host range `[{spec}]` stands for {count} hosts, more than {MAX_RANGE_HOSTS}"),
                "check the bounds; a larger fleet needs several groups or a dynamic inventory",
            ));
        }
        let width = (beg.len() > 1 && beg.starts_with('0')).then_some(beg.len());
        if let Some(w) = width {
            if w != end.len() {
                return Err(err(
                    format!("host range `[{spec}]`: a zero-padded begin needs an end of the same width"),
                    "pad both ends alike: `web[01:20]`",
                ));
            }
        }
        (b..=e)
            .step_by(step)
            .map(|n| match width {
                Some(w) => format!("{n:0w$}"),
                None => n.to_string(),
            })
            .collect()
    };
    let tails = expand_hostname_range(tail).map_err(|mut e| {
        e.at += close + 1;
        e
    })?;
    let total = values.len() as u64 * tails.len() as u64;
    if total > MAX_RANGE_HOSTS {
        return Err(err(
            format!("host range `{pattern}` stands for {total} hosts, more than {MAX_RANGE_HOSTS}"),
            "check the bounds; a larger fleet needs several groups or a dynamic inventory",
        ));
    }
    Ok(values
        .iter()
        .flat_map(|v| tails.iter().map(move |t| format!("{head}{v}{t}")))
        .collect())
}

const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn letter_index(s: &str) -> Option<usize> {
    (s.len() == 1).then(|| LETTERS.find(s)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<(String, usize)> {
        shlex_split(line)
            .unwrap()
            .into_iter()
            .map(|t| (t.text, t.start))
            .collect()
    }

    #[test]
    fn ranges_past_the_bound_are_refused_before_they_are_expanded() {
        let started = std::time::Instant::now();
        let e = expand_hostname_range("web[0:99999999]").unwrap_err();
        assert_eq!(
            e.message,
            "host range `[0:99999999]` stands for 100000000 hosts, more than 100000"
        );
        let e = expand_hostname_range("r[0:999]-n[0:999]").unwrap_err();
        assert_eq!(
            e.message,
            "host range `r[0:999]-n[0:999]` stands for 1000000 hosts, more than 100000"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(expand_hostname_range("web[1:100000]").unwrap().len(), 100_000);
    }

    #[test]
    fn shlex_quotes_escapes_and_comments() {
        assert_eq!(
            words(r#"web1 doc_root="/srv/a b" x='1 2' y=a\ b # c"#),
            vec![
                ("web1".to_owned(), 0),
                ("doc_root=/srv/a b".to_owned(), 5),
                ("x=1 2".to_owned(), 25),
                ("y=a b".to_owned(), 33),
            ]
        );
        assert_eq!(
            words(r#"h u=http://x/#frag"#),
            vec![("h".to_owned(), 0), ("u=http://x/".to_owned(), 2)]
        );
        assert_eq!(words(r#"h a="q\"x\y""#)[1].0, r#"a=q"x\y"#);
        assert_eq!(words("h e=''")[1].0, "e=");
        assert_eq!(
            shlex_split("h x='abc").unwrap_err(),
            (4, "unterminated quote: no closing `'`".to_owned())
        );
    }

    #[test]
    fn ranges_numeric_padded_alphabetic_stepped_and_nested() {
        assert_eq!(
            expand_hostname_range("web[1:3]").unwrap(),
            ["web1", "web2", "web3"]
        );
        assert_eq!(
            expand_hostname_range("web[08:10].example.com").unwrap(),
            ["web08.example.com", "web09.example.com", "web10.example.com"]
        );
        assert_eq!(
            expand_hostname_range("db-[a:c]").unwrap(),
            ["db-a", "db-b", "db-c"]
        );
        assert_eq!(expand_hostname_range("n[1:10:4]").unwrap(), ["n1", "n5", "n9"]);
        assert_eq!(expand_hostname_range("x[y:B]").unwrap(), ["xy", "xz", "xA", "xB"]);
        assert_eq!(expand_hostname_range("[:1]h").unwrap(), ["0h", "1h"]);
        assert_eq!(
            expand_hostname_range("r[1:2]n[a:b]").unwrap(),
            ["r1na", "r1nb", "r2na", "r2nb"]
        );
        assert_eq!(expand_hostname_range("plain").unwrap(), ["plain"]);
    }

    #[test]
    fn bad_ranges_point_at_their_bracket() {
        let e = expand_hostname_range("web[01:5]").unwrap_err();
        assert_eq!(e.at, 3);
        assert!(e.message.contains("same width"), "{}", e.message);
        assert_eq!(expand_hostname_range("a[1:2]b[3:]").unwrap_err().at, 7);
        assert!(expand_hostname_range("w[5:1]")
            .unwrap_err()
            .message
            .contains("backwards"));
        assert!(expand_hostname_range("w[1:x]")
            .unwrap_err()
            .message
            .contains("numbers"));
        assert!(expand_hostname_range("w[1:3:0]")
            .unwrap_err()
            .message
            .contains("step"));
        assert!(expand_hostname_range("w[1]")
            .unwrap_err()
            .message
            .contains("[begin:end]"));
        assert!(expand_hostname_range("w[1:3")
            .unwrap_err()
            .message
            .contains("unclosed"));
    }

    #[test]
    fn ports_and_ipv6() {
        assert_eq!(
            split_host_port("web1:2222").unwrap(),
            ("web1".to_owned(), Some(2222))
        );
        assert_eq!(
            split_host_port("web[1:3]").unwrap(),
            ("web[1:3]".to_owned(), None)
        );
        assert_eq!(
            split_host_port("web[1:3]:22").unwrap(),
            ("web[1:3]".to_owned(), Some(22))
        );
        assert_eq!(split_host_port("::1").unwrap(), ("::1".to_owned(), None));
        assert_eq!(
            split_host_port("[::1]:2222").unwrap(),
            ("::1".to_owned(), Some(2222))
        );
        assert!(split_host_port("web1:").unwrap_err().contains("trailing"));
        assert!(split_host_port("web1:ssh").is_err());
    }
}
