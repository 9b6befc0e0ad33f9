use super::*;
use serde_json::json;

fn values(text: &str) -> Value {
    let src = Source::new("t.yml", text);
    to_value(&src.parse(TopLevel::Mapping).unwrap())
}

#[test]
fn yaml11_booleans_in_any_case_but_only_unquoted() {
    let v = values("a: yes\nb: No\nc: ON\nd: off\ne: True\nf: FALSE\ng: 'yes'\nh: \"on\"\ni: yEs\nj: y\n");
    assert_eq!(
        v,
        json!({"a": true, "b": false, "c": true, "d": false, "e": true, "f": false,
               "g": "yes", "h": "on", "i": true, "j": "y"})
    );
}

#[test]
fn numbers_nulls_and_strings() {
    let v = values(
        "i: 42\nneg: -7\noct: 0644\nhex: 0x1F\nf: 1.10\nexp: 1.5e+3\nnoexp: 1e3\nver: 1.2.3\n\
         n1: ~\nn2: null\nn3:\nq: '42'\nport: 8_080\nlead: .5\n",
    );
    assert_eq!(
        v,
        json!({"i": 42, "neg": -7, "oct": 420, "hex": 31, "f": 1.1, "exp": 1500.0,
               "noexp": "1e3", "ver": "1.2.3", "n1": null, "n2": null, "n3": null,
               "q": "42", "port": 8080, "lead": 0.5})
    );
}

#[test]
fn block_scalars_stay_strings() {
    let v = values("s: |\n  yes\nt: >-\n  12\n");
    assert_eq!(v, json!({"s": "yes\n", "t": "12"}));
}

#[test]
fn syntax_error_has_location_and_snippet() {
    let src = Source::new("bad.yml", "- hosts: a\n  vars: [1,\n");
    let d = src.parse(TopLevel::Sequence).unwrap_err();
    assert!(d.message.starts_with("invalid YAML"), "{}", d.message);
    let loc = d.location.unwrap();
    assert_eq!((loc.line, loc.col), (3, 1));
}

#[test]
fn duplicate_key_names_both_lines() {
    let src = Source::new("dup.yml", "- hosts: a\n  tasks: []\n  hosts: b\n");
    let d = src.parse(TopLevel::Sequence).unwrap_err();
    assert_eq!(d.message, "duplicate key `hosts`");
    let loc = d.location.unwrap();
    assert_eq!((loc.line, loc.col), (3, 3));
    assert_eq!(d.snippet.as_deref(), Some("  hosts: b"));
    assert_eq!(
        d.hint.as_deref(),
        Some("`hosts` is already set at line 1; keep one")
    );
}

#[test]
fn second_documents_and_wrong_top_level_are_errors() {
    let two = Source::new("b.yml", "---\n- hosts: a\n---\n- hosts: b\n");
    let d = two.parse(TopLevel::Sequence).unwrap_err();
    assert_eq!(d.location.unwrap().line, 3);
    for (text, line) in [
        ("# c\n---\n- a\n---\n- b\n", Some(4)),
        ("%YAML 1.1\n---\n- a\n--- # two\n", Some(4)),
        ("---\r\n- a\r\n---\r\n- b\r\n", Some(3)),
        ("---\n...\n---\n", Some(3)),
        ("- a\n---x: 1\n", None),
        ("---\n- a\n", None),
    ] {
        assert_eq!(
            Source::new("t.yml", text).second_document_line(),
            line,
            "{text:?}"
        );
    }
    let top = Source::new("c.yml", "hosts: a\n");
    assert_eq!(
        top.parse(TopLevel::Sequence).unwrap_err().message,
        "a playbook is a list of plays"
    );
    let scalar = Source::new("d.yml", "hello\n");
    assert_eq!(
        scalar.parse(TopLevel::Sequence).unwrap_err().message,
        "a playbook is a list of plays"
    );
}

#[test]
fn empty_file_is_an_empty_document() {
    let src = Source::new("e.yml", "# nothing\n");
    assert!(matches!(src.parse(TopLevel::Sequence).unwrap(), Node::Sequence(s) if s.is_empty()));
    assert!(matches!(src.parse(TopLevel::Mapping).unwrap(), Node::Mapping(m) if m.is_empty()));
}

#[test]
fn dashes_alone_are_an_empty_document() {
    let src = Source::new("e.yml", "---\n");
    assert!(matches!(src.parse(TopLevel::Mapping).unwrap(), Node::Mapping(m) if m.is_empty()));
}

/// The error a text is refused with, and where (line, column).
fn refused(text: &str) -> (String, usize, usize, Option<String>) {
    let d = Source::new("t.yml", text).parse(TopLevel::Mapping).unwrap_err();
    let loc = d.location.unwrap();
    (d.message, loc.line, loc.col, d.hint)
}

#[test]
fn aliases_of_scalars_lists_and_mappings() {
    let v = values(
        "port: &port 8080\nhosts: &hosts [a, b]\nuser: &user {name: deploy, uid: 1000}\n\
         p: *port\nlist: [*port, *hosts, *user]\nnested: {who: *user}\n",
    );
    let user = json!({"name": "deploy", "uid": 1000});
    assert_eq!(v["p"], json!(8080));
    assert_eq!(v["list"], json!([8080, ["a", "b"], user]));
    assert_eq!(v["nested"], json!({"who": user}));
}

#[test]
fn an_aliased_scalar_keeps_its_style() {
    let v = values("a: &a 'yes'\nb: &b yes\nc: *a\nd: *b\n");
    assert_eq!(v["c"], json!("yes"));
    assert_eq!(v["d"], json!(true));
}

#[test]
fn an_alias_points_at_the_anchored_node() {
    let src = Source::new("t.yml", "base: &b\n  k: v\nother: *b\n");
    let node = src.parse(TopLevel::Mapping).unwrap();
    let other = node.as_mapping().unwrap().get_mapping("other").unwrap();
    let (k, v) = other.iter().next().unwrap();
    assert_eq!(src.span_location(k.span()).line, 2);
    assert_eq!(src.node_location(v).line, 2);
}

#[test]
fn an_alias_can_be_a_key() {
    assert_eq!(values("k: &k name\n*k : v\n"), json!({"k": "name", "name": "v"}));
    // Located at the alias: the mapping itself is a fine value elsewhere.
    let (message, line, ..) = refused("m: &m {a: 1}\n? *m\n: v\n");
    assert_eq!(
        (message.as_str(), line),
        ("a mapping key must be a plain value, not a list or mapping", 2)
    );
}

#[test]
fn merge_key_with_one_mapping_own_keys_win_and_come_after() {
    let v = values("base: &b {alpha: 1, beta: 2}\nm:\n  x: 0\n  <<: *b\n  alpha: 9\n");
    assert_eq!(v["m"], json!({"alpha": 9, "beta": 2, "x": 0}));
    let order: Vec<&String> = v["m"].as_object().unwrap().keys().collect();
    assert_eq!(order, ["alpha", "beta", "x"]);
}

#[test]
fn merge_key_with_a_list_earlier_mappings_win() {
    let v = values(
        "a: &a {alpha: 1, beta: 2}\nb: &b {beta: 3, gamma: 4}\n\
         m:\n  <<: [*a, *b]\n  gamma: 9\n",
    );
    assert_eq!(v["m"], json!({"alpha": 1, "beta": 2, "gamma": 9}));
}

#[test]
fn merge_key_with_inline_and_nested_mappings() {
    let v = values("b: &b {a: 1, <<: {z: 0}}\nm:\n  <<: {<<: *b, d: 5}\n  e: 6\n");
    assert_eq!(v["b"], json!({"z": 0, "a": 1}));
    assert_eq!(v["m"], json!({"z": 0, "a": 1, "d": 5, "e": 6}));
}

#[test]
fn quoted_merge_key_is_an_ordinary_key() {
    assert_eq!(values("m:\n  '<<': {a: 1}\n"), json!({"m": {"<<": {"a": 1}}}));
}

#[test]
fn merge_key_needs_mappings() {
    let (message, line, col, _) = refused("m:\n  <<: 5\n");
    assert_eq!(
        message,
        "`<<` merges a mapping or a list of mappings, found a scalar"
    );
    assert_eq!((line, col), (2, 7));
    let (message, line, col, _) = refused("l: &l [1]\nm:\n  <<: [{a: 1}, *l]\n");
    assert_eq!(
        message,
        "`<<` merges a mapping or a list of mappings, found a list"
    );
    assert_eq!((line, col), (1, 7));
    let (message, line, _, hint) = refused("m:\n  <<: {a: 1}\n  <<: {b: 2}\n");
    assert_eq!((message.as_str(), line), ("duplicate key `<<`", 3));
    assert_eq!(hint.unwrap(), "`<<` is already set at line 2; keep one");
}

#[test]
fn duplicate_keys_are_still_errors_next_to_merges() {
    let (message, line, ..) = refused("b: &b {a: 1}\nm:\n  <<: *b\n  c: 1\n  c: 2\n");
    assert_eq!((message.as_str(), line), ("duplicate key `c`", 5));
}

#[test]
fn alias_before_its_anchor_is_an_error() {
    let (message, line, col, hint) = refused("a: *later\nb: &later 1\n");
    assert_eq!(message, "alias `*later` refers to no anchor defined before it");
    assert_eq!((line, col), (1, 4));
    assert_eq!(hint.unwrap(), "define `&later` on a value earlier in the file");
}

#[test]
fn a_redefined_anchor_is_an_error_as_in_pyyaml() {
    let (message, line, col, hint) = refused("a: &x 1\nb: *x\nc: &x 2\n");
    assert_eq!(message, "duplicate anchor `&x`");
    assert_eq!((line, col), (3, 4));
    assert_eq!(
        hint.unwrap(),
        "`&x` is already defined at line 1; give this one another name"
    );
}

#[test]
fn an_alias_inside_its_own_anchor_is_an_error() {
    let (message, line, ..) = refused("m: &m\n  a: 1\n  <<: *m\n");
    assert_eq!(
        (message.as_str(), line),
        ("alias `*m` is inside the value `&m` names", 3)
    );
}

#[test]
fn tags_are_still_refused_next_to_anchors() {
    let (message, ..) = refused("a: &a !!str 1\n");
    assert_eq!(message, "YAML tags (`!tag`, `!!str`) are not supported");
}

/// Ten aliases of the one before, ten levels: 10^10 nodes if expanded.
fn billion_laughs() -> String {
    let mut text = String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let aliases = vec![format!("*l{}", i - 1); 10].join(", ");
        text.push_str(&format!("l{i}: &l{i} [{aliases}]\n"));
    }
    text
}

#[test]
fn billion_laughs_is_refused_fast_at_the_alias_over_budget() {
    let started = std::time::Instant::now();
    let (message, line, col, _) = refused(&billion_laughs());
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(message, "aliases expand to more than 100000 values (at `*l3`)");
    // Each `*l3` expands to 11,111 nodes, after 12,330 for l1 to l3: the eighth passes 100,000.
    assert_eq!((line, col), (5, 45));
}

#[test]
fn many_small_aliases_stay_within_budget() {
    let mut text = String::from("t: &t {name: x, shell: echo hi}\nl:\n");
    for _ in 0..5_000 {
        text.push_str("  - *t\n");
    }
    assert_eq!(values(&text)["l"].as_array().unwrap().len(), 5_000);
}

/// `k:` nested `levels` deep, block style.
fn nested(levels: usize) -> String {
    let mut text = String::new();
    for i in 0..levels {
        text.push_str(&" ".repeat(i));
        text.push_str("k:\n");
    }
    text
}

#[test]
fn nesting_up_to_the_limit_is_accepted() {
    let v = values(&nested(MAX_DEPTH));
    let mut depth = 0;
    let mut at = &v;
    while let Some(inner) = at.get("k") {
        depth += 1;
        at = inner;
    }
    assert_eq!(depth, MAX_DEPTH);
}

#[test]
fn depth_bombs_are_refused_fast_at_their_line() {
    // Block nesting costs its indentation: 4,000 levels are 8 MB, within the size bound.
    let block = nested(4_000);
    let started = std::time::Instant::now();
    let (message, line, ..) = refused(&block);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(message, "lists and mappings nested deeper than 200 levels");
    assert_eq!(line, MAX_DEPTH + 1);
    // `- - - ...` nests a list per two bytes, all on one line.
    let dashes = format!("k:\n{}x\n", "- ".repeat(1_000_000));
    let started = std::time::Instant::now();
    let (message, line, col, _) = refused(&dashes);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(message, "lists and mappings nested deeper than 200 levels");
    assert_eq!((line, col), (2, 2 * MAX_DEPTH - 1));
}

#[test]
fn nesting_through_aliases_counts() {
    let mut text = String::from("a: &a ");
    text.push_str(&"[".repeat(150));
    text.push_str(&"]".repeat(150));
    text.push_str("\nb: [[*a]]\nc: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*a]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n");
    let (message, line, ..) = refused(&text);
    assert_eq!(
        message,
        "alias `*a` nests lists and mappings deeper than 200 levels"
    );
    assert_eq!(line, 3);
}

#[test]
fn files_over_the_size_bound_are_refused_without_reading_them_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yml");
    let line = format!("# {}\n", "x".repeat(1021));
    let at_limit = line.repeat((MAX_FILE_BYTES / 1024) as usize);
    std::fs::write(&path, &at_limit).unwrap();
    assert!(Source::read(&path).is_ok());
    std::fs::write(&path, at_limit + "a: 1\n").unwrap();
    let d = Source::read(&path).unwrap_err();
    assert_eq!(
        d.message,
        format!(
            "`{}` is larger than 10 MiB, the most zdd reads of one file",
            path.display()
        )
    );
    assert_eq!(d.location.unwrap().line, 1);
}
