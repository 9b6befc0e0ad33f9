use super::*;
use crate::vars::VarMap;
use serde_json::json;

fn ctx(vars: Value) -> Context {
    let mut ctx = Context::new();
    let layer: VarMap = serde_json::from_value(vars).expect("a map");
    ctx.push(Arc::new(layer));
    ctx
}

fn render(text: &str, vars: Value) -> String {
    Templater::new()
        .render_str(text, &ctx(vars))
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn eval(expr: &str, vars: Value) -> Value {
    Templater::new()
        .eval(expr, &ctx(vars))
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn reads(text: &str) -> Vec<String> {
    Templater::new()
        .variables_read(text)
        .unwrap()
        .into_iter()
        .collect()
}

fn expr_reads(expr: &str) -> Vec<String> {
    Templater::new()
        .expr_variables_read(expr)
        .unwrap()
        .into_iter()
        .collect()
}

#[test]
fn templater_is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Templater>();
}

#[test]
fn plain_strings_and_values_render() {
    assert_eq!(render("no template", json!({})), "no template");
    assert_eq!(
        render("hello {{ name }}!", json!({"name": "web1"})),
        "hello web1!"
    );
    assert_eq!(
        render("{{ a }} {{ b }} {{ c }}", json!({"a": true, "b": null, "c": 1.5})),
        "True  1.5"
    );
    assert_eq!(
        render("{{ l }}", json!({"l": ["a", 1, {"k": false}]})),
        "['a', 1, {'k': False}]"
    );
    assert_eq!(
        render(
            "{% for h in hosts %}{{ h }},{% endfor %}",
            json!({"hosts": ["a", "b"]})
        ),
        "a,b,"
    );
}

#[test]
fn undefined_is_an_error_naming_the_variable() {
    let t = Templater::new();
    let err = t.render_str("port {{ http_port }}", &ctx(json!({}))).unwrap_err();
    assert_eq!(err.undefined.as_deref(), Some("http_port"));
    assert!(err.message.contains("http_port"), "{}", err.message);
    // The debug snippet shows the template line.
    assert!(err.message.contains("port {{ http_port }}"), "{}", err.message);

    let err = t.eval("result.rc != 0", &ctx(json!({}))).unwrap_err();
    assert_eq!(err.undefined.as_deref(), Some("result"));
    let err = t.eval_bool("missing", &ctx(json!({}))).unwrap_err();
    assert_eq!(err.undefined.as_deref(), Some("missing"));
    let err = t
        .render_value(&json!(["{{ nope }}"]), &ctx(json!({})))
        .unwrap_err();
    assert_eq!(err.undefined.as_deref(), Some("nope"));
    let err = t
        .render_str("{{ r.stdout }}", &ctx(json!({"r": {"rc": 0}})))
        .unwrap_err();
    assert_eq!(err.undefined.as_deref(), Some("r.stdout"));
    let err = t.render_str("{{ x | upper }}", &ctx(json!({}))).unwrap_err();
    assert_eq!(err.undefined.as_deref(), Some("x"));
}

#[test]
fn syntax_errors_are_errors_without_undefined() {
    let err = Templater::new()
        .render_str("{{ a + }}", &ctx(json!({"a": 1})))
        .unwrap_err();
    assert!(err.message.contains("syntax error"), "{}", err.message);
    assert_eq!(err.undefined, None);
    assert!(Templater::new().eval("a ==", &ctx(json!({"a": 1}))).is_err());
}

#[test]
fn guards_on_undefined_work() {
    let vars = json!({"x": 1, "r": {"rc": 0}});
    assert_eq!(
        render(
            "{{ y is defined }} {{ y is undefined }} {{ x is defined }}",
            vars.clone()
        ),
        "False True True"
    );
    assert_eq!(
        render(
            "{{ y | default(5) }} {{ y | d('z') }} {{ x | default(5) }}",
            vars.clone()
        ),
        "5 z 1"
    );
    assert_eq!(
        render(
            "{{ '' | default('e', true) }} {{ '' | default('e') }}|",
            vars.clone()
        ),
        "e |"
    );
    assert_eq!(
        render("{{ r.stdout is defined }} {{ r.rc is defined }}", vars.clone()),
        "False True"
    );
    assert_eq!(
        render("{% if y is defined %}{{ y }}{% else %}none{% endif %}", vars),
        "none"
    );
}

#[test]
fn lone_expression_keeps_its_type() {
    let t = Templater::new();
    let vars = ctx(json!({"groups": {"loadbalancers": ["lb1", "lb2"]}, "n": 3, "flag": false}));
    let value = json!({
        "with_items": "{{ groups.loadbalancers }}",
        "count": " {{ n + 1 }} ",
        "flag": "{{ flag }}",
        "text": "lb: {{ groups.loadbalancers | join(',') }}",
        "nested": [{"k": "{{ n }}"}, 7, null],
        "dict": "{{ {'a': n} }}",
    });
    assert_eq!(
        t.render_value(&value, &vars).unwrap(),
        json!({
            "with_items": ["lb1", "lb2"],
            "count": 4,
            "flag": false,
            "text": "lb: lb1,lb2",
            "nested": [{"k": 3}, 7, null],
            "dict": {"a": 3},
        })
    );
    // Two expressions make a string.
    assert_eq!(
        t.render_value(&json!("{{ n }}{{ n }}"), &vars).unwrap(),
        json!("33")
    );
    assert_eq!(t.render_str("{{ n }}", &vars).unwrap(), "3");
}

#[test]
fn lazy_variables_render_on_access() {
    let vars = json!({
        "a": "{{ b }}",
        "b": [1, 2],
        "greeting": "hello {{ who }}",
        "who": "{{ names[0] }}",
        "names": ["ann"],
        "app": {"port": "{{ base_port + 1 }}", "url": "http://{{ inventory_hostname }}:{{ app.port }}/"},
        "base_port": 8000,
        "inventory_hostname": "web1",
    });
    assert_eq!(render("{{ a | length }}", vars.clone()), "2");
    assert_eq!(
        render(
            "{{ a == [1, 2] }} {{ b == [1, 2] }} {{ app.port == 8001 }}",
            vars.clone()
        ),
        "True True True"
    );
    assert_eq!(render("{{ greeting }}", vars.clone()), "hello ann");
    assert_eq!(render("{{ app.url }}", vars.clone()), "http://web1:8001/");
    assert_eq!(eval("app.port + 1", vars.clone()), json!(8002));
    assert_eq!(
        eval("app", vars.clone()),
        json!({"port": 8001, "url": "http://web1:8001/"})
    );
    let t = Templater::new();
    assert_eq!(
        t.render_value(&json!("{{ a }}"), &ctx(vars)).unwrap(),
        json!([1, 2])
    );
}

#[test]
fn lazy_variable_with_an_undefined_inside() {
    let t = Templater::new();
    let vars = ctx(json!({"a": "{{ b }}", "c": {"d": "x{{ e }}"}}));
    assert_eq!(
        t.render_str("{{ a is defined }} {{ a | default('fallback') }}", &vars)
            .unwrap(),
        "False fallback"
    );
    let err = t.render_str("{{ a }}", &vars).unwrap_err();
    assert_eq!(err.undefined.as_deref(), Some("b"), "{}", err.message);
    assert!(
        err.message
            .contains("while templating `a`: undefined value: `b` is undefined"),
        "{}",
        err.message
    );
    let err = t.render_str("{{ c.d }}", &vars).unwrap_err();
    assert_eq!(err.undefined.as_deref(), Some("e"), "{}", err.message);
    let err = t.render_value(&json!("{{ c }}"), &vars).unwrap_err();
    assert_eq!(err.undefined.as_deref(), Some("e"), "{}", err.message);
}

#[test]
fn variable_cycle_is_an_error() {
    let t = Templater::new();
    let vars = ctx(json!({"a": "{{ b }}", "b": "{{ a }}", "self_ref": "x{{ self_ref }}"}));
    let err = t.render_str("{{ a }}", &vars).unwrap_err();
    assert!(
        err.message.contains("recursive loop in variables: a -> b -> a"),
        "{}",
        err.message
    );
    assert_eq!(err.undefined, None);
    let err = t.eval("self_ref", &vars).unwrap_err();
    assert!(err.message.contains("self_ref -> self_ref"), "{}", err.message);
}

#[test]
fn upper_layers_shadow_lower_ones() {
    let t = Templater::new();
    let base = ctx(json!({"x": "{{ y }}", "y": 1}));
    let item = base
        .with_var("y", json!(2))
        .with_var("item", json!({"name": "n{{ y }}"}));
    assert_eq!(t.render_str("{{ x }} {{ item.name }}", &item).unwrap(), "2 n2");
    assert_eq!(
        t.render_str("{{ vars['x'] }} {{ omit == omit }}", &base).unwrap(),
        "1 True"
    );
}

#[test]
fn conditions() {
    let t = Templater::new();
    let vars = ctx(json!({
        "result": {"rc": 1, "stdout": "active", "changed": true},
        "ok": {"rc": 0, "changed": false, "skipped": true},
        "loop_result": {"results": [{"changed": false}, {"changed": true}]},
        "s_yes": "yes", "s_no": "no", "s_off": "Off", "s_zero": "0", "s_true": "True", "empty": "",
        "b": ["x", "y"], "n": 0,
        "lb": {"balancer": {"status": "ACTIVE"}},
    }));
    let yes = |e: &str| t.eval_bool(e, &vars).unwrap_or_else(|err| panic!("{e}: {err}"));
    assert!(yes("result.rc != 0"));
    assert!(yes("result is failed"));
    assert!(!yes("result is succeeded"));
    assert!(yes("result is changed"));
    assert!(yes("ok is success and ok is not changed and ok is skipped"));
    assert!(yes("loop_result is changed"));
    assert!(yes("'x' in b"));
    assert!(yes("'active' in result.stdout"));
    assert!(!yes("lb.balancer.status != 'ACTIVE'"));
    assert!(
        yes("s_yes") && !yes("s_no") && !yes("s_off") && !yes("s_zero") && yes("s_true") && !yes("empty")
    );
    assert!(!yes("n"));
    assert!(yes("true") && yes("True") && !yes("false"));
    assert!(yes("{{ result.rc == 1 }}"));
    assert!(yes("result.stdout is match('act')") && !yes("result.stdout is match('tive')"));
    assert!(yes("result.stdout is search('tive')") && yes("result.stdout is regex('^a.t')"));
    assert!(yes("'1.10.2' is version('1.9', '>')") && yes("'2.0' is version_compare('2.0.0', '<')"));
    assert!(yes("result.stdout.startswith('act') and b.index('y') == 1"));
    assert_eq!(t.eval("result.stdout | upper", &vars).unwrap(), json!("ACTIVE"));
    assert!(t.eval_bool("'a' is failed", &vars).is_err());
}

#[test]
fn ansible_filters_basic() {
    let vars = json!({"l": [3, 1, 2, 1], "s": "Hello World", "d": {"b": 2, "a": 1}, "xs": ["1", "2"]});
    let cases = [
        ("{{ l | join('-') }}", "3-1-2-1"),
        ("{{ '42' | int + 1 }} {{ '3.7' | int }} {{ 'x' | int }} {{ 'ff' | int(base=16) }}", "43 3 0 255"),
        ("{{ '1.5' | float }} {{ 2 | float }} {{ 'x' | float }}", "1.5 2.0 0.0"),
        ("{{ 5 | string }} {{ [1] | string }}", "5 [1]"),
        ("{{ 'yes' | bool }} {{ 'off' | bool }} {{ 1 | bool }} {{ 'TRUE' | bool }}", "True False True True"),
        ("{{ l | length }} {{ s | count }}", "4 11"),
        ("{{ s | lower }} {{ s | upper }} {{ 'aBC' | capitalize }}", "hello world HELLO WORLD Abc"),
        ("[{{ '  x ' | trim }}] {{ s | replace('World', 'zdd') }}", "[x] Hello zdd"),
        ("{{ l | first }} {{ l | last }} {{ l | unique | list }} {{ l | sort }}", "3 1 [3, 1, 2] [1, 1, 2, 3]"),
        ("{{ l | min }} {{ l | max }} {{ l | sum }}", "1 3 7"),
        ("{{ xs | map('int') | sum }}", "3"),
        ("{{ [[1, [2]], 3, none] | flatten }} {{ [[1, [2]], 3] | flatten(1) }}", "[1, 2, 3] [1, [2], 3]"),
        ("{{ 'a,b' | split(',') }}", "['a', 'b']"),
        ("{{ true | ternary('on', 'off') }} {{ none | ternary(1, 2, 3) }}", "on 3"),
        ("{{ [1, 2, 3] | difference([2]) }} {{ [1, 2] | union([2, 3]) }} {{ [1, 2] | intersect([2, 3]) }}", "[1, 3] [1, 2, 3] [2]"),
        ("{{ [1, 2] | zip(['a', 'b']) | list }}", "[[1, 'a'], [2, 'b']]"),
        ("{{ [1, 2] | product(['a']) | list }}", "[[1, 'a'], [2, 'a']]"),
        ("{{ 1 | type_debug }} {{ 's' | type_debug }} {{ d | type_debug }} {{ l | type_debug }} {{ none | type_debug }}", "int str dict list NoneType"),
        ("{{ 'a b&c' | urlencode }}", "a%20b%26c"),
        ("{{ d | dict2items }}", "[{'key': 'b', 'value': 2}, {'key': 'a', 'value': 1}]"),
        ("{{ [{'key': 'k', 'value': 1}] | items2dict }}", "{'k': 1}"),
        ("{{ d | dict2items(key_name='n', value_name='v') | items2dict(key_name='n', value_name='v') }}", "{'b': 2, 'a': 1}"),
        ("{{ [{'n': 1}, {'n': 2}] | map(attribute='n') | list }}", "[1, 2]"),
        ("{{ [{'n': 1, 'on': true}, {'n': 2, 'on': false}] | selectattr('on') | map(attribute='n') | list }}", "[1]"),
        ("{{ [{'n': 1, 'on': true}, {'n': 2, 'on': false}] | rejectattr('on') | map(attribute='n') | list }}", "[2]"),
        ("{{ [1, 2, 3, 4] | select('even') | list }} {{ [1, 2, 3, 4] | reject('even') | list }}", "[2, 4] [1, 3]"),
        ("{{ ['web1', 'db1'] | select('match', 'web') | list }}", "['web1']"),
        ("{{ [1, 2, 3] | random(seed='x') in [1, 2, 3] }} {{ [1, 2, 3] | random(seed='x') == [1, 2, 3] | random(seed='x') }}", "True True"),
        ("{{ range(3) | list }}", "[0, 1, 2]"),
        ("{{ '1.2.10' | version_compare('1.2.9', '>') }} {{ '1.0' | version_compare('1.0', 'eq') }}", "True True"),
        ("{{ ['a', 'b'] | map('extract', {'a': 1, 'b': 2}) | list }}", "[1, 2]"),
        ("{{ ['web1'] | map('extract', {'web1': {'ip': '10.0.0.1'}}, 'ip') | list }}", "['10.0.0.1']"),
    ];
    for (template, expected) in cases {
        assert_eq!(render(template, vars.clone()), expected, "{template}");
    }
}

#[test]
fn ansible_filters_strings_and_paths() {
    let cases = [
        ("{{ 'foobar' | regex_replace('o+', '0') }}", "f0bar"),
        (
            "{{ 'host-12.example' | regex_replace('^host-(\\d+).*$', 'n\\1') }}",
            "n12",
        ),
        ("{{ 'ab' | regex_replace('(?P<x>a)', '\\g<x>\\g<x>') }}", "aab"),
        ("{{ 'ABC' | regex_replace('b', 'x', ignorecase=true) }}", "AxC"),
        ("{{ 'cost $5' | regex_replace('cost', '$') }}", "$ $5"),
        ("{{ 'server1 server22' | regex_search('server\\d+') }}", "server1"),
        (
            "{{ 'k=v' | regex_search('(\\w)=(\\w)', '\\2', '\\1') }}",
            "['v', 'k']",
        ),
        ("{{ 'abc' | regex_search('z') }}", ""),
        (
            "{{ 'a1b22' | regex_findall('\\d+') }} {{ 'a=1 b=2' | regex_findall('(\\w)=(\\d)') }}",
            "['1', '22'] [['a', '1'], ['b', '2']]",
        ),
        ("{{ 'a.b*c d' | regex_escape }}", "a\\.b\\*c\\ d"),
        ("{{ 'zdd' | b64encode }} {{ 'emRk' | b64decode }}", "emRk zdd"),
        (
            "{{ '/etc/nginx/nginx.conf' | basename }} {{ '/etc/nginx/nginx.conf' | dirname }}",
            "nginx.conf /etc/nginx",
        ),
        (
            "[{{ '/a/b/' | basename }}] [{{ 'file' | dirname }}] {{ '/x' | dirname }}",
            "[] [] /",
        ),
        (
            "{{ 'a/b.tar.gz' | splitext }} {{ '.bashrc' | splitext }}",
            "['a/b.tar', '.gz'] ['.bashrc', '']",
        ),
        (
            "{{ 'abc' | quote }} {{ \"it's here\" | quote }} {{ '' | quote }}",
            "abc 'it'\"'\"'s here' ''",
        ),
        (
            "{{ 'abc' | hash('sha1') }}",
            "a9993e364706816aba3e25717850c26c9cd0d89d",
        ),
        ("{{ 'abc' | hash('md5') }}", "900150983cd24fb0d6963f7d28e17f72"),
        (
            "{{ 'abc' | hash('sha256') }}",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            "{{ 'abc' | checksum }}",
            "a9993e364706816aba3e25717850c26c9cd0d89d",
        ),
        (
            "{{ 'a b  c'.split() }} {{ ' x '.strip() }} {{ 'a-b-c'.split('-', 1) }}",
            "['a', 'b', 'c'] x ['a', 'b-c']",
        ),
        (
            "{{ {'a': 1}.get('a') }} {{ {'a': 1}.get('z', 9) }} {{ {'a': 1}.keys() | list }}",
            "1 9 ['a']",
        ),
    ];
    for (template, expected) in cases {
        assert_eq!(render(template, json!({})), expected, "{template}");
    }
    let home = std::env::var("HOME").unwrap_or_default();
    assert_eq!(
        render("{{ '~/x' | expanduser }}", json!({})),
        format!("{}/x", home.trim_end_matches('/'))
    );
}

#[test]
fn combine_merges_maps() {
    let vars = json!({"a": {"x": 1, "n": {"p": 1, "q": 2}}, "b": {"y": 2, "n": {"q": 3}}});
    assert_eq!(
        eval("a | combine(b)", vars.clone()),
        json!({"x": 1, "n": {"q": 3}, "y": 2})
    );
    assert_eq!(
        eval("a | combine(b, recursive=true)", vars.clone()),
        json!({"x": 1, "n": {"p": 1, "q": 3}, "y": 2})
    );
    assert_eq!(
        eval("{} | combine(a, {'x': 5})", vars),
        json!({"x": 5, "n": {"p": 1, "q": 2}})
    );
}

#[test]
fn json_filters_match_python() {
    let vars = json!({"d": {"b": [1, 2.5, true, null], "a": "é\"", "c": {}}});
    assert_eq!(
        render("{{ d | to_json }}", vars.clone()),
        r#"{"b": [1, 2.5, true, null], "a": "\u00e9\"", "c": {}}"#
    );
    assert_eq!(
        render("{{ d | to_nice_json }}", vars.clone()),
        "{\n    \"a\": \"\\u00e9\\\"\",\n    \"b\": [\n        1,\n        2.5,\n        true,\n        null\n    ],\n    \"c\": {}\n}"
    );
    assert_eq!(
        render("{{ d | to_nice_json(indent=2) }}", json!({"d": {"k": [1]}})),
        "{\n  \"k\": [\n    1\n  ]\n}"
    );
    assert_eq!(
        eval("'{\"a\": [1, \"x\"]}' | from_json", json!({})),
        json!({"a": [1, "x"]})
    );
}

#[test]
fn yaml_filters_match_pyyaml() {
    let vars = json!({"d": {"b": [1, 2], "a": "x", "c": {"k": "yes"}}, "l": [{"n": 1, "m": "two words"}]});
    assert_eq!(
        render("{{ d | to_yaml }}", vars.clone()),
        "a: x\nb: [1, 2]\nc: {k: 'yes'}\n"
    );
    assert_eq!(render("{{ {'a': 1} | to_yaml }}", vars.clone()), "{a: 1}\n");
    assert_eq!(
        render("{{ d | to_nice_yaml }}", vars.clone()),
        "a: x\nb:\n- 1\n- 2\nc:\n    k: 'yes'\n"
    );
    assert_eq!(
        render("{{ l | to_nice_yaml }}", vars.clone()),
        "-   m: two words\n    n: 1\n"
    );
    assert_eq!(
        render("{{ l | to_nice_yaml(indent=2) }}", vars.clone()),
        "- m: two words\n  n: 1\n"
    );
    assert_eq!(render("{{ 'abc' | to_yaml }}", vars.clone()), "abc\n...\n");
    assert_eq!(
        eval("'a: 1\nb: [x, 2.5, true, null]\n' | from_yaml", json!({})),
        json!({"a": 1, "b": ["x", 2.5, true, null]})
    );
}

#[test]
fn from_yaml_reads_as_pyyaml_within_the_same_bounds() {
    let text = "base: &b {port: 80, enabled: yes}\nweb:\n  <<: *b\n  port: 8080\nlist: [*b]\n";
    assert_eq!(
        eval("text | from_yaml", json!({"text": text})),
        json!({"base": {"port": 80, "enabled": true}, "web": {"port": 8080, "enabled": true},
               "list": [{"port": 80, "enabled": true}]})
    );
    assert_eq!(eval("'42' | from_yaml", json!({})), json!(42));
    assert_eq!(eval("'' | from_yaml", json!({})), json!(null));
    let mut laughs = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        laughs.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 10].join(", ")
        ));
    }
    let err = Templater::new()
        .eval("text | from_yaml", &ctx(json!({"text": laughs})))
        .unwrap_err();
    assert!(
        err.message
            .contains("from_yaml: aliases expand to more than 100000 values (at `*a3`) at line 5"),
        "{}",
        err.message
    );
}

#[test]
fn mandatory_fails_on_undefined() {
    let t = Templater::new();
    let err = t
        .render_str("{{ x | mandatory('x is required') }}", &ctx(json!({})))
        .unwrap_err();
    assert!(err.message.contains("x is required"), "{}", err.message);
    assert_eq!(render("{{ x | mandatory }}", json!({"x": 1})), "1");
}

#[test]
fn template_file_keeps_trailing_newline_and_trims_blocks() {
    let t = Templater::new();
    let source = "backend web\n{% for h in hosts %}\n    server {{ h }} {{ h }}:80 check\n{% endfor %}\n";
    let out = t
        .render_file("haproxy.cfg.j2", source, &ctx(json!({"hosts": ["w1", "w2"]})))
        .unwrap();
    assert_eq!(
        out,
        "backend web\n    server w1 w1:80 check\n    server w2 w2:80 check\n"
    );
    let err = t
        .render_file("site.conf.j2", "a\n{{ missing }}\n", &ctx(json!({})))
        .unwrap_err();
    assert!(err.message.contains("site.conf.j2"), "{}", err.message);
    assert_eq!(err.undefined.as_deref(), Some("missing"));
}

#[test]
fn each_source_is_compiled_once() {
    let t = Templater::new();
    let vars = ctx(json!({"x": 1, "l": "{{ x }}"}));
    for _ in 0..5 {
        t.render_str("a {{ x }}", &vars).unwrap();
        t.eval_bool("x == 1", &vars).unwrap();
        t.render_value(&json!("{{ l }}"), &vars).unwrap();
    }
    // "a {{ x }}", "x == 1", " l " (the lone expression) and " x " (l's value).
    assert_eq!(t.compilations(), 4);
}

#[test]
fn variables_read_by_templates() {
    assert_eq!(reads("{{ a }} {{ b.c }} {{ d['e'] | upper }}"), ["a", "b", "d"]);
    assert_eq!(
        reads("{% for h in groups.web %}{{ h }}{{ loop.index }}{% endfor %}"),
        ["groups"]
    );
    assert_eq!(reads("{% set x = y %}{{ x }}"), ["y"]);
    assert_eq!(
        reads("{{ range(3) | list }} {{ lookup('env', 'HOME') }} {{ omit }}"),
        Vec::<String>::new()
    );
    assert_eq!(reads("{{ x | default(y) }}"), ["y"]);
    assert_eq!(
        reads("{{ x | d('z') }} {{ w is defined }} {{ v is undefined }}"),
        Vec::<String>::new()
    );
    // A branch may not run on any host: what it reads, no run needs for certain.
    assert_eq!(
        reads("{% if x is defined %}{{ x }}{% else %}{{ z }}{% endif %}"),
        Vec::<String>::new()
    );
    assert_eq!(
        reads("{% if inventory_hostname in groups.lb %}{{ port }}{% endif %}{{ c if b else d }}"),
        ["b", "groups", "inventory_hostname"]
    );
    assert_eq!(
        reads("{% if x is undefined %}none{% else %}{{ x }}{% endif %}"),
        Vec::<String>::new()
    );
    assert_eq!(reads("{{ x if x is defined else 'n' }}"), Vec::<String>::new());
    // A guard covers only what it protects.
    assert_eq!(reads("{% if x is defined %}{% endif %}{{ x }}"), ["x"]);
    // `x.attr is defined` is false, not an error, when `x` is undefined; so is a default.
    assert_eq!(
        reads("{{ x.attr is defined }} {{ y['k'].z | default(1) }}"),
        Vec::<String>::new()
    );
    assert_eq!(reads("{{ x[k] is defined }}"), ["k", "x"]);
    assert_eq!(
        reads("{% macro m(a) %}{{ a }}{{ b }}{% endmacro %}{{ m(1) }}"),
        ["b"]
    );
    assert!(Templater::new().variables_read("{{ a +").is_err());
}

#[test]
fn variables_read_by_expressions() {
    assert_eq!(expr_reads("result.rc != 0"), ["result"]);
    assert_eq!(expr_reads("result is failed and 'a' in b"), ["b", "result"]);
    assert_eq!(expr_reads("x is defined and x > 1"), Vec::<String>::new());
    assert_eq!(expr_reads("x is undefined or x == 1"), Vec::<String>::new());
    assert_eq!(expr_reads("not (x is defined) or x"), Vec::<String>::new());
    assert_eq!(expr_reads("x > 1 and x is defined"), ["x"]);
    assert_eq!(expr_reads("y | default(z) | int > 0"), ["z"]);
    assert_eq!(expr_reads("{{ p }}"), ["p"]);
    // Globals are no variables.
    assert_eq!(
        expr_reads("now() | string + q('env', 'X') | first"),
        Vec::<String>::new()
    );
    assert!(Templater::new().expr_variables_read("a ==").is_err());
}

#[test]
fn template_errors_name_the_variables_they_read_but_never_show_their_values() {
    let vars = json!({
        "db_password": "S3CRET",
        "nested": {"token": "T0KEN", "list": ["S3CRET-2"]},
        "n": 3
    });
    let templater = Templater::new();
    let file = "pass={{ db_password }}\nmore={{ nested.token }} {{ nested.list }}\nbad={{ n + 'x' }}\n";
    let err = templater
        .render_file("app.conf.j2", file, &ctx(vars.clone()))
        .unwrap_err();
    assert!(
        !err.message.contains("S3CRET") && !err.message.contains("T0KEN"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("Referenced variables (values not shown): "),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("app.conf.j2"),
        "the snippet stays: {}",
        err.message
    );
    let err = templater
        .render_str("{{ db_password | int + undefined_thing }}", &ctx(vars))
        .unwrap_err();
    assert!(!err.message.contains("S3CRET"), "{}", err.message);
}

#[test]
fn names_only_keeps_everything_but_the_values() {
    let text = "error: x\n---- t ----\n   1 > {{ a }}\n~~~~\nReferenced variables: {\n    a: \"S3CRET\",\n    b: {\n        \"k\": \"v\",\n    },\n}\n-------\n";
    assert_eq!(
        names_only(text),
        "error: x\n---- t ----\n   1 > {{ a }}\n~~~~\nReferenced variables (values not shown): a, b\n-------\n"
    );
    assert_eq!(
        names_only("No referenced variables\n"),
        "No referenced variables\n"
    );
}

#[test]
fn now_is_the_time_as_ansible_prints_it() {
    let printed = render("{{ now() }}", json!({}));
    let shape = regex::Regex::new(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$").unwrap();
    assert!(shape.is_match(&printed), "{printed}");
    let year = render("{{ now(utc=true, fmt='%Y') }}", json!({}));
    assert_eq!(render("{{ now(utc=true).year }}", json!({})), year);
    assert_eq!(render("{{ now(utc=true).strftime('%Y') }}", json!({})), year);
    assert!(year.parse::<u32>().unwrap() >= 2024);
}

#[test]
fn q_is_query_and_undef_is_undefined() {
    std::env::set_var("ZDD_TEMPLATE_TEST", "on");
    assert_eq!(render("{{ q('env', 'ZDD_TEMPLATE_TEST') }}", json!({})), "['on']");
    assert_eq!(render("{{ undef() | default('d') }}", json!({})), "d");
}

#[test]
fn a_non_breaking_space_inside_braces_renders_as_a_space() {
    assert_eq!(render("{{\u{a0}x\u{a0}}}", json!({"x": 1})), "1");
    assert_eq!(
        render("a\u{a0}{%\u{a0}if x %}b{% endif %}", json!({"x": true})),
        "a\u{a0}b"
    );
    assert_eq!(eval("x\u{a0}+\u{a0}1", json!({"x": 1})), json!(2));
}

#[test]
fn jinja_globals_cycler_joiner_lipsum() {
    assert_eq!(
        render(
            "{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}{{ c.current }}",
            json!({})
        ),
        "abab"
    );
    assert_eq!(
        render(
            "{% set j = joiner('|') %}{% for x in [1, 2, 3] %}{{ j() }}{{ x }}{% endfor %}",
            json!({})
        ),
        "1|2|3"
    );
    assert!(render("{{ lipsum(2, html=false) }}", json!({})).starts_with("Lorem ipsum"));
}

#[test]
fn a_lookup_on_an_undefined_variable_under_a_guard_is_undefined_as_in_ansible() {
    let vars = json!({"d": {"a": 1}});
    assert_eq!(
        render(
            "{{ x.y is defined }} {{ x['y'] is defined }} {{ x.y | default(5) }} {{ x.y.z | default(6) }}",
            vars.clone()
        ),
        "False False 5 6"
    );
    assert_eq!(
        render(
            "{{ d.a is defined }} {{ d.b.c | default(7) }} {{ d.a | default(0) }}",
            vars.clone()
        ),
        "True 7 1"
    );
    assert_eq!(
        eval("x.y is undefined and d.a is defined", vars.clone()),
        json!(true)
    );
    // Outside a guard it is still an error.
    assert!(Templater::new().render_str("{{ x.y }}", &ctx(vars)).is_err());
}

#[test]
fn template_files_include_from_their_search_path() {
    let dir = tempfile::tempdir().unwrap();
    let role = dir.path().join("roles/motd");
    std::fs::create_dir_all(role.join("templates")).unwrap();
    std::fs::create_dir_all(dir.path().join("templates")).unwrap();
    std::fs::write(role.join("templates/header.j2"), "role header {{ who }}\n").unwrap();
    std::fs::write(dir.path().join("templates/header.j2"), "playbook header\n").unwrap();
    std::fs::write(
        dir.path().join("templates/macros.j2"),
        "{% macro hi(n) %}hi {{ n }}{% endmacro %}\n",
    )
    .unwrap();
    let main = role.join("templates/motd.j2");
    let source = "{% include 'header.j2' %}\n{% from 'macros.j2' import hi %}{{ hi(who) }}\n";
    let search = template_search_path(dir.path(), Some(&role), &main);
    let out = Templater::new()
        .render_file_in("motd.j2", source, &search, &ctx(json!({"who": "ops"})))
        .unwrap();
    // The role's header wins over the playbook's; an included file loses its last newline
    // (and trim_blocks eats the one after `%}`).
    assert_eq!(out, "role header opshi ops\n");
    let missing =
        Templater::new().render_file_in("x.j2", "{% include 'nope.j2' %}", &search, &ctx(json!({})));
    assert!(missing.unwrap_err().message.contains("nope.j2"));
    assert_eq!(
        Templater::templates_referenced(source),
        vec![("header.j2".to_owned(), 1), ("macros.j2".to_owned(), 2)]
    );
}

// Lookups, filters and tests below: every expected value was printed by ansible-core 2.19
// (`debug: msg=...` on localhost) for the same expression and files.

/// A playbook folder: `files/a.txt`, `b.txt` beside it, `templates/t.j2`, a role `r1`.
fn lookup_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("files/a.txt", "hello file\n\n");
    write("b.txt", "beside\n");
    write("files/c.conf", "l1\nl2\n");
    write("files/d.conf", "l3\n");
    write("templates/t.j2", "x={{ x }} y={{ y | default(\"none\") }}\n");
    write("templates/native.j2", "{{ [x, 2] }}");
    write(
        "templates/n.j2",
        "a{{ none }}b {{ [none] }} {% if true %}{{ none }}{% endif %}\n",
    );
    write("roles/r1/files/r.txt", "role file\n");
    write("roles/r1/tasks/main.yml", "[]\n");
    dir
}

fn in_project(dir: &std::path::Path, vars: Value) -> Value {
    let mut all = json!({
        "playbook_dir": dir.display().to_string(),
        "ansible_search_path": [dir.display().to_string()],
        "x": 5,
        "d": {"a": 1, "b": "two"},
    });
    all.as_object_mut()
        .unwrap()
        .extend(vars.as_object().unwrap().clone());
    all
}

#[test]
fn file_lookup_searches_files_then_the_folder_and_shapes_results_as_ansible() {
    let dir = lookup_project();
    let vars = in_project(dir.path(), json!({}));
    let cases = [
        ("lookup('file', 'a.txt')", json!("hello file")),
        ("lookup('file', 'a.txt', rstrip=false)", json!("hello file\n\n")),
        ("lookup('file', 'b.txt')", json!("beside")),
        ("lookup('file', 'a.txt', 'b.txt')", json!("hello file,beside")),
        ("query('file', 'a.txt', 'b.txt')", json!(["hello file", "beside"])),
        ("q('file', 'a.txt')", json!(["hello file"])),
        ("lookup('file', 'a.txt', wantlist=true)", json!(["hello file"])),
        ("lookup('file', 'missing.txt', errors='ignore')", json!(null)),
        ("query('file', 'missing.txt', errors='ignore')", json!([])),
        ("lookup('ansible.builtin.file', 'b.txt')", json!("beside")),
    ];
    for (expr, expected) in cases {
        assert_eq!(eval(expr, vars.clone()), expected, "{expr}");
    }
    let err = Templater::new()
        .eval("lookup('file', 'missing.txt')", &ctx(vars.clone()))
        .unwrap_err();
    assert!(
        err.message.contains("Unable to access the file 'missing.txt'"),
        "{}",
        err.message
    );
    let err = Templater::new()
        .eval("lookup('nope', 'x')", &ctx(vars))
        .unwrap_err();
    assert!(
        err.message.contains("lookup plugin `nope` is not supported"),
        "{}",
        err.message
    );
}

#[test]
fn a_role_task_finds_the_role_files_first() {
    let dir = lookup_project();
    let role = dir.path().join("roles/r1");
    let vars = in_project(
        dir.path(),
        json!({
            "role_path": role.display().to_string(),
            "ansible_search_path": [role.display().to_string(), role.join("tasks").display().to_string(), dir.path().display().to_string()],
        }),
    );
    assert_eq!(eval("lookup('file', 'r.txt')", vars.clone()), json!("role file"));
    assert_eq!(eval("lookup('file', 'a.txt')", vars.clone()), json!("hello file"));
    assert_eq!(
        eval(
            "lookup('first_found', ['nope.txt', 'files/r.txt']) | basename",
            vars
        ),
        json!("r.txt")
    );
}

#[test]
fn env_vars_items_dict_lookups() {
    let dir = lookup_project();
    let vars = in_project(dir.path(), json!({"y": "{{ x + 1 }}"}));
    std::env::set_var("ZDD_LOOKUP_TEST_VAR", "from-env");
    let cases = [
        ("lookup('env', 'ZDD_LOOKUP_TEST_VAR')", json!("from-env")),
        ("lookup('env', 'ZDD_NOPE_X', default='dflt')", json!("dflt")),
        ("lookup('env', 'ZDD_NOPE_X')", json!("")),
        (
            "lookup('env', 'ZDD_LOOKUP_TEST_VAR', 'ZDD_NOPE_X')",
            json!("from-env,"),
        ),
        ("lookup('vars', 'x')", json!(5)),
        ("lookup('vars', 'y')", json!(6)),
        ("lookup('vars', 'nope', default=3)", json!(3)),
        ("lookup('vars', 'x', 'd')", json!([5, {"a": 1, "b": "two"}])),
        ("lookup('items', [1, 2], 3)", json!([1, 2, 3])),
        ("lookup('items', ['a', 'b'])", json!("a,b")),
        (
            "lookup('dict', d)",
            json!([{"key": "a", "value": 1}, {"key": "b", "value": "two"}]),
        ),
        ("query('dict', {'k': 1})", json!([{"key": "k", "value": 1}])),
    ];
    for (expr, expected) in cases {
        assert_eq!(eval(expr, vars.clone()), expected, "{expr}");
    }
    let err = Templater::new()
        .eval("lookup('vars', 'nope')", &ctx(vars))
        .unwrap_err();
    assert!(
        err.message.contains("No variable named 'nope' was found."),
        "{}",
        err.message
    );
}

#[test]
fn template_pipe_lines_lookups() {
    let dir = lookup_project();
    let vars = in_project(dir.path(), json!({}));
    let base = dir.path().file_name().unwrap().to_string_lossy().into_owned();
    let cases = [
        ("lookup('template', 't.j2')", json!("x=5 y=none\n")),
        (
            "lookup('template', 't.j2', template_vars={'y': 7})",
            json!("x=5 y=7\n"),
        ),
        ("lookup('template', 'native.j2')", json!([5, 2])),
        ("lookup('template', 'n.j2')", json!("ab [None] \n")),
        ("lookup('pipe', 'echo hi; echo there')", json!("hi\nthere")),
        ("lookup('pipe', 'pwd') | basename", json!(base)),
        (r#"lookup('lines', 'printf "a\nb\n"')"#, json!("a,b")),
        (r#"query('lines', 'printf "a\nb\n"')"#, json!(["a", "b"])),
    ];
    for (expr, expected) in cases {
        assert_eq!(eval(expr, vars.clone()), expected, "{expr}");
    }
    let err = Templater::new()
        .eval("lookup('pipe', 'exit 3')", &ctx(vars))
        .unwrap_err();
    assert!(
        err.message.contains("lookup_plugin.pipe(exit 3) returned 3"),
        "{}",
        err.message
    );
}

#[test]
fn first_found_and_fileglob_lookups() {
    let dir = lookup_project();
    let vars = in_project(dir.path(), json!({}));
    let cases = [
        (
            "lookup('first_found', ['nope.txt', 'files/a.txt']) | basename",
            json!("a.txt"),
        ),
        ("lookup('first_found', 'nope.txt', skip=true)", json!([])),
        ("query('first_found', 'nope.txt', skip=true)", json!([])),
        (
            "lookup('first_found', {'files': ['x', 'c.conf'], 'paths': ['files']}) | basename",
            json!("c.conf"),
        ),
        (
            "lookup('fileglob', '*.conf') | split(',') | map('basename') | list",
            json!(["c.conf", "d.conf"]),
        ),
        (
            "query('fileglob', 'files/*.conf') | map('basename') | list",
            json!(["c.conf", "d.conf"]),
        ),
        ("query('fileglob', 'nomatch*')", json!([])),
    ];
    for (expr, expected) in cases {
        assert_eq!(eval(expr, vars.clone()), expected, "{expr}");
    }
    // Not in `files/` of the search path: Ansible looks at `PATH/NAME` only.
    let err = Templater::new()
        .eval("lookup('first_found', ['a.txt'])", &ctx(vars))
        .unwrap_err();
    assert!(
        err.message.contains("No file was found when using first_found."),
        "{}",
        err.message
    );
}

#[test]
fn password_lookup_is_python_seeded_stored_and_secret() {
    let dir = lookup_project();
    let vars = in_project(dir.path(), json!({}));
    let cases = [
        (
            "lookup('password', '/dev/null', seed='web1')",
            "PHReYru8meWgwuf2LQh8",
        ),
        (
            "lookup('password', '/dev/null', seed='web1', length=8, chars=['digits'])",
            "54506227",
        ),
        (
            "lookup('password', '/dev/null seed=abc length=12 chars=ascii_lowercase,digits')",
            "93wwkrdneaae",
        ),
        (
            "lookup('password', '/dev/null', seed=42, length=10)",
            "86Kmhn6ry5",
        ),
    ];
    for (expr, expected) in cases {
        assert_eq!(eval(expr, vars.clone()), json!(expected), "{expr}");
    }
    assert_eq!(
        eval("lookup('password', '/dev/null') | length", vars.clone()),
        json!(20)
    );
    // Created once (0600, its folder made), then read back.
    let first = eval("lookup('password', 'creds/db length=16')", vars.clone());
    let path = dir.path().join("creds/db");
    let stored = std::fs::read_to_string(&path).unwrap();
    assert_eq!(json!(stored.trim_end()), first);
    assert_eq!(first.as_str().unwrap().len(), 16);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(eval("lookup('password', 'creds/db')", vars), first);
    assert!(crate::vault::reveals_str(first.as_str().unwrap()));
}

#[test]
fn seeded_random_and_shuffle_are_pythons() {
    assert_eq!(
        render(
            "{{ 59 | random(seed='web1.example.com') }} {{ 100 | random(seed=42) }} {{ 20 | random(start=10, step=5, seed='x') }}",
            json!({})
        ),
        "31 81 15"
    );
    assert_eq!(
        render(
            "{{ ['a', 'b', 'c', 'd'] | random(seed='s') }} {{ [1, 2, 3, 4, 5] | shuffle(seed='web1') }}",
            json!({})
        ),
        "d [4, 1, 2, 5, 3]"
    );
    assert_eq!(
        eval("[1, 2, 3, 4] | shuffle(seed='x')", json!({})),
        json!([1, 2, 4, 3])
    );
    assert_eq!(eval("100 | random(seed='x')", json!({})), json!(80));
    let n = eval("10 | random", json!({})).as_i64().unwrap();
    assert!((0..10).contains(&n));
}

#[test]
fn password_hash_is_crypt() {
    // Expected from Python's crypt.crypt (what passlib gives Ansible, with its default rounds).
    let cases = [
        (
            "'secret' | password_hash('sha512', 'mysalt')",
            "$6$rounds=656000$mysalt$cDA0t8lm/qt.LT6DzpoHxJ.NwTpx.WTkOPwhseSva8pRixDSH2./ffedCjAMbTX1Uo1QNT7jJPJ6FIzU2i59K/",
        ),
        (
            "'secret' | password_hash('sha256', 'mysalt')",
            "$5$rounds=535000$mysalt$GnEktJhWXRuwViyPsEWK9s63HYW1GqXFqU5SdKDqol6",
        ),
        (
            "'secret' | password_hash('sha512', 'mysalt', rounds=10000)",
            "$6$rounds=10000$mysalt$9XTP7570fxVN/uTspSrH6kRPdR4KKGzGz7.TmJjDYGrKSwZuavW/3YaLur8JX6WP75Czcxa.megIO0lKreY0R.",
        ),
        (
            "'secret' | password_hash('sha512', 'mysalt', rounds=5000)",
            "$6$mysalt$UX6P1VKOf6dr0s2pg4pLNvIUB6hLXvP6M5f/Yj9hJgMPdAJ4oArvk5YUD9/XWtk1JOpVwt/JTsczMJr8sFVML1",
        ),
        ("'secret' | password_hash('md5', 'mysalt')", "$1$mysalt$n/EfEiV74OYgBdqhKQzSW/"),
    ];
    for (expr, expected) in cases {
        assert_eq!(eval(expr, json!({})), json!(expected), "{expr}");
    }
    let random = eval("'secret' | password_hash(rounds=5001)", json!({}));
    let parts: Vec<&str> = random.as_str().unwrap().split('$').collect();
    assert_eq!((parts[1], parts[2], parts[3].len()), ("6", "rounds=5001", 16));
    assert!(Templater::new()
        .eval("'x' | password_hash('sha512', 'bad salt!')", &ctx(json!({})))
        .is_err());
}

#[test]
fn path_url_and_text_filters_as_ansible() {
    std::env::set_var("ZDD_EXPANDVARS_TEST", "ev");
    let cases = [
        (
            "{{ '/etc/../etc/./hosts' | realpath }} {{ 'a//b/../c' | normpath }}",
            "/etc/hosts a/c",
        ),
        (
            "{{ ['/etc', 'x', 'y'] | path_join }} {{ ['/a', '/b'] | path_join }}",
            "/etc/x/y /b",
        ),
        ("{{ '/a/b/c' | relpath('/a/d') }}", "../b/c"),
        ("{{ ['/a/b/c', '/a/b/d', '/a/bx'] | commonpath }}", "/a"),
        (
            "{{ 'https://host/p' | urlsplit('port') }}|{{ 'https://host/p' | urlsplit('username') }}",
            "|",
        ),
        ("{{ 'a%20b+c%2F' | urldecode }}", "a b c/"),
        ("{{ 'hello' | comment }}", "#\n# hello\n#"),
        ("{{ 'a\nb' | comment('c') }}", "//\n// a\n// b\n//"),
        ("{{ 'x' | comment('cblock') }}", "/*\n *\n * x\n *\n */"),
        ("{{ 'x' | comment('xml') }}", "<!--\n -\n - x\n -\n-->"),
        (
            "{{ 'x' | comment('erlang', prefix='P', postfix='Q') }}",
            "P\n% x\nQ",
        ),
        (
            "{{ 'x' | comment(decoration='; ', prefix_count=2) }}",
            ";\n;\n; x\n;",
        ),
        ("{{ 'test' | to_uuid }}", "f4fb6740-9e00-5ac4-9581-f24b6ecfe71e"),
        (
            "{{ '%Y-%m-%d %H:%M' | strftime(3600, utc=true) }}",
            "1970-01-01 01:00",
        ),
        (
            "{{ 8 | log(2) }} {{ 2 | pow(10) }} {{ 16 | root }} {{ 27 | root(3) }}",
            "3.0 1024.0 4.0 3.0",
        ),
        (
            "{{ 'E=$ZDD_EXPANDVARS_TEST ${ZDD_NOPE_VAR}' | expandvars }}",
            "E=ev ${ZDD_NOPE_VAR}",
        ),
        (
            "{{ 'abc' | sha1 }} {{ 'abc' | md5 }}",
            "a9993e364706816aba3e25717850c26c9cd0d89d 900150983cd24fb0d6963f7d28e17f72",
        ),
        (
            "{{ [1, 2, 3] | zip_longest(['a', 'b']) | list }}",
            "[[1, 'a'], [2, 'b'], [3, None]]",
        ),
        (
            "{{ [1, 2, 3] | zip_longest(['a'], fillvalue='z') | list }}",
            "[[1, 'a'], [2, 'z'], [3, 'z']]",
        ),
        (
            "{{ 'a: 1\n---\nb: 2\n' | from_yaml_all | list }}",
            "[{'a': 1}, {'b': 2}]",
        ),
        ("{{ [1, 2, 2, 'a', 'A', 'a'] | unique }}", "[1, 2, 'a']"),
        ("a{{ none }}b {{ [none] }}", "ab [None]"),
        (
            "{{ 'web12.example' | regex_search('web(\\d+)', '\\1') }}",
            "['12']",
        ),
        ("{{ \"it\\'s\" }} {{ 'a\\tb' }}", "it\\'s a\\tb"),
    ];
    for (text, expected) in cases {
        assert_eq!(render(text, json!({})), expected, "{text}");
    }
    let split = eval("'https://u:p@Host.Example:8443/p/q?x=1#f' | urlsplit", json!({}));
    assert_eq!(
        split,
        json!({"fragment": "f", "hostname": "host.example", "netloc": "u:p@Host.Example:8443",
               "password": "p", "path": "/p/q", "port": 8443, "query": "x=1", "scheme": "https",
               "username": "u"})
    );
}

#[test]
fn keeps_the_sources_trailing_newlines() {
    assert_eq!(render("{% if true %}x{% endif %}\n", json!({})), "x\n");
    assert_eq!(render("a\n\n", json!({})), "a\n\n");
}

#[test]
fn path_and_collection_tests_as_ansible() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), "").unwrap();
    std::os::unix::fs::symlink(dir.path().join("f"), dir.path().join("l")).unwrap();
    let d = dir.path().display().to_string();
    let vars = json!({"d": d, "f": format!("{d}/f"), "l": format!("{d}/l"), "r": {"changed": true, "failed": false, "rc": 0}});
    let cases = [
        ("{{ f is file }} {{ d is directory }} {{ l is link }} {{ (d ~ '/nope') is exists }} {{ f is exists }} {{ '/etc' is abs }} {{ 'etc' is abs }}", "True True True False True True False"),
        ("{{ '/' is mount }} {{ f is mount }} {{ l is link_exists }} {{ f is same_file(l) }}", "True False True True"),
        ("{{ 'yes' is truthy }} {{ '' is truthy }} {{ 'no' is truthy(convert_bool=true) }} {{ 0 is falsy }} {{ [] is falsy }}", "True False False True True"),
        ("{{ [1, 2] is contains(2) }} {{ [1, 0] is any }} {{ [1, 0] is all }} {{ [] is all }}", "True True False True"),
        ("{{ [1, 2] is subset([1, 2, 3]) }} {{ [1, 4] is issubset([1, 2]) }} {{ [1, 2, 3] is superset([1]) }}", "True False True"),
        ("{{ r is changed }} {{ r is succeeded }} {{ r is failed }} {{ r is skipped }} {{ r is finished }}", "True True False False True"),
        ("{{ 'https://x.y/z' is url }} {{ 'mailto:a@b' is uri }} {{ 'urn:isbn:1' is urn }} {{ 'x/y' is url }}", "True True True False"),
        ("{{ '1.2.10' is version('1.2.9', '>') }} {{ '1.2.10' is version('1.10', 'lt') }} {{ '2.0' is version('2.0.0', '==') }} {{ '1.0.0-rc1' is version('1.0.0', '<') }}", "True True False False"),
        ("{{ 'web12' is match('web\\d+') }} {{ 'aweb12' is match('web') }} {{ 'aweb12' is search('web') }} {{ 'WEB' is match('web', ignorecase=true) }}", "True False True True"),
    ];
    for (text, expected) in cases {
        assert_eq!(render(text, vars.clone()), expected, "{text}");
    }
}
