//! Every expected text and message below is what ansible-core 2.19 gave for the same
//! input (`ansible localhost -c local -m lineinfile -a ...` on a file holding `text`).

use super::*;

fn re(p: &str) -> Regex {
    pyre::compile(p, Flags::default()).unwrap()
}

fn present(text: &str, spec: LineSpec<'_>) -> (String, &'static str) {
    let e = line_present(text, &spec).unwrap();
    assert_eq!(e.changed, !e.msg.is_empty());
    let msg = match e.msg.as_str() {
        "" => "",
        "line added" => "line added",
        "line replaced" => "line replaced",
        other => panic!("unexpected message {other}"),
    };
    (e.text, msg)
}

fn line(line: &str) -> LineSpec<'_> {
    LineSpec {
        line,
        ..Default::default()
    }
}

#[test]
fn lineinfile_appends_at_eof_and_ends_a_last_line_first() {
    assert_eq!(
        present("a\nb\nc\n", line("x")),
        ("a\nb\nc\nx\n".into(), "line added")
    );
    assert_eq!(
        present("a\nb\nc", line("x")),
        ("a\nb\nc\nx\n".into(), "line added")
    );
    assert_eq!(present("", line("x")), ("x\n".into(), "line added"));
    assert_eq!(present("a\nx\nc\n", line("x")), ("a\nx\nc\n".into(), ""));
}

#[test]
fn lineinfile_replaces_the_last_match_or_expands_backrefs() {
    let port = re("^port=");
    let spec = LineSpec {
        regexp: Some(&port),
        ..line("port=8080")
    };
    assert_eq!(
        present("a\nport=80\nc\n", spec),
        ("a\nport=8080\nc\n".into(), "line replaced")
    );
    let digits = re(r"^port=(\d+)$");
    let spec = LineSpec {
        regexp: Some(&digits),
        backrefs: true,
        ..line(r"old=\1")
    };
    assert_eq!(
        present("a\nport=80\nc\n", spec),
        ("a\nold=80\nc\n".into(), "line replaced")
    );
    let nowhere = re("^zzz");
    let spec = LineSpec {
        regexp: Some(&nowhere),
        backrefs: true,
        ..line("x")
    };
    assert_eq!(present("a\nb\nc\n", spec), ("a\nb\nc\n".into(), ""));
    let spec = LineSpec {
        search_string: Some("k="),
        ..line("k=3")
    };
    assert_eq!(
        present("k=1\nk=2\nx\n", spec),
        ("k=1\nk=3\nx\n".into(), "line replaced")
    );
}

#[test]
fn lineinfile_inserts_after_or_before_the_last_or_first_match() {
    let a = "^a";
    let after = |firstmatch| LineSpec {
        insertafter: Some(a),
        firstmatch,
        ..line("x")
    };
    assert_eq!(
        present("a\nb\na\nc\n", after(false)),
        ("a\nb\na\nx\nc\n".into(), "line added")
    );
    assert_eq!(
        present("a\nb\na\nc\n", after(true)),
        ("a\nx\nb\na\nc\n".into(), "line added")
    );
    let before = LineSpec {
        insertbefore: Some(a),
        ..line("x")
    };
    assert_eq!(
        present("a\nb\na\nc\n", before),
        ("a\nb\nx\na\nc\n".into(), "line added")
    );
    let bof = LineSpec {
        insertbefore: Some("BOF"),
        ..line("x")
    };
    assert_eq!(present("a\nb\nc\n", bof), ("x\na\nb\nc\n".into(), "line added"));
    // Ansible's own quirk: after a last line without a newline, the line is glued on.
    let after_c = LineSpec {
        insertafter: Some("^c"),
        ..line("x")
    };
    assert_eq!(present("a\nb\nc", after_c), ("a\nb\ncx\n".into(), "line added"));
    let present_already = LineSpec {
        insertafter: Some(a),
        ..line("b")
    };
    assert_eq!(present("a\nb\nc\n", present_already), ("a\nb\nc\n".into(), ""));
    let no_match = LineSpec {
        insertafter: Some("nomatch"),
        ..line("x")
    };
    assert_eq!(present("a\nb\n", no_match), ("a\nb\nx\n".into(), "line added"));
}

#[test]
fn lineinfile_absent_removes_every_match_and_counts_them() {
    let (e, found) = line_absent("a\nb\nb\nc\n", None, None, Some("b"));
    assert_eq!(
        (e.text.as_str(), e.msg.as_str(), found),
        ("a\nc\n", "2 line(s) removed", 2)
    );
    let k = re("^k=");
    let (e, found) = line_absent("k=1\nk=2\nx\n", Some(&k), None, None);
    assert_eq!((e.text.as_str(), found), ("x\n", 2));
    let (e, found) = line_absent("a\n", None, Some("zz"), None);
    assert_eq!((e.changed, e.msg.as_str(), found), (false, "", 0));
}

fn block_spec(block: &str) -> BlockSpec<'_> {
    BlockSpec {
        present: true,
        block,
        marker: "# {mark} ANSIBLE MANAGED BLOCK",
        marker_begin: "BEGIN",
        marker_end: "END",
        insertafter: None,
        insertbefore: None,
        append_newline: false,
        prepend_newline: false,
    }
}

fn blocked(original: Option<&str>, spec: BlockSpec<'_>) -> (String, String) {
    let e = block(original, &spec).unwrap();
    assert_eq!(e.changed, !e.msg.is_empty());
    (e.text, e.msg)
}

const MANAGED: &str = "a\n# BEGIN ANSIBLE MANAGED BLOCK\nold\n# END ANSIBLE MANAGED BLOCK\nb\n";

#[test]
fn blockinfile_inserts_replaces_and_removes_between_markers() {
    assert_eq!(
        blocked(Some("a\nb\n"), block_spec("x\ny")),
        (
            "a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx\ny\n# END ANSIBLE MANAGED BLOCK\n".into(),
            "Block inserted".into()
        )
    );
    assert_eq!(
        blocked(Some(MANAGED), block_spec("new")),
        (MANAGED.replace("old", "new"), "Block inserted".into())
    );
    assert_eq!(
        blocked(Some(MANAGED), block_spec("old")),
        (MANAGED.into(), String::new())
    );
    let absent = BlockSpec {
        present: false,
        ..block_spec("")
    };
    assert_eq!(
        blocked(Some(MANAGED), absent),
        ("a\nb\n".into(), "Block removed".into())
    );
    assert_eq!(
        blocked(None, block_spec("x")),
        (
            "# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n".into(),
            "File created".into()
        )
    );
}

#[test]
fn blockinfile_places_the_block_with_markers_and_blank_lines() {
    let bof = BlockSpec {
        insertbefore: Some("BOF"),
        marker: "<!-- {mark} -->",
        marker_begin: "start",
        marker_end: "stop",
        ..block_spec("x")
    };
    assert_eq!(
        blocked(Some("a\nb"), bof).0,
        "<!-- start -->\nx\n<!-- stop -->\na\nb"
    );
    let spaced = BlockSpec {
        insertafter: Some("^a"),
        append_newline: true,
        prepend_newline: true,
        ..block_spec("x")
    };
    assert_eq!(
        blocked(Some("a\nb\na\nc\n"), spaced).0,
        "a\nb\na\n\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n\nc\n"
    );
    let before_b = BlockSpec {
        insertbefore: Some("^b"),
        ..block_spec("x")
    };
    assert_eq!(
        blocked(Some("a\nb\n"), before_b).0,
        "a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nb\n"
    );
}

fn replaced(text: &str, regexp: &str, template: &str, after: Option<&str>, before: Option<&str>) -> Replaced {
    replace(text, regexp, template, after, before).unwrap()
}

fn done(text: &str, msg: &str) -> Replaced {
    Replaced::Done(Edited {
        text: text.into(),
        changed: !msg.is_empty(),
        msg: msg.into(),
    })
}

#[test]
fn replace_substitutes_with_python_templates_in_a_section() {
    assert_eq!(
        replaced(
            "port=80\nhost=a port=81\n",
            r"port=(\d+)",
            r"port=\1\1",
            None,
            None
        ),
        done("port=8080\nhost=a port=8181\n", "2 replacements made")
    );
    assert_eq!(
        replaced(
            "a\n[s]\nx=1\n[t]\nx=2\n",
            "^x=.*$",
            "x=9",
            Some(r"\[s\]"),
            Some(r"\[t\]")
        ),
        done("a\n[s]\nx=9\n[t]\nx=2\n", "1 replacements made")
    );
    assert_eq!(
        replaced("a\n", "zz", "y", Some("nomatch"), None),
        Replaced::NoSection("nomatch(?P<subsection>.*)".into())
    );
    assert_eq!(
        replaced("abxd", "x*", "-", None, None),
        done("-a-b--d-", "5 replacements made")
    );
    assert_eq!(replaced("x=1\n", "^x=1$", "x=1", None, None), done("x=1\n", ""));
}

#[test]
fn splitlines_keeps_every_kind_of_ending() {
    assert_eq!(splitlines_keepends("a\r\nb\rc\nd"), ["a\r\n", "b\r", "c\n", "d"]);
    assert_eq!(readlines("a\r\nb\rc\nd"), ["a\r\n", "b\rc\n", "d"]);
}
