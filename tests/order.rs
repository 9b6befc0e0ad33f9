//! `order` in `zdd plan`, `apply`, `zdd status` and `--resume`: all four read one rollout
//! plan, so they agree on which hosts make batch N. On the real lab.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use support::{Lab, Outcome};

/// One batch per host in `order`; reading a page fails where the doc root is broken.
fn write_playbook(dir: &Path, order: &str) -> PathBuf {
    let path = dir.join(format!("{order}.yml"));
    std::fs::write(
        &path,
        format!(
            "- hosts: webappservers\n  order: {order}\n  serial: 1\n  gather_facts: false\n  tasks:\n    \
             - name: Read the page\n      command: cat {{{{ doc_root }}}}/index.html\n"
        ),
    )
    .unwrap();
    path
}

fn zdd(lab: &Lab, cwd: &Path, args: &[&str], playbook: &Path) -> Outcome {
    lab.zdd()
        .current_dir(cwd)
        .arg(args[0])
        .arg(playbook)
        .args(&args[1..])
        .run()
}

/// The hosts of each batch `apply --output json` started, in the order it started them.
fn started_batches(out: &Outcome) -> Vec<Vec<String>> {
    out.events()
        .into_iter()
        .filter(|e| e["event"] == "batch_start")
        .map(|e| serde_json::from_value(e["hosts"].clone()).unwrap())
        .collect()
}

fn status_json(lab: &Lab, cwd: &Path, playbook: &Path) -> Value {
    let out = zdd(lab, cwd, &["status", "--output", "json"], playbook);
    out.assert_code(0);
    serde_json::from_str(&out.stdout).unwrap()
}

fn planned_batches(status: &Value) -> Vec<Vec<String>> {
    serde_json::from_value(status["plan"][0]["batches"].clone()).unwrap()
}

/// The batches `zdd plan --output json` shows for the first play.
fn plan_batches(lab: &Lab, cwd: &Path, playbook: &Path) -> Vec<Vec<String>> {
    let out = zdd(lab, cwd, &["plan", "--output", "json"], playbook);
    out.assert_code(0);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    serde_json::from_value(plan["plays"][0]["batches"].clone()).unwrap()
}

fn one_each(hosts: &[&str]) -> Vec<Vec<String>> {
    hosts.iter().map(|h| vec![h.to_string()]).collect()
}

/// The case: hosts web1..3, `order: reverse_inventory`, `serial: 1`, web2 fails.
/// Before the fix `zdd plan` said batch 1 was web1, apply ran web3 first, `zdd status`
/// called web1's batch not reached, and `--resume` announced web1 and ran web2.
#[test]
fn reverse_inventory_plan_apply_status_and_resume_agree() {
    let lab = Lab::start(3);
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path();
    let playbook = write_playbook(cwd, "reverse_inventory");
    let want = one_each(&["web3", "web2", "web1"]);

    assert_eq!(plan_batches(&lab, cwd, &playbook), want, "zdd plan");
    let human = zdd(&lab, cwd, &["plan"], &playbook).stdout;
    assert!(
        human.contains("  hosts: webappservers (3 hosts), serial: 1, order: reverse_inventory\n"),
        "{human}"
    );
    assert!(
        human.contains("    1/3: web3\n    2/3: web2\n    3/3: web1\n"),
        "{human}"
    );

    lab.break_doc_root("web2");
    let first = zdd(&lab, cwd, &["apply", "--output", "json"], &playbook);
    first.assert_code(2);
    assert_eq!(
        started_batches(&first),
        want[..2],
        "apply ran web3, then web2 failed"
    );

    let status = status_json(&lab, cwd, &playbook);
    assert_eq!(
        planned_batches(&status),
        want,
        "the journal records the plan apply ran"
    );
    assert_eq!(status["next_batch"]["batch"], 2);
    assert_eq!(status["next_batch"]["hosts"], serde_json::json!(["web2"]));
    assert_eq!(status["never_reached"], serde_json::json!(["web1"]));
    let human = zdd(&lab, cwd, &["status"], &playbook).stdout;
    assert!(human.contains("  batch 3/3 web1: not reached\n"), "{human}");
    assert!(!human.contains("web3: not reached"), "{human}");

    lab.restore_doc_root("web2");
    let resumed = zdd(&lab, cwd, &["apply", "--output", "json", "--resume"], &playbook);
    resumed.assert_code(0);
    let stderr = &resumed.stderr;
    assert!(
        stderr.contains("starting at play `webappservers` batch 2/3 (web2)"),
        "the announcement names the batch that runs:\n{stderr}"
    );
    assert_eq!(started_batches(&resumed), want[1..], "resume ran web2, then web1");
}

/// `order: shuffle` draws an order when apply starts; the journal keeps the draw, so
/// `zdd status` and `--resume` follow the same batches.
#[test]
fn shuffle_is_drawn_once_and_resume_keeps_the_draw() {
    let lab = Lab::start(3);
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path();
    let playbook = write_playbook(cwd, "shuffle");

    lab.break_doc_root("web2");
    let first = zdd(&lab, cwd, &["apply", "--output", "json"], &playbook);
    first.assert_code(2);
    let status = status_json(&lab, cwd, &playbook);
    let plan = planned_batches(&status);
    let mut hosts = plan.concat();
    hosts.sort();
    assert_eq!(
        hosts,
        ["web1", "web2", "web3"],
        "every host planned once: {plan:?}"
    );
    let failing = plan.iter().position(|b| b == &["web2"]).unwrap();
    assert_eq!(
        started_batches(&first),
        plan[..=failing],
        "apply ran the planned batches up to web2's"
    );
    assert_eq!(status["next_batch"]["batch"], failing + 1);
    assert_eq!(status["next_batch"]["hosts"], serde_json::json!(["web2"]));

    lab.restore_doc_root("web2");
    let resumed = zdd(&lab, cwd, &["apply", "--output", "json", "--resume"], &playbook);
    resumed.assert_code(0);
    let stderr = &resumed.stderr;
    assert!(
        stderr.contains(&format!("batch {}/3 (web2)", failing + 1)),
        "{stderr}"
    );
    assert_eq!(started_batches(&resumed), plan[failing..], "resume kept the draw");
    let status = status_json(&lab, cwd, &playbook);
    assert_eq!(
        planned_batches(&status),
        plan,
        "the resumed run's journal has the same plan"
    );
}

/// `sorted` and `reverse_sorted` in `zdd plan` and apply (hosts listed out of order in
/// the inventory would be needed to tell `sorted` from `inventory`: the lab's are in
/// order, so `reverse_sorted` is the one that shows).
#[test]
fn sorted_orders_plan_and_apply_alike() {
    let lab = Lab::start(3);
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path();
    for (order, want) in [
        ("inventory", one_each(&["web1", "web2", "web3"])),
        ("sorted", one_each(&["web1", "web2", "web3"])),
        ("reverse_sorted", one_each(&["web3", "web2", "web1"])),
    ] {
        let playbook = write_playbook(cwd, order);
        assert_eq!(
            plan_batches(&lab, cwd, &playbook),
            want,
            "zdd plan, order: {order}"
        );
        let out = zdd(&lab, cwd, &["apply", "--output", "json"], &playbook);
        out.assert_code(0);
        assert_eq!(started_batches(&out), want, "apply, order: {order}");
    }
}
