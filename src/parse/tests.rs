use super::*;
use crate::error::Diagnostic;
use crate::playbook::{Loop, Task};
use serde_json::json;

/// A playbook written into a fresh directory (kept alive by the returned guard).
fn write(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn load(text: &str) -> Result<Playbook, Vec<Diagnostic>> {
    let dir = write(&[("site.yml", text)]);
    load_playbook(&dir.path().join("site.yml")).map_err(|e| match e {
        Error::Invalid(ds) => ds,
        other => panic!("unexpected error {other:?}"),
    })
}

fn ok(text: &str) -> Playbook {
    load(text).unwrap_or_else(|ds| panic!("{}", ds.iter().map(|d| d.to_string()).collect::<String>()))
}

fn errors(text: &str) -> Vec<Diagnostic> {
    load(text).expect_err("expected errors")
}

fn only_task(text: &str) -> Task {
    let pb = ok(text);
    assert_eq!(pb.plays.len(), 1);
    assert_eq!(pb.plays[0].tasks.len(), 1);
    pb.plays[0].tasks[0].clone()
}

fn at(d: &Diagnostic) -> (usize, usize) {
    let loc = d.location.as_ref().expect("a location");
    (loc.line, loc.col)
}

fn pos(loc: &Location) -> (usize, usize) {
    (loc.line, loc.col)
}

#[test]
fn mapping_arguments_have_their_key_locations() {
    let t = only_task(
        "- hosts: all\n  tasks:\n    - name: conf\n      ansible.builtin.template:\n        src: a.j2\n        dest: /etc/a\n        mode: 0644\n",
    );
    assert_eq!(t.module, "template");
    assert_eq!(pos(&t.module_loc), (4, 7));
    assert_eq!(pos(&t.loc), (3, 7));
    assert_eq!(t.args, json!({"src": "a.j2", "dest": "/etc/a", "mode": 420}));
    assert_eq!(pos(&t.arg_locs["src"]), (5, 9));
    assert_eq!(pos(&t.arg_locs["dest"]), (6, 9));
}

#[test]
fn key_value_string_arguments() {
    let t = only_task(
        "- hosts: all\n  tasks:\n    - yum: name=\"{{ item }}\" state=installed\n      with_items: [a, b]\n",
    );
    assert_eq!(t.module, "yum");
    assert_eq!(t.args, json!({"name": "{{ item }}", "state": "installed"}));
    assert_eq!(pos(&t.arg_locs["name"]), (3, 12));
    assert_eq!(pos(&t.arg_locs["state"]), (3, 30));
    assert_eq!(t.loop_, Some(Loop::WithItems(json!(["a", "b"]))));
}

#[test]
fn free_form_arguments_with_ansible_pairs() {
    let t = only_task(
        "- hosts: all\n  tasks:\n    - name: build\n      command: make install chdir=/src creates=/usr/bin/app\n",
    );
    assert_eq!(
        t.args,
        json!({"_raw_params": "make install", "chdir": "/src", "creates": "/usr/bin/app"})
    );
    assert_eq!(pos(&t.arg_locs["_raw_params"]), (4, 16));
    assert_eq!(pos(&t.arg_locs["chdir"]), (4, 29));

    // A shell line whose words contain `=` stays whole.
    let t = only_task("- hosts: all\n  tasks:\n    - shell: echo a=b | tee /tmp/x\n");
    assert_eq!(t.args, json!({"_raw_params": "echo a=b | tee /tmp/x"}));

    // A block script is kept as written.
    let t = only_task("- hosts: all\n  tasks:\n    - shell: |\n        set -e\n        echo \"x=1\"\n      args:\n        chdir: /tmp\n");
    assert_eq!(
        t.args,
        json!({"_raw_params": "set -e\necho \"x=1\"", "chdir": "/tmp"})
    );
    assert_eq!(pos(&t.arg_locs["chdir"]), (7, 9));
}

#[test]
fn args_keyword_is_overridden_by_inline_arguments() {
    let t = only_task(
        "- hosts: all\n  tasks:\n    - copy: dest=/a\n      args:\n        dest: /b\n        src: x\n",
    );
    assert_eq!(t.args, json!({"dest": "/a", "src": "x"}));
    assert_eq!(pos(&t.arg_locs["src"]), (6, 9));
}

#[test]
fn action_and_local_action_forms() {
    let pb = ok("- hosts: all\n  tasks:\n    - action: shell echo hi chdir=/tmp\n    - local_action: ansible.builtin.command /bin/true\n    - action:\n        module: copy\n        src: a\n        dest: /b\n    - ping:\n");
    let t = &pb.plays[0].tasks;
    assert_eq!(t[0].module, "shell");
    assert_eq!(t[0].args, json!({"_raw_params": "echo hi", "chdir": "/tmp"}));
    assert_eq!(pos(&t[0].module_loc), (3, 15));
    assert_eq!(pos(&t[0].arg_locs["chdir"]), (3, 29));
    assert_eq!(t[0].delegate_to, None);
    assert_eq!(t[1].module, "command");
    assert_eq!(t[1].args, json!({"_raw_params": "/bin/true"}));
    assert_eq!(t[1].delegate_to.as_deref(), Some("localhost"));
    assert_eq!(t[2].module, "copy");
    assert_eq!(t[2].args, json!({"src": "a", "dest": "/b"}));
    assert_eq!(t[3].module, "ping");
    assert_eq!(t[3].args, json!({}));
}

#[test]
fn fqcn_modules_are_canonical() {
    let t = only_task("- hosts: all\n  tasks:\n    - community.general.haproxy:\n        state: disabled\n        host: web1\n");
    assert_eq!(t.module, "haproxy");
}

#[test]
fn yaml11_booleans_versus_quoted_strings() {
    let pb = ok("- hosts: all\n  become: yes\n  gather_facts: Off\n  vars:\n    a: on\n    b: 'on'\n    c: \"no\"\n    d: NO\n    e: 1.10\n  tasks: []\n");
    let p = &pb.plays[0];
    assert_eq!(p.privilege.enabled, Some(true));
    assert!(!p.gather_facts);
    assert_eq!(p.vars["a"], json!(true));
    assert_eq!(p.vars["b"], json!("on"));
    assert_eq!(p.vars["c"], json!("no"));
    assert_eq!(p.vars["d"], json!(false));
    assert_eq!(p.vars["e"], json!(1.1));
}

#[test]
fn play_keywords_and_defaults() {
    let pb = ok("- name: web\n  hosts: [web, db]\n  become_user: deploy\n  max_fail_percentage: 25\n  any_errors_fatal: true\n  force_handlers: yes\n  connection: local\n  strategy: linear\n  tags: deploy\n");
    let p = &pb.plays[0];
    assert_eq!(p.name.as_deref(), Some("web"));
    assert_eq!(p.hosts, "web:db");
    assert!(p.gather_facts);
    assert_eq!(p.privilege.user.as_deref(), Some("deploy"));
    assert_eq!(p.max_fail_percentage, Some(25.0));
    assert!(p.any_errors_fatal && p.force_handlers);
    assert_eq!(p.connection.as_deref(), Some("local"));
    assert!(p.tasks.is_empty());
    assert_eq!(pos(&p.loc), (1, 3));
}

#[test]
fn serial_forms() {
    let serial = |s: &str| {
        ok(&format!("- hosts: all\n  serial: {s}\n")).plays[0]
            .serial
            .clone()
    };
    assert_eq!(serial("1"), [Serial::Count(1)]);
    assert_eq!(serial("\"30%\""), [Serial::Percent(30.0)]);
    assert_eq!(serial("'2'"), [Serial::Count(2)]);
    assert_eq!(
        serial("[1, \"50%\", 100%]"),
        [Serial::Count(1), Serial::Percent(50.0), Serial::Percent(100.0)]
    );
    assert_eq!(serial("\n    - 1\n    - 5"), [Serial::Count(1), Serial::Count(5)]);
}

#[test]
fn bad_serial_is_located() {
    for (bad, col, msg) in [
        ("0%", 11, "`serial: 0%` is out of range"),
        ("-1", 11, "`serial: -1` is negative"),
        ("150%", 11, "`serial: 150%` is out of range"),
        ("[1, -5%]", 15, "`serial: -5%` is out of range"),
        (
            "lots",
            11,
            "`serial: lots` is not a number of hosts or a percentage",
        ),
    ] {
        let ds = errors(&format!("- hosts: all\n  serial: {bad}\n"));
        assert_eq!(ds.len(), 1, "{bad}");
        assert_eq!(ds[0].message, msg);
        assert_eq!(at(&ds[0]), (2, col), "{bad}");
        assert_eq!(
            ds[0].snippet.as_deref(),
            Some(format!("  serial: {bad}").as_str())
        );
    }
}

#[test]
fn misspelt_task_keyword_gets_did_you_mean() {
    let ds = errors("- hosts: all\n  tasks:\n    - name: x\n      shell: echo\n      delegateto: lb\n");
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].message, "unknown keyword `delegateto`");
    assert_eq!(ds[0].hint.as_deref(), Some("did you mean `delegate_to`?"));
    assert_eq!(at(&ds[0]), (5, 7));
    assert_eq!(ds[0].snippet.as_deref(), Some("      delegateto: lb"));
}

#[test]
fn two_modules_in_one_task() {
    let ds = errors("- hosts: all\n  tasks:\n    - shell: a\n      zorg: b\n");
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].message, "unknown keyword `zorg`");
    assert_eq!(ds[0].hint.as_deref(), Some("the module of this task is `shell`"));
    assert_eq!(at(&ds[0]), (4, 7));
}

#[test]
fn task_without_module() {
    let ds = errors("- hosts: all\n  tasks:\n    - name: nothing\n      when: x\n");
    assert_eq!(ds[0].message, "this task has no module");
    assert_eq!(at(&ds[0]), (3, 7));
}

#[test]
fn misspelt_play_keyword_gets_did_you_mean() {
    let ds = errors("- hosts: all\n  pre_task: []\n  gather_fact: no\n");
    assert_eq!(ds.len(), 2);
    assert_eq!(ds[0].message, "unknown play keyword `pre_task`");
    assert_eq!(ds[0].hint.as_deref(), Some("did you mean `pre_tasks`?"));
    assert_eq!(at(&ds[0]), (2, 3));
    assert_eq!(ds[1].hint.as_deref(), Some("did you mean `gather_facts`?"));
    assert_eq!(at(&ds[1]), (3, 3));
}

#[test]
fn unsupported_keywords_say_so_with_location() {
    let ds = errors(
        "- hosts: all\n  roles: [no_such_web]\n  strategy: free\n  tasks:\n    - block:\n        - shell: a\n    - include_role: {name: more}\n    - shell: b\n      with_random_choice: [[a]]\n- import_playbook: other.yml\n",
    );
    let got: Vec<(String, (usize, usize))> = ds.iter().map(|d| (d.message.clone(), at(d))).collect();
    assert_eq!(
        got,
        [
            ("role `no_such_web` not found".to_string(), (2, 11)),
            ("strategy `free` is not supported by zdd yet".to_string(), (3, 13)),
            ("role `more` not found".to_string(), (7, 22)),
            (
                "`with_random_choice` is not supported by zdd yet".to_string(),
                (9, 7)
            ),
            ("playbook `other.yml` not found".to_string(), (10, 20)),
        ]
    );
    assert_eq!(ds[3].hint.as_deref(), Some("use `loop:` with a list"));
}

#[test]
fn include_role_with_a_templated_name_says_so() {
    let ds = errors("- hosts: all\n  tasks:\n    - include_role:\n        name: \"{{ r }}\"\n");
    assert_eq!(ds.len(), 1);
    assert!(ds[0].message.contains("templated role name"), "{}", ds[0].message);
}

#[test]
fn only_sudo_and_su_are_become_methods() {
    let ds = errors(
        "- hosts: all\n  become_method: pbrun\n  tasks:\n    - shell: a\n      become_method: doas\n    \
         - shell: b\n      become_method: su\n",
    );
    assert_eq!(ds.len(), 2);
    assert_eq!(ds[0].message, "`become_method: pbrun` is not supported by zdd");
    assert_eq!(at(&ds[0]), (2, 18));
    assert_eq!(at(&ds[1]), (5, 22));
}

#[test]
fn task_keywords() {
    let pb = ok(r#"- hosts: all
  tasks:
    - name: wait
      uri: url=http://x
      register: r
      until: r.status == 200
      retries: 5
      delay: "{{ d }}"
      when:
        - a
        - "{{ b }}"
        - yes
      notify: restart
      ignore_errors: "{{ lenient }}"
      changed_when: false
      failed_when: r.status >= 500
      loop: "{{ urls }}"
      loop_control:
        loop_var: url
        index_var: i
        label: "{{ url }}"
        pause: 1.5
      delegate_to: lb
      delegate_facts: true
      run_once: yes
      become: true
      become_user: www
      vars: {x: 1}
      tags: [a, "b,c"]
      no_log: true
      check_mode: no
      connection: local
      ignore_unreachable: true
  handlers:
    - name: restart
      service: name=nginx state=restarted
      listen: [web restarted]
      notify: [a, b]
"#);
    let t = &pb.plays[0].tasks[0];
    assert_eq!(t.name.as_deref(), Some("wait"));
    assert_eq!(t.register.as_deref(), Some("r"));
    assert_eq!(t.until.as_deref(), Some("r.status == 200"));
    assert_eq!(t.retries, Some(json!(5)));
    assert_eq!(t.delay, Some(json!("{{ d }}")));
    assert_eq!(t.when, ["a", "b", "True"]);
    assert_eq!(t.notify, ["restart"]);
    assert_eq!(t.ignore_errors, Some(json!("{{ lenient }}")));
    assert_eq!(t.changed_when.as_deref(), Some(&["False".to_string()][..]));
    assert_eq!(
        t.failed_when.as_deref(),
        Some(&["r.status >= 500".to_string()][..])
    );
    assert_eq!(t.loop_, Some(Loop::Loop(json!("{{ urls }}"))));
    assert_eq!(t.loop_control.loop_var, "url");
    assert_eq!(t.loop_control.index_var.as_deref(), Some("i"));
    assert_eq!(t.loop_control.label.as_deref(), Some("{{ url }}"));
    assert_eq!(t.loop_control.pause, Some(1.5));
    assert_eq!(t.delegate_to.as_deref(), Some("lb"));
    assert!(t.delegate_facts && t.run_once && t.no_log && t.ignore_unreachable);
    assert_eq!(t.privilege.enabled, Some(true));
    assert_eq!(t.privilege.user.as_deref(), Some("www"));
    assert_eq!(t.vars["x"], json!(1));
    assert_eq!(t.tags, ["a", "b", "c"]);
    assert_eq!(t.check_mode, Some(false));
    assert_eq!(t.connection.as_deref(), Some("local"));
    assert_eq!(pos(&t.keyword_locs["notify"]), (13, 7));
    let h = &pb.plays[0].handlers[0];
    assert_eq!(h.listen, ["web restarted"]);
    assert_eq!(h.notify, ["a", "b"]);
    assert_eq!(h.args, json!({"name": "nginx", "state": "restarted"}));
}

#[test]
fn keyword_value_errors_are_collected() {
    let ds = errors("- hosts: all\n  tasks:\n    - shell: a\n      listen: x\n      run_once: maybe\n      loop: [1]\n      with_items: [2]\n      loop_control: {loopvar: x}\n      register: 2bad\n");
    let got: Vec<(&str, (usize, usize))> = ds.iter().map(|d| (d.message.as_str(), at(d))).collect();
    assert_eq!(
        got,
        [
            ("`listen` only applies to handlers", (4, 7)),
            ("`run_once` must be true or false, found `maybe`", (5, 17)),
            ("`with_items`: this task already has a loop", (7, 7)),
            ("unknown `loop_control` key `loopvar`", (8, 22)),
            ("`register: 2bad` is not a valid variable name", (9, 17)),
        ]
    );
    assert_eq!(ds[3].hint.as_deref(), Some("did you mean `loop_var`?"));
}

#[test]
fn errors_of_all_plays_are_collected() {
    let ds = errors("- hosts: a\n  taks: []\n- hosts: b\n  serial: 0%\n- just a string\n");
    assert_eq!(ds.len(), 3);
    assert_eq!(at(&ds[0]), (2, 3));
    assert_eq!(at(&ds[1]), (4, 11));
    assert_eq!(ds[2].message, "a play must be a mapping, found a scalar");
    assert_eq!(at(&ds[2]), (5, 3));
}

#[test]
fn yaml_syntax_error_is_invalid_with_location() {
    let ds = errors("- hosts: all\n  tasks:\n    - shell: \"unterminated\n");
    assert_eq!(ds.len(), 1);
    assert!(ds[0].message.starts_with("invalid YAML"), "{}", ds[0].message);
    assert_eq!(
        ds[0].location.as_ref().unwrap().file.file_name().unwrap(),
        "site.yml"
    );
}

#[test]
fn missing_playbook_is_invalid() {
    let e = load_playbook(Path::new("/nonexistent/site.yml")).unwrap_err();
    assert_eq!(e.exit_code(), crate::error::exit::INVALID);
}

#[test]
fn vars_files_merge_in_order_over_play_vars() {
    let dir = write(&[
        ("site.yml", "- hosts: all\n  vars: {a: play, b: play, c: play}\n  vars_files:\n    - vars/one.yml\n    - vars/two.yml\n"),
        ("vars/one.yml", "a: one\nb: one\n"),
        ("vars/two.yml", "{\"b\": \"two\", \"n\": 3}\n"),
    ]);
    let pb = load_playbook(&dir.path().join("site.yml")).unwrap();
    let p = &pb.plays[0];
    assert_eq!(
        serde_json::to_value(&p.vars).unwrap(),
        json!({"a": "one", "b": "two", "c": "play", "n": 3})
    );
    assert_eq!(
        p.vars_files,
        [dir.path().join("vars/one.yml"), dir.path().join("vars/two.yml")]
    );
    assert_eq!(pb.dir, dir.path());
}

#[test]
fn vars_file_problems_name_their_file() {
    let dir = write(&[
        ("site.yml", "- hosts: all\n  vars_files: [missing.yml, bad.yml]\n"),
        ("bad.yml", "a: 1\nb: [\n"),
    ]);
    let Err(Error::Invalid(ds)) = load_playbook(&dir.path().join("site.yml")) else {
        panic!()
    };
    assert_eq!(ds.len(), 2);
    assert_eq!(ds[0].message, "vars file `missing.yml` not found");
    assert_eq!(at(&ds[0]), (2, 16));
    let loc = ds[1].location.as_ref().unwrap();
    assert_eq!(loc.file.as_ref(), &dir.path().join("bad.yml"));
    assert_eq!(loc.line, 3);
}

#[test]
fn extra_vars_forms() {
    let kv = parse_extra_vars("version=1.2 name='my app' on=yes").unwrap();
    assert_eq!(
        serde_json::to_value(&kv).unwrap(),
        json!({"version": "1.2", "name": "my app", "on": "yes"})
    );
    let j = parse_extra_vars(r#"{"n": 3, "list": [1, 2], "ok": true}"#).unwrap();
    assert_eq!(
        serde_json::to_value(&j).unwrap(),
        json!({"n": 3, "list": [1, 2], "ok": true})
    );
    let y = parse_extra_vars("n: 3\nflag: yes").unwrap();
    assert_eq!(serde_json::to_value(&y).unwrap(), json!({"n": 3, "flag": true}));

    let dir = write(&[("extra.yml", "release: v2\nweights: {a: 1}\n")]);
    let f = parse_extra_vars(&format!("@{}", dir.path().join("extra.yml").display())).unwrap();
    assert_eq!(
        serde_json::to_value(&f).unwrap(),
        json!({"release": "v2", "weights": {"a": 1}})
    );
}

#[test]
fn bad_extra_vars_are_invalid() {
    let Err(Error::Invalid(ds)) = parse_extra_vars("{\"a\": ") else {
        panic!()
    };
    assert!(ds[0].message.starts_with("invalid YAML"));
    assert!(ds[0].hint.as_deref().unwrap().contains("key=value"));
    assert!(matches!(parse_extra_vars("just words"), Err(Error::Invalid(_))));

    let dir = write(&[("bad.yml", "a: 1\n- b\n")]);
    let Err(Error::Invalid(ds)) = parse_extra_vars(&format!("@{}", dir.path().join("bad.yml").display()))
    else {
        panic!()
    };
    let loc = ds[0].location.as_ref().unwrap();
    assert_eq!(loc.file.as_ref(), &dir.path().join("bad.yml"));
    assert_eq!(loc.line, 2);
    assert!(matches!(
        parse_extra_vars("@/nonexistent.yml"),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn block_children_inherit_when_vars_and_tags() {
    let src = "- hosts: all\n  tags: play\n  tasks:\n    - block:\n        - shell: a\n          when: y\n          vars: {v: task}\n      rescue:\n        - shell: b\n      always:\n        - shell: c\n      when: x\n      vars: {v: block, w: block}\n      tags: [t]\n      become: true\n";
    let pb = ok(src);
    let task = &pb.plays[0].tasks[0];
    assert_eq!(task.module, "block");
    let block = task.block.as_ref().expect("a block");
    let a = &block.tasks[0];
    assert_eq!(a.when, ["x", "y"]);
    assert_eq!(a.vars["v"], json!("task"));
    assert_eq!(a.vars["w"], json!("block"));
    assert_eq!(a.tags, ["t", "play"]);
    assert_eq!(a.privilege.enabled, Some(true));
    assert_eq!(block.rescue[0].when, ["x"]);
    assert_eq!(block.always[0].module, "shell");
    assert_eq!(crate::playbook::flatten(&pb.plays[0].tasks).len(), 3);
}

#[test]
fn block_keyword_errors_are_located() {
    let ds = errors("- hosts: all\n  tasks:\n    - block:\n        - shell: a\n      register: r\n    - shell: b\n      rescue: []\n");
    let got: Vec<(String, (usize, usize))> = ds.iter().map(|d| (d.message.clone(), at(d))).collect();
    assert_eq!(
        got,
        [
            ("`register` is not a block keyword".to_string(), (5, 7)),
            ("`rescue` without a `block`".to_string(), (7, 7)),
        ]
    );
}

#[test]
fn include_tasks_keeps_its_own_keywords_apart_from_its_blocks() {
    let t = only_task(
        "- hosts: all\n  tags: [play]\n  tasks:\n    - block:\n        - include_tasks:\n            file: x.yml\n            apply:\n              tags: [applied]\n              become: true\n          when: a\n          vars: {own: 1}\n      when: outer\n      vars: {blockvar: 2}\n",
    );
    let inner = &t.block.as_ref().unwrap().tasks[0];
    assert_eq!(inner.module, "include_tasks");
    // The include itself is selected by everything around it...
    assert_eq!(inner.when, ["outer", "a"]);
    let include = inner.include.as_ref().unwrap();
    // ...its tasks take only the blocks' and the play's keywords, and `apply`.
    assert_eq!(include.vars.keys().collect::<Vec<_>>(), ["own"]);
    assert_eq!(include.parents.when, ["outer"]);
    assert!(include.parents.vars.contains_key("blockvar"));
    assert_eq!(include.parents.tags, ["play"]);
    let apply = include.apply.as_ref().unwrap();
    assert_eq!(apply.tags, ["applied"]);
    assert_eq!(apply.privilege.enabled, Some(true));
}

#[test]
fn apply_takes_block_keywords_only() {
    let ds = errors("- hosts: all\n  tasks:\n    - include_tasks:\n        file: x.yml\n        apply:\n          regsiter: r\n");
    assert_eq!(ds[0].message, "`regsiter` is not a keyword `apply` takes");
    assert_eq!(at(&ds[0]), (6, 11));
}

fn load_files(files: &[(&str, &str)]) -> Result<Playbook, Vec<Diagnostic>> {
    let dir = write(files);
    let site = dir.path().join("site.yml");
    let cwd_free = load_playbook(&site);
    drop(dir);
    cwd_free.map_err(|e| match e {
        Error::Invalid(ds) => ds,
        other => panic!("unexpected error {other:?}"),
    })
}

#[test]
fn import_tasks_expands_in_place_with_the_statement_keywords() {
    let pb = load_files(&[
        (
            "site.yml",
            "- hosts: all\n  tasks:\n    - debug: msg=one\n    - import_tasks: tasks/a.yml\n      when: go\n      tags: t1\n      vars: {x: 1}\n    - ansible.builtin.import_tasks:\n        file: tasks/b.yml\n",
        ),
        ("tasks/a.yml", "- name: in a\n  debug: msg=a\n  when: also\n- import_tasks: b.yml\n"),
        ("tasks/b.yml", "- name: in b\n  debug: msg=b\n"),
    ])
    .unwrap_or_else(|ds| panic!("{ds:?}"));
    let tasks = &pb.plays[0].tasks;
    let names: Vec<String> = tasks.iter().map(|t| t.display_name()).collect();
    assert_eq!(names, ["debug", "in a", "in b", "in b"]);
    assert_eq!(tasks[1].when, ["go", "also"]);
    assert_eq!(tasks[1].tags, ["t1"]);
    assert_eq!(tasks[2].when, ["go"]);
    assert_eq!(tasks[2].vars.get("x"), Some(&json!(1)));
    assert!(tasks[3].when.is_empty());
    assert_eq!(tasks[2].origin.frames().len(), 2);
}

#[test]
fn a_problem_in_an_imported_file_names_the_chain() {
    let ds = load_files(&[
        ("site.yml", "- hosts: all\n  tasks:\n    - import_tasks: a.yml\n"),
        ("a.yml", "- import_tasks: b.yml\n"),
        ("b.yml", "- debug: msg=b\n  bogus: 1\n"),
    ])
    .unwrap_err();
    assert_eq!(ds.len(), 1);
    assert!(ds[0].location.as_ref().unwrap().file.ends_with("b.yml"));
    let chain: Vec<(String, usize, usize)> = ds[0]
        .chain
        .iter()
        .map(|l| {
            (
                l.file.file_name().unwrap().to_string_lossy().into_owned(),
                l.line,
                l.col,
            )
        })
        .collect();
    assert_eq!(chain, [("a.yml".into(), 1, 3), ("site.yml".into(), 3, 7)]);
}

#[test]
fn import_loops_bare_include_and_missing_files_are_errors() {
    let ds = load_files(&[
        (
            "site.yml",
            "- hosts: all\n  tasks:\n    - import_tasks: a.yml\n    - include: a.yml\n    - import_tasks: nope.yml\n    - import_tasks: a.yml\n      loop: [1]\n",
        ),
        ("a.yml", "- import_tasks: a.yml\n"),
    ])
    .unwrap_err();
    let messages: Vec<&str> = ds.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert!(messages[0].contains("imports itself"), "{messages:?}");
    assert!(messages[1].contains("removed in ansible-core 2.16"));
    assert!(messages[2].contains("`nope.yml` not found"));
    assert!(messages[3].contains("loops on `import_tasks`"));
}

#[test]
fn remote_user_port_environment_pass_from_play_and_block_to_tasks() {
    let pb = ok("- hosts: all\n  remote_user: deploy\n  port: 2222\n  environment: {A: play, B: play}\n  no_log: true\n  tasks:\n    - block:\n        - shell: a\n          environment: {A: task}\n          remote_user: other\n      environment: {B: block}\n      port: 22\n  handlers:\n    - name: h\n      shell: b\n");
    let play = &pb.plays[0];
    let block = play.tasks[0].block.as_ref().unwrap();
    let task = &block.tasks[0];
    assert_eq!(task.run.remote_user.as_deref(), Some("other"));
    assert_eq!(task.run.port.as_deref(), Some("22"));
    assert_eq!(
        task.run.environment,
        [
            json!({"A": "play", "B": "play"}),
            json!({"B": "block"}),
            json!({"A": "task"})
        ]
    );
    assert!(task.no_log);
    let handler = &play.handlers[0];
    assert_eq!(handler.run.remote_user.as_deref(), Some("deploy"));
    assert!(handler.no_log);
}

#[test]
fn removed_sudo_keywords_say_what_replaced_them() {
    let ds = errors("- hosts: all\n  sudo: yes\n  tasks:\n    - shell: a\n      sudo_user: root\n");
    let got: Vec<(String, Option<String>)> = ds.iter().map(|d| (d.message.clone(), d.hint.clone())).collect();
    assert_eq!(
        got,
        [
            (
                "`sudo` was removed from Ansible: ansible-core refuses it as well".to_string(),
                Some("write `become: true` (zdd becomes through sudo)".to_string())
            ),
            (
                "`sudo_user` was removed from Ansible: ansible-core refuses it as well".to_string(),
                Some("write `become_user: USER` (with `become: true`)".to_string())
            ),
        ]
    );
}

#[test]
fn module_defaults_fill_arguments_the_task_leaves_unset() {
    let pb = ok("- hosts: all\n  module_defaults:\n    shell: {chdir: /srv, creates: /x}\n    ansible.builtin.command: {chdir: /}\n  tasks:\n    - ansible.builtin.shell: echo hi\n      args: {creates: /y}\n    - block:\n        - command: ls\n      module_defaults:\n        command: {chdir: /tmp}\n");
    let play = &pb.plays[0];
    assert_eq!(
        play.tasks[0].args,
        json!({"_raw_params": "echo hi", "creates": "/y", "chdir": "/srv"})
    );
    let inner = &play.tasks[1].block.as_ref().unwrap().tasks[0];
    assert_eq!(inner.args, json!({"_raw_params": "ls", "chdir": "/tmp"}));
    let ds = errors("- hosts: all\n  module_defaults: \"{{ d }}\"\n  tasks: []\n- hosts: all\n  module_defaults:\n    group/awss: {region: x}\n  tasks: []\n");
    assert!(
        ds[0]
            .message
            .starts_with("The field 'module_defaults' is supposed to be a dictionary"),
        "{}",
        ds[0].message
    );
    assert_eq!(
        ds[1].message,
        "Error loading module_defaults: could not resolve the module_defaults group awss"
    );
    assert_eq!(ds[1].hint.as_deref(), Some("did you mean `aws`?"));
}

#[test]
fn core_actions_are_known_by_their_full_names() {
    // ansible.builtin.X and ansible.legacy.X are the action X: a module zdd has, or a
    // keyword-like action (never "unknown module").
    let pb = ok(
        "- hosts: all\n  tasks:\n    - ansible.legacy.shell: echo hi\n    - ansible.builtin.debug: msg=hi\n",
    );
    assert_eq!(pb.plays[0].tasks[0].module, "shell");
    assert_eq!(pb.plays[0].tasks[1].module, "debug");
    for action in ["import_tasks", "include_tasks", "import_role", "include_role"] {
        for prefix in ["ansible.builtin.", "ansible.legacy."] {
            let text = format!("- hosts: all\n  tasks:\n    - {prefix}{action}: x.yml\n");
            match load(&text) {
                // Read as the action itself: supported, or refused by its own name.
                Err(ds) => {
                    for d in ds {
                        assert!(!d.message.contains("unknown"), "{prefix}{action}: {}", d.message);
                        assert!(
                            d.message.contains(action) || d.message.contains("x.yml"),
                            "{}",
                            d.message
                        );
                    }
                }
                // Not left to the validator as an unknown module.
                Ok(pb) => {
                    for task in crate::playbook::flatten(&pb.plays[0].tasks) {
                        assert!(
                            crate::modules::registry().get(&task.module).is_some(),
                            "{prefix}{action} became an unknown module `{}`",
                            task.module
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn templated_flags_of_a_play_or_block_pass_down_as_templates() {
    let pb = ok("- hosts: all\n  no_log: \"{{ quiet }}\"\n  tasks:\n    - block:\n        - shell: a\n        - shell: b\n          run_once: false\n      run_once: \"{{ once }}\"\n");
    let block = pb.plays[0].tasks[0].block.as_ref().unwrap();
    let (a, b) = (&block.tasks[0], &block.tasks[1]);
    assert_eq!(
        a.templated("run_once").map(|t| t.value.clone()),
        Some(json!("{{ once }}"))
    );
    assert_eq!(
        a.templated("no_log").map(|t| t.value.clone()),
        Some(json!("{{ quiet }}"))
    );
    // A flag the task writes itself wins over the block's template.
    assert!(b.templated("run_once").is_none());
    assert!(!b.run_once);
}
