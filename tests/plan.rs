//! `zdd plan`: batches, tasks, delegates and handlers, worked out without connecting to
//! anything.

mod support;

use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{Lab, Zdd};

#[test]
fn plan_works_with_every_sshd_of_the_lab_stopped() {
    let lab = Lab::start(3);
    for host in lab.all_hosts() {
        lab.stop_sshd(&host);
    }
    let started = Instant::now();
    let out = lab.zdd().plan("examples/lab/zero-downtime.yml").run();
    out.assert_code(0);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "plan took {:?}",
        started.elapsed()
    );
    assert_eq!(
        out.redacted(),
        "exit: 0
playbook examples/lab/zero-downtime.yml
inventory [LAB]/inventory.ini

PLAY 1 [webappservers]
  hosts: webappservers (3 hosts), serial: 1, gather_facts
  batches:
    1/3: web1
    2/3: web2
    3/3: web3
  pre_tasks:
    - Disable server in haproxy (shell)
        delegate_to: lb
  tasks:
    - Write the web server configuration (template)  notify: Restart web server
    - Pretend upgrade by cleaning out content (file)
    - Copy over webapp content (template)  notify: Restart web server
  post_tasks:
    - Wait for the web server to answer (wait_for)
    - Re-enable server in haproxy (shell)
        delegate_to: lb
  handlers:
    - Restart web server (service)  notified by: Write the web server configuration, Copy over webapp content

nothing was contacted
"
    );
    // The hosts really are unreachable: apply finds that out in preflight.
    lab.zdd()
        .apply("examples/lab/zero-downtime.yml")
        .run()
        .assert_code(4);
}

const INVENTORY: &str = "[loadbalancers]
lb1 ansible_host=127.0.250.1
lb2 ansible_host=127.0.250.2

[web]
web1 ansible_host=127.0.250.11 lb=lb1
web2 ansible_host=127.0.250.12 lb=lb2
web3 ansible_host=127.0.250.13 lb=lb1
web4 ansible_host=127.0.250.14 lb=lb2
web5 ansible_host=127.0.250.15 lb=lb1

[all:vars]
ansible_port=2222
";

const PLAYBOOK: &str = r#"- name: Rolling upgrade
  hosts: web
  serial: [1, "50%"]
  gather_facts: false
  pre_tasks:
    - name: Drain
      shell: echo disable {{ inventory_hostname }}
      delegate_to: "{{ lb }}"
  tasks:
    - name: Find the backup host
      command: cat /etc/backup-host
      register: backup
    - name: Copy to the backup host
      command: echo copy
      delegate_to: "{{ backup.stdout }}"
    - name: Upgrade
      command: echo upgrade
      when: inventory_hostname != 'web5'
      notify: restart stack
  handlers:
    - name: Restart app
      command: echo restart
      listen: restart stack
  post_tasks:
    - name: Tell every balancer
      shell: echo enable {{ inventory_hostname }}
      delegate_to: "{{ item }}"
      loop: "{{ groups.loadbalancers }}"
      run_once: true
"#;

fn write_inputs(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let inventory = dir.join("hosts.ini");
    let playbook = dir.join("site.yml");
    std::fs::write(&inventory, INVENTORY).unwrap();
    std::fs::write(&playbook, PLAYBOOK).unwrap();
    (playbook, inventory)
}

#[test]
fn plan_shows_batches_delegates_per_host_and_handlers_for_unreachable_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let (playbook, inventory) = write_inputs(dir.path());
    let out = Zdd::new()
        .plan(&playbook)
        .inventory(&inventory)
        .redact(dir.path().display(), "DIR")
        .run();
    assert_eq!(
        out.redacted(),
        "exit: 0
playbook DIR/site.yml
inventory DIR/hosts.ini

PLAY 1 [Rolling upgrade]
  hosts: web (5 hosts), serial: [1, 50%]
  batches:
    1/3: web1
    2/3: web2, web3
    3/3: web4, web5
  pre_tasks:
    - Drain (shell)
        delegate_to: web1 -> lb1; web2 -> lb2; web3 -> lb1; web4 -> lb2; web5 -> lb1
  tasks:
    - Find the backup host (command)
    - Copy to the backup host (command)
        delegate_to: `{{ backup.stdout }}`, decided at run time
    - Upgrade (command)  when: inventory_hostname != 'web5'  notify: restart stack
  post_tasks:
    - Tell every balancer (shell)  run_once
        delegate_to: lb1, lb2
  handlers:
    - Restart app (command)  notified by: Upgrade

nothing was contacted
"
    );
}

#[test]
fn plan_json_with_a_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (playbook, inventory) = write_inputs(dir.path());
    let out = Zdd::new()
        .plan(&playbook)
        .inventory(&inventory)
        .limit("web2:web3:web4")
        .json()
        .run();
    out.assert_code(0);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    let play = &plan["plays"][0];
    assert_eq!(plan["limit"], "web2:web3:web4");
    assert_eq!(play["batches"], serde_json::json!([["web2"], ["web3"], ["web4"]]));
    let drain = &play["sections"][0]["tasks"][0];
    assert_eq!(play["sections"][0]["section"], "pre_tasks");
    assert_eq!(drain["delegate_to"], "{{ lb }}");
    assert_eq!(
        drain["delegates"],
        serde_json::json!({"web2": ["lb2"], "web3": ["lb1"], "web4": ["lb2"]})
    );
    let copy = &play["sections"][1]["tasks"][1];
    assert_eq!(copy["delegates_at_run_time"], true);
    assert!(
        copy["location"].as_str().unwrap().ends_with("site.yml:13:7"),
        "{copy:#}"
    );
    assert_eq!(
        play["handlers"][0]["listen"],
        serde_json::json!(["restart stack"])
    );
    assert_eq!(play["handlers"][0]["notified_by"], serde_json::json!(["Upgrade"]));
}

#[test]
fn plan_refuses_an_invalid_playbook_like_check_does() {
    let dir = tempfile::tempdir().unwrap();
    let (playbook, inventory) = write_inputs(dir.path());
    std::fs::write(
        &playbook,
        PLAYBOOK.replace("delegate_to: \"{{ lb }}\"", "delegate_too: \"{{ lb }}\""),
    )
    .unwrap();
    let out = Zdd::new().plan(&playbook).inventory(&inventory).run();
    out.assert_code(5);
    assert_eq!(out.stdout, "", "no plan for an invalid playbook");
    let location = format!(" --> {}:8:7", playbook.display());
    assert!(
        out.stderr.lines().any(|l| l == location),
        "no line `{location}`:\n{out}"
    );
    assert!(
        out.stderr
            .lines()
            .any(|l| l.ends_with("did you mean `delegate_to`?")),
        "{out}"
    );
}

/// The shipped playbooks and the inventories they are meant for (no lab needed: nothing
/// is contacted).
fn shipped_playbooks() -> Vec<(String, &'static str)> {
    let mut cases = Vec::new();
    for (dir, inventory) in [
        ("playbooks", "examples/vagrant/inventory/vagrant.ini"),
        ("examples/lab", "tests/fixtures/lab-inventory.ini"),
    ] {
        let mut names: Vec<String> = std::fs::read_dir(support::repo_root().join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".yml"))
            .collect();
        names.sort();
        // rolling-roles.yml and cloud-lb-drain.yml take their paths and HAProxy names
        // from the lab's inventory.
        cases.extend(names.into_iter().map(|name| {
            let inventory = match name.as_str() {
                "rolling-roles.yml" | "cloud-lb-drain.yml" => "tests/fixtures/lab-inventory.ini",
                // Its nginx, etcd and color variables come from `lab.sh --blue-green`.
                "blue-green.yml" => "tests/fixtures/lab-blue-green-inventory.ini",
                _ => inventory,
            };
            (format!("{dir}/{name}"), inventory)
        }));
    }
    cases
}

#[test]
fn plan_of_every_shipped_playbook() {
    let cases = shipped_playbooks();
    assert!(cases.len() >= 6, "{cases:?}");
    for (playbook, inventory) in cases {
        let text = std::fs::read_to_string(support::repo_root().join(&playbook)).unwrap();
        if text.lines().any(|l| l.trim_start().starts_with("order:")) {
            // `zdd plan` does not follow `order:` yet (being fixed): no snapshot of it.
            eprintln!("{playbook}: sets `order:`, not snapshotted");
            continue;
        }
        let out = Zdd::new().plan(&playbook).inventory(inventory).run();
        out.assert_code(0);
        let name = format!("plan_{}", playbook.replace(['/', '.'], "_"));
        insta::assert_snapshot!(name, out.redacted());
    }
}
