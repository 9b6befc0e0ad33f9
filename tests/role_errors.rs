//! What users see for a broken role or import: `zdd check` refuses it with exit 5, at the
//! file and line of the problem, with the chain of statements that led there
//! (`included from site.yml:4:7`). Snapshots of the exact text.

mod support;

use support::Zdd;

/// `zdd check site.yml -i hosts.ini` in a directory holding `files`, with an
/// `ansible.cfg` whose `roles_path` is `shared_roles` (so the places searched for a role
/// are the same on every machine).
fn check(files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec![
        ("hosts.ini", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        ("ansible.cfg", "[defaults]\nroles_path = shared_roles\n"),
    ];
    all.extend_from_slice(files);
    for (name, text) in all {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    Zdd::new()
        .check("site.yml")
        .inventory("hosts.ini")
        .current_dir(dir.path())
        .env_remove("ANSIBLE_CONFIG")
        .env_remove("ANSIBLE_ROLES_PATH")
        .run()
        .redacted()
}

const PLAY: &str = "- hosts: web\n  gather_facts: false\n  roles:\n    - common\n";

#[test]
fn missing_role_lists_the_places_searched() {
    insta::assert_snapshot!(check(&[(
        "site.yml",
        "- hosts: web\n  roles:\n    - comon\n    - role: acme.tools.proxy\n"
    )]));
}

#[test]
fn missing_tasks_from_file() {
    insta::assert_snapshot!(check(&[
        (
            "site.yml",
            "- hosts: web\n  tasks:\n    - import_role:\n        name: common\n        tasks_from: install\n"
        ),
        ("roles/common/tasks/main.yml", "- debug: msg=hi\n"),
    ]));
}

#[test]
fn bad_meta_is_located_in_the_meta_file() {
    insta::assert_snapshot!(check(&[
        ("site.yml", PLAY),
        ("roles/common/meta/main.yml", "dependencies: base\n"),
        ("roles/common/tasks/main.yml", "- debug: msg=hi\n"),
    ]));
}

#[test]
fn dependency_cycle_names_the_roles() {
    insta::assert_snapshot!(check(&[
        ("site.yml", PLAY),
        ("roles/common/meta/main.yml", "dependencies:\n  - role: web\n"),
        ("roles/web/meta/main.yml", "dependencies:\n  - common\n"),
    ]));
}

#[test]
fn a_problem_in_a_role_task_shows_the_chain() {
    insta::assert_snapshot!(check(&[
        ("site.yml", PLAY),
        ("roles/common/meta/main.yml", "dependencies:\n  - role: base\n"),
        ("roles/base/tasks/main.yml", "- import_tasks: setup.yml\n"),
        (
            "roles/base/tasks/setup.yml",
            "- name: Install\n  shell: echo {{ undefined_thing }}\n  delegateto: lb\n"
        ),
    ]));
}

#[test]
fn bad_yaml_inside_an_imported_file_shows_the_chain() {
    insta::assert_snapshot!(check(&[
        ("site.yml", "- import_playbook: plays/web.yml\n"),
        (
            "plays/web.yml",
            "- hosts: web\n  tasks:\n    - import_tasks: tasks/main.yml\n"
        ),
        ("plays/tasks/main.yml", "- name: broken\n  shell: [unclosed\n"),
    ]));
}

#[test]
fn bare_include_says_which_to_use() {
    insta::assert_snapshot!(check(&[(
        "site.yml",
        "- include: other.yml\n- hosts: web\n  tasks:\n    - include: tasks.yml\n"
    )]));
}

#[test]
fn role_variables_are_defined_for_the_static_check() {
    insta::assert_snapshot!(check(&[
        (
            "site.yml",
            "- hosts: web\n  gather_facts: false\n  roles:\n    - role: common\n      http_port: 80\n  tasks:\n    - debug: msg=\"{{ exported_default }} {{ only_in_role }}\"\n"
        ),
        ("roles/common/defaults/main.yml", "exported_default: 1\n"),
        ("roles/common/vars/main/a.yml", "only_in_role: 2\n"),
        (
            "roles/common/tasks/main.yml",
            "- debug: msg=\"{{ exported_default }} {{ only_in_role }} {{ http_port }} {{ role_name }}\"\n"
        ),
    ]));
}

/// Roles are found through `roles_path` of `./ansible.cfg` (relative to it), and
/// through `ANSIBLE_ROLES_PATH`, which wins over the file.
#[test]
fn roles_path_comes_from_ansible_cfg_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("hosts.ini", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        ("ansible.cfg", "[defaults]\nroles_path = shared_roles:~/nowhere\n"),
        (
            "site.yml",
            "- hosts: web\n  gather_facts: false\n  roles: [shared]\n",
        ),
        (
            "shared_roles/shared/tasks/main.yml",
            "- name: from cfg\n  debug: msg=a\n",
        ),
        (
            "elsewhere/shared/tasks/main.yml",
            "- name: from env\n  debug: msg=b\n",
        ),
    ];
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let list = |env: Option<&str>| {
        let z = Zdd::new()
            .apply("site.yml")
            .inventory("hosts.ini")
            .arg("--list-tasks")
            .current_dir(dir.path())
            .env_remove("ANSIBLE_CONFIG");
        match env {
            Some(v) => z.env("ANSIBLE_ROLES_PATH", v),
            None => z.env_remove("ANSIBLE_ROLES_PATH"),
        }
        .run()
    };
    let from_cfg = list(None);
    from_cfg.assert_code(0);
    assert!(
        from_cfg.stdout.contains("shared : from cfg\t"),
        "{}",
        from_cfg.stdout
    );
    let from_env = list(Some("elsewhere"));
    from_env.assert_code(0);
    assert!(
        from_env.stdout.contains("shared : from env\t"),
        "{}",
        from_env.stdout
    );
    std::fs::remove_file(dir.path().join("ansible.cfg")).unwrap();
    let missing = list(Some("elsewhere_not"));
    missing.assert_code(5);
    assert!(
        missing.stderr.contains("role `shared` not found"),
        "{}",
        missing.stderr
    );
    assert!(missing.stderr.contains("elsewhere_not"), "{}", missing.stderr);
}
