use super::*;
use crate::parse::load_playbook;
use serde_json::json;

/// A stand-in for the templater: the names of a template's `{{ }}` blocks, or of an
/// expression, that are not attributes, filters, tests or literals.
struct Names;

fn names_in(expr: &str) -> BTreeSet<String> {
    let no_strings = regex::Regex::new(r#"'[^']*'|"[^"]*""#)
        .unwrap()
        .replace_all(expr, "''");
    let word = regex::Regex::new(r"([.|]\s*|\bis\s+)?\b([A-Za-z_]\w*)").unwrap();
    word.captures_iter(&no_strings)
        .filter(|c| c.get(1).is_none())
        .map(|c| c[2].to_string())
        .filter(|w| {
            ![
                "and", "or", "not", "in", "is", "true", "false", "True", "False", "none",
            ]
            .contains(&w.as_str())
        })
        .collect()
}

impl ReadsVariables for Names {
    fn template(&self, text: &str) -> Result<BTreeSet<String>, TemplateError> {
        let mut out = BTreeSet::new();
        for block in text.split("{{").skip(1) {
            let Some((inner, _)) = block.split_once("}}") else {
                return Err(TemplateError {
                    message: "unexpected end of template".into(),
                    undefined: None,
                });
            };
            out.extend(names_in(inner));
        }
        Ok(out)
    }

    fn expression(&self, expr: &str) -> Result<BTreeSet<String>, TemplateError> {
        Ok(names_in(expr))
    }
}

fn setup(files: &[(&str, &str)]) -> (tempfile::TempDir, Playbook) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let pb = load_playbook(&dir.path().join("site.yml")).unwrap();
    (dir, pb)
}

fn inventory(names: &[&str]) -> PlayInventory {
    PlayInventory {
        has_hosts: true,
        var_names: names.iter().map(|s| s.to_string()).collect(),
    }
}

/// The diagnostics other than "unknown module" (the registry may be empty in this branch).
fn problems(pb: &Playbook, inv: &[PlayInventory], extra: &VarMap) -> Vec<Diagnostic> {
    check(pb, inv, extra, &Names)
        .into_iter()
        .filter(|d| !d.message.starts_with("unknown module"))
        .collect()
}

fn at(d: &Diagnostic) -> (usize, usize) {
    let l = d.location.as_ref().unwrap();
    (l.line, l.col)
}

#[test]
fn notify_must_name_a_handler_of_the_play() {
    let (_d, pb) = setup(&[(
        "site.yml",
        "- hosts: web\n  tasks:\n    - shell: a\n      notify: restart ngnix\n    - shell: b\n      notify: [web changed, Restart nginx]\n  handlers:\n    - name: Restart nginx\n      service: name=nginx state=restarted\n    - name: reload\n      shell: c\n      listen: web changed\n- hosts: lb\n  tasks:\n    - shell: d\n      notify: Restart nginx\n",
    )]);
    let ds = problems(&pb, &[inventory(&[]), inventory(&[])], &VarMap::new());
    let got: Vec<_> = ds
        .iter()
        .map(|d| (d.message.as_str(), at(d), d.hint.clone().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "`notify: restart ngnix` names no handler of this play",
                (4, 7),
                "did you mean `Restart nginx`?".to_string()
            ),
            (
                "`notify: Restart nginx` names no handler of this play",
                (16, 7),
                "this play has no handlers: add one under `handlers:`".to_string()
            ),
        ]
    );
    assert_eq!(ds[0].snippet.as_deref(), Some("      notify: restart ngnix"));
}

#[test]
fn undefined_variable_is_reported_where_it_is_used() {
    let (_d, pb) = setup(&[(
        "site.yml",
        "- hosts: web\n  vars:\n    port: 80\n  tasks:\n    - name: use {{ port }} and {{ inventory_hostname }}\n      shell: echo {{ root }} {{ prot }}\n      delegate_to: \"{{ lb_host }}\"\n      when: ansible_os_family == 'Debian' and enabled\n",
    )]);
    let ds = problems(&pb, &[inventory(&["root"])], &VarMap::new());
    let got: Vec<_> = ds.iter().map(|d| (d.message.as_str(), at(d))).collect();
    assert_eq!(
        got,
        [
            (
                "undefined variable `prot` in task `use {{ port }} and {{ inventory_hostname }}`",
                (6, 33)
            ),
            (
                "undefined variable `lb_host` in task `use {{ port }} and {{ inventory_hostname }}`",
                (7, 24)
            ),
            (
                "undefined variable `enabled` in task `use {{ port }} and {{ inventory_hostname }}`",
                (8, 47)
            ),
        ]
    );
    assert!(ds[0]
        .hint
        .as_deref()
        .unwrap()
        .starts_with("did you mean `port`? otherwise define `prot` in the inventory"));
    assert!(ds[1].hint.as_deref().unwrap().contains("-e lb_host=..."));
}

#[test]
fn variables_from_every_source_are_defined() {
    let (_d, pb) = setup(&[
        (
            "site.yml",
            "- hosts: web\n  gather_facts: true\n  vars_files: [v.yml]\n  tasks:\n    - shell: echo {{ from_file }} {{ from_extra }} {{ from_inventory }} {{ ansible_user }} {{ ansible_hostname }} {{ hostvars[inventory_hostname] }}\n      register: out\n    - set_fact:\n        computed: \"{{ out.stdout }}\"\n    - shell: echo {{ item }} {{ i }} {{ computed }} {{ local }}\n      loop: \"{{ groups['web'] }}\"\n      loop_control: {index_var: i}\n      vars: {local: 1}\n- hosts: lb\n  gather_facts: no\n  tasks:\n    - debug: msg={{ computed }}\n    - debug: var=never_defined\n",
        ),
        ("v.yml", "from_file: 1\n"),
    ]);
    let extra = VarMap::from([("from_extra".to_string(), json!("x"))]);
    let ds = problems(&pb, &[inventory(&["from_inventory"]), inventory(&[])], &extra);
    assert!(ds.is_empty(), "{ds:#?}");
}

#[test]
fn loop_variable_only_inside_looped_tasks() {
    let (_d, pb) = setup(&[(
        "site.yml",
        "- hosts: web\n  gather_facts: no\n  tasks:\n    - shell: echo {{ item }}\n    - shell: echo {{ host }}\n      with_items: \"{{ host }}\"\n      loop_control: {loop_var: host}\n",
    )]);
    let ds = problems(&pb, &[inventory(&[])], &VarMap::new());
    let got: Vec<_> = ds.iter().map(|d| (d.message.as_str(), at(d))).collect();
    assert_eq!(
        got,
        [
            ("undefined variable `item` in task `shell`", (4, 22)),
            // The list is read before the loop variable exists.
            ("undefined variable `host` in task `shell`", (6, 23)),
        ]
    );
}

#[test]
fn plays_without_hosts_skip_undefined_checks_but_not_syntax() {
    let (_d, pb) = setup(&[(
        "site.yml",
        "- hosts: nothing\n  tasks:\n    - shell: echo {{ whatever }}\n    - shell: echo {{ broken\n",
    )]);
    let inv = PlayInventory {
        has_hosts: false,
        var_names: BTreeSet::new(),
    };
    let ds = problems(&pb, &[inv], &VarMap::new());
    assert_eq!(ds.len(), 1);
    assert_eq!(
        ds[0].message,
        "invalid template in task `shell`: unexpected end of template"
    );
    assert_eq!(at(&ds[0]), (4, 14));
}

#[test]
fn template_files_are_checked_with_their_own_lines() {
    let (_d, pb) = setup(&[
        (
            "site.yml",
            "- hosts: web\n  tasks:\n    - name: conf\n      template: src=nginx.conf.j2 dest=/etc/nginx.conf\n    - template: src=bad.j2 dest=/x\n",
        ),
        ("templates/nginx.conf.j2", "user nginx;\n# {{ port }} in a comment line\nlisten {{ http_port }};\n{% if worker_count %}x{% endif %}\n"),
        ("templates/bad.j2", "a\n{{ oops\n"),
    ]);
    let ds = problems(&pb, &[inventory(&["port"])], &VarMap::new());
    let got: Vec<_> = ds
        .iter()
        .map(|d| {
            (
                d.message.as_str(),
                d.location
                    .as_ref()
                    .unwrap()
                    .file
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned(),
                at(d),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "undefined variable `http_port` in task `conf`",
                "nginx.conf.j2".to_string(),
                (3, 11)
            ),
            (
                "invalid template `bad.j2`: unexpected end of template",
                "bad.j2".to_string(),
                (1, 1)
            ),
        ]
    );
    assert_eq!(ds[0].snippet.as_deref(), Some("listen {{ http_port }};"));
}

#[test]
fn unknown_module_gets_a_hint() {
    let (_d, pb) = setup(&[("site.yml", "- hosts: web\n  tasks:\n    - shel: echo hello\n")]);
    let ds = check(&pb, &[inventory(&[])], &VarMap::new(), &Names);
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].message, "unknown module `shel`");
    assert_eq!(at(&ds[0]), (3, 7));
    assert_eq!(ds[0].hint.as_deref(), Some("did you mean `shell`?"));
}

#[test]
fn first_use_and_error_line() {
    assert_eq!(first_use("port\n{{ a }} {{ port }}\n", "port"), (2, 12));
    assert_eq!(first_use("{% for x in\n   ports %}", "ports"), (2, 4));
    assert_eq!(error_line("syntax error: unexpected end (in bad.j2:7)"), Some(7));
    assert_eq!(error_line("no line here"), None);
}

#[test]
fn a_template_that_is_not_utf8_is_refused_at_its_first_bad_byte() {
    let (dir, pb) = setup(&[(
        "site.yml",
        "- hosts: web\n  tasks:\n    - template: src=latin1.j2 dest=/x\n",
    )]);
    std::fs::create_dir_all(dir.path().join("templates")).unwrap();
    std::fs::write(
        dir.path().join("templates/latin1.j2"),
        b"ok line\ncaf\xe9 {{ x }}\n",
    )
    .unwrap();
    let ds = problems(&pb, &[inventory(&["x"])], &VarMap::new());
    assert_eq!(ds.len(), 1, "{ds:?}");
    assert_eq!(
        ds[0].message,
        "template `latin1.j2` is not UTF-8 text (invalid byte at line 2, column 4)"
    );
    assert_eq!(at(&ds[0]), (2, 4));
}

/// The regressions of issue 10: valid playbooks the check used to refuse. Read with the
/// real templater.
mod sound {
    use super::*;

    fn real_problems(files: &[(&str, &str)], extra: &VarMap) -> Vec<String> {
        let (_d, pb) = setup(files);
        check(&pb, &[inventory(&[])], extra, &Templater::new())
            .into_iter()
            .map(|d| d.message)
            .collect()
    }

    fn play(tasks: &str) -> String {
        format!("- hosts: all\n  gather_facts: false\n  tasks:\n{tasks}")
    }

    #[test]
    fn when_is_defined_on_the_task_guards_it() {
        let pb = play(
            "    - debug: msg=\"{{ x }}\"\n      when: x is defined\n    - debug: msg=\"{{ y.z }}\"\n      when: y is defined and y.z > 1\n    - debug: msg=\"{{ w }}\"\n      when: [w is not undefined, w != 0]\n",
        );
        assert_eq!(
            real_problems(&[("site.yml", &pb)], &VarMap::new()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn when_is_defined_on_a_block_guards_its_tasks() {
        let pb = play(
            "    - block:\n        - debug: msg=\"{{ y }}\"\n        - block:\n            - debug: msg=\"{{ y }}\"\n      when: y is defined\n",
        );
        assert_eq!(
            real_problems(&[("site.yml", &pb)], &VarMap::new()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn an_unguarded_variable_is_still_reported() {
        let pb = play("    - debug: msg=\"{{ x }}\"\n      when: y is defined\n");
        let found = real_problems(&[("site.yml", &pb)], &VarMap::new());
        assert_eq!(found, ["undefined variable `x` in task `debug`"]);
    }

    #[test]
    fn a_template_branch_that_may_not_run_reads_nothing_for_certain() {
        let pb = play("    - template: src=t.j2 dest=/tmp/t\n");
        let tpl = "{% if inventory_hostname in groups.lbservers %}\nlisten {{ lb_port }}\n{% else %}{{ other }}{% endif %}\n{{ a if flag is defined else 1 }}\n{{ always }}\n";
        let found = real_problems(&[("site.yml", &pb), ("templates/t.j2", tpl)], &VarMap::new());
        assert_eq!(found, ["undefined variable `always` in task `template`"]);
    }

    #[test]
    fn jinja_and_ansible_globals_are_no_variables() {
        let pb = play("    - template: src=t.j2 dest=/tmp/t\n    - debug: msg=\"{{ lookup('env', 'HOME') }} {{ query('env', 'HOME') }} {{ q('env', 'HOME') }}\"\n");
        let tpl = "{{ now() }} {{ now(utc=true, fmt='%Y') }} {{ range(3) | list }} {{ lipsum(1) }}\n{{ dict(a=1) }} {% set ns = namespace(n=0) %}{{ ns.n }} {{ cycler(1, 2) }} {{ joiner(',') }} {{ undef() | default(1) }}\n";
        let found = real_problems(&[("site.yml", &pb), ("templates/t.j2", tpl)], &VarMap::new());
        assert_eq!(found, Vec::<String>::new());
    }

    #[test]
    fn a_task_name_is_rendered_as_best_it_can() {
        let pb = play("    - name: \"Deploy {{ release }}\"\n      debug: msg=hi\n    - name: \"{{ broken\"\n      debug: msg=hi\n");
        let found = real_problems(&[("site.yml", &pb)], &VarMap::new());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("invalid template in task"), "{found:?}");
    }

    #[test]
    fn templated_keywords_parse_and_their_variables_are_checked() {
        let pb = "- hosts: all\n  gather_facts: \"{{ facts | default(false) }}\"\n  force_handlers: \"{{ fh | default(true) }}\"\n  any_errors_fatal: \"{{ aef | default(false) }}\"\n  become: \"{{ admin | default(false) }}\"\n  tasks:\n    - debug: msg=hi\n      no_log: \"{{ quiet }}\"\n      run_once: \"{{ once | default(false) }}\"\n      check_mode: \"{{ dry | default(false) }}\"\n      delegate_facts: \"{{ df | default(false) }}\"\n      ignore_unreachable: \"{{ iu | default(false) }}\"\n      any_errors_fatal: \"{{ aef | default(false) }}\"\n      become_user: \"{{ app_user | default('root') }}\"\n    - block:\n        - debug: msg=hi\n      become: \"{{ root_please }}\"\n";
        let found = real_problems(&[("site.yml", pb)], &VarMap::new());
        assert_eq!(
            found,
            [
                "undefined variable `quiet` in task `debug`",
                "undefined variable `root_please` in task `debug`"
            ]
        );
        let given = VarMap::from([
            ("quiet".into(), json!(true)),
            ("root_please".into(), json!("yes")),
        ]);
        assert_eq!(real_problems(&[("site.yml", pb)], &given), Vec::<String>::new());
    }

    #[test]
    fn a_non_breaking_space_inside_braces_is_whitespace() {
        let pb = play("    - debug: msg=\"{{\u{a0}x\u{a0}}}\"\n      when: x\u{a0}is defined\n");
        assert_eq!(
            real_problems(&[("site.yml", &pb)], &VarMap::new()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn documented_aliases_fqcn_and_mode_preserve_are_accepted() {
        let pb = play(
            "    - apt:\n        name: nginx\n        update-cache: true\n        install-recommends: false\n    - ansible.builtin.apt: pkg=nginx update_cache=yes\n    - ansible.legacy.dnf: name=nginx expire-cache=true\n    - ansible.builtin.systemd: unit=nginx state=started daemon-reload=true\n    - ansible.legacy.copy: src=site.yml dest=/tmp/x mode=preserve\n    - ansible.builtin.template: src=t.j2 dest=/tmp/t mode=preserve\n    - ansible.legacy.file: path=/tmp/x mode=preserve\n    - ansible.legacy.shell: echo hi\n",
        );
        let found = real_problems(&[("site.yml", &pb), ("templates/t.j2", "hi\n")], &VarMap::new());
        assert_eq!(found, Vec::<String>::new());
    }
}
