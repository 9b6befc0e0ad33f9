//! Template text as Jinja2 reads it, before minijinja sees it: Jinja2's lexer takes any
//! Unicode whitespace (a non-breaking space pasted from a web page, U+00A0) between the
//! tokens of a `{{ }}`, `{% %}` or `{# #}` as a space; minijinja takes ASCII only.

use std::borrow::Cow;

/// `text` with the Unicode whitespace inside tags (outside their string literals) made
/// plain spaces. Text outside tags is left alone.
pub fn normalize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_whitespace() && !c.is_ascii()) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    // The closing delimiter of the tag we are in, and the quote of the string literal.
    let mut close: Option<char> = None;
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match close {
            None => {
                out.push(c);
                if c == '{' {
                    if let Some(&next) = chars.peek() {
                        let end = match next {
                            '{' => Some('}'),
                            '%' => Some('%'),
                            '#' => Some('#'),
                            _ => None,
                        };
                        if end.is_some() {
                            out.push(next);
                            chars.next();
                            close = end;
                        }
                    }
                }
            }
            Some(end) => {
                if let Some(q) = quote {
                    out.push(c);
                    if c == '\\' {
                        if let Some(escaped) = chars.next() {
                            out.push(escaped);
                        }
                    } else if c == q {
                        quote = None;
                    }
                    continue;
                }
                match c {
                    '\'' | '"' if end != '#' => {
                        quote = Some(c);
                        out.push(c);
                    }
                    c if c == end && chars.peek() == Some(&'}') => {
                        out.push(c);
                        out.push('}');
                        chars.next();
                        close = None;
                    }
                    c if c.is_whitespace() && !c.is_ascii() => out.push(' '),
                    c => out.push(c),
                }
            }
        }
    }
    Cow::Owned(out)
}

/// Ansible's lexer for task strings: inside `{{ }}`, a string literal's backslashes are
/// its own (`'\\1'` stays `\1` for `regex_replace`), since YAML already read the escapes.
/// Not for `{% %}` statements, conditions or template files, as in Ansible.
pub fn escape_backslashes(text: &str) -> Cow<'_, str> {
    if !text.contains('\\') || !text.contains("{{") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    let mut in_variable = false;
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => match c {
                '\\' => {
                    out.push_str("\\\\");
                    match chars.next() {
                        Some('\\') => out.push_str("\\\\"),
                        Some(n) if n == q => {
                            out.push('\\');
                            out.push(n);
                        }
                        Some(n) => out.push(n),
                        None => {}
                    }
                }
                c => {
                    out.push(c);
                    if c == q {
                        quote = None;
                    }
                }
            },
            None if !in_variable => {
                out.push(c);
                if c == '{' && chars.peek() == Some(&'{') {
                    out.push('{');
                    chars.next();
                    in_variable = true;
                }
            }
            None => {
                out.push(c);
                match c {
                    '\'' | '"' => quote = Some(c),
                    '}' if chars.peek() == Some(&'}') => {
                        out.push('}');
                        chars.next();
                        in_variable = false;
                    }
                    _ => {}
                }
            }
        }
    }
    Cow::Owned(out)
}

/// The same for a bare expression (`when: x\u{a0}is defined`): all of it is inside a tag.
pub fn normalize_expression(expr: &str) -> Cow<'_, str> {
    match normalize(&format!("{{{{{expr}}}}}")) {
        Cow::Borrowed(_) => Cow::Borrowed(expr),
        Cow::Owned(wrapped) => Cow::Owned(wrapped[2..wrapped.len() - 2].to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::{normalize, normalize_expression};

    #[test]
    fn backslashes_in_expression_strings_are_literal() {
        use super::escape_backslashes;
        assert_eq!(
            escape_backslashes(r"{{ x | regex_replace('(a)', '\1') }}"),
            r"{{ x | regex_replace('(a)', '\\1') }}"
        );
        assert_eq!(escape_backslashes(r"{{ 'it\'s' }} \n"), r"{{ 'it\\\'s' }} \n");
        assert_eq!(escape_backslashes(r"{% set a = '\n' %}"), r"{% set a = '\n' %}");
        assert_eq!(escape_backslashes(r"{{ '\\' }}"), r"{{ '\\\\' }}");
    }

    #[test]
    fn bare_expressions_are_all_inside() {
        assert_eq!(normalize_expression("x\u{a0}is\u{a0}defined"), "x is defined");
        assert_eq!(normalize_expression("x == 'a\u{a0}'"), "x == 'a\u{a0}'");
    }

    #[test]
    fn non_breaking_spaces_inside_tags_become_spaces() {
        assert_eq!(normalize("{{\u{a0}x\u{a0}}}"), "{{ x }}");
        assert_eq!(
            normalize("{%\u{a0}if x %}a\u{a0}b{% endif %}"),
            "{% if x %}a\u{a0}b{% endif %}"
        );
        assert_eq!(normalize("a\u{a0}{{ x }}"), "a\u{a0}{{ x }}");
    }

    #[test]
    fn string_literals_keep_theirs() {
        assert_eq!(normalize("{{ '\u{a0}' ~\u{a0}x }}"), "{{ '\u{a0}' ~ x }}");
        assert_eq!(
            normalize("{{ \"a\\\"\u{a0}\" }}\u{a0}"),
            "{{ \"a\\\"\u{a0}\" }}\u{a0}"
        );
    }
}
