//! Blue/green behind nginx (playbooks/blue-green.yml) on the lab with `--blue-green`:
//! nginx in front of a blue and a green instance per web host, etcd holding the live color,
//! the `nginx_upstream` module switching. Under a probe through nginx, no request may fail.

mod support;

use serde_json::Value;
use support::{http_get, Lab, Outcome};

const PLAYBOOK: &str = "playbooks/blue-green.yml";

fn deploy(lab: &Lab, vars: &[&str]) -> Outcome {
    let mut zdd = lab.zdd().apply(PLAYBOOK).json();
    for v in vars {
        zdd = zdd.extra(v);
    }
    zdd.run()
}

/// `zdd report` of the run's `--output json` stream shows the switch and the live color.
fn assert_report_shows_the_switch(out: &Outcome, from: &str, to: &str) {
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("run.ndjson");
    std::fs::write(&stream, &out.stdout).unwrap();
    let drawn = support::Zdd::new()
        .no_inventory()
        .arg("report")
        .arg(&stream)
        .run();
    drawn.assert_code(0);
    let page = std::fs::read_to_string(dir.path().join("run.html")).unwrap();
    let start = page
        .find("<section class=\"card color-switch\">")
        .unwrap_or_else(|| panic!("no color switch in the report:\n{page}"));
    let section = &page[start..start + page[start..].find("</section>").unwrap()];
    let color = |c: &str| format!("<span class=\"color color-{c}\">{c}</span>");
    assert!(
        section.contains(&format!("{} → {}", color(from), color(to))),
        "the switch {from} -> {to} is not in:\n{section}"
    );
    assert!(
        section.contains(&format!("Live color: {}", color(to))),
        "{section}"
    );
}

/// The color nginx routes to, read back from its upstream file, and the ports there.
fn live_in_nginx(lab: &Lab) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(lab.nginx_upstream_file()).unwrap();
    let color = text
        .lines()
        .find_map(|l| l.strip_prefix("# zdd-color: "))
        .unwrap_or_else(|| panic!("no color in\n{text}"))
        .to_owned();
    let ports = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("server "))
        .map(|s| s.trim_end_matches(';').rsplit(':').next().unwrap().to_owned())
        .collect();
    (color, ports)
}

/// What nginx serves now: (color, version) from the page.
fn served(lab: &Lab) -> (String, String) {
    let (status, body) = http_get(&format!("{}:8090", lab.lb_address()), "/").unwrap();
    assert_eq!(status, 200, "{body}");
    let field = |name: &str| {
        body.lines()
            .find_map(|l| l.strip_prefix(&format!("<p>{name}: "))?.strip_suffix("</p>"))
            .unwrap_or_else(|| panic!("no {name} in {body}"))
            .to_owned()
    };
    (field("color"), field("version"))
}

fn assert_live(lab: &Lab, color: &str, version: &str) {
    let port = if color == "blue" { "8082" } else { "8083" };
    assert_eq!(lab.live_color_in_etcd().as_deref(), Some(color), "etcd");
    assert_eq!(
        live_in_nginx(lab),
        (color.to_owned(), vec![port.to_owned(); lab.hosts().len()])
    );
    assert_eq!(served(lab), (color.to_owned(), version.to_owned()));
}

fn switch_result(out: &Outcome) -> Value {
    out.events()
        .into_iter()
        .find(|e| {
            e["event"] == "host_result"
                && e["task"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Switch the upstream"))
        })
        .map(|e| e["result"].clone())
        .unwrap_or_else(|| panic!("the switch did not run:\n{out}"))
}

fn ran(out: &Outcome, task_prefix: &str) -> bool {
    out.events().iter().any(|e| {
        e["event"] == "host_result" && e["task"].as_str().is_some_and(|t| t.starts_with(task_prefix))
    })
}

fn color_running(lab: &Lab, host: &str, color: &str) -> bool {
    let service = format!("{}-{color}", lab.web_service(host));
    lab.ssh(host, &format!("sudo -n /etc/init.d/{service} status"))
        .status
        .success()
}

/// The version in web1's green document root (served or not).
fn green_release(lab: &Lab) -> String {
    let page = std::fs::read_to_string(lab.dir().join("www/web1-green/index.html")).unwrap();
    page.lines()
        .find_map(|l| l.strip_prefix("<p>version: ")?.strip_suffix("</p>"))
        .unwrap()
        .to_owned()
}

#[test]
fn blue_green_switches_both_ways_and_never_switches_to_a_broken_color() {
    let lab = Lab::start_blue_green(2);
    lab.zdd().check(PLAYBOOK).run().assert_code(0);
    let plan = lab.zdd().plan(PLAYBOOK).run();
    plan.assert_code(0);
    assert!(
        plan.stdout.contains("Switch the upstream, verify through nginx"),
        "{}",
        plan.stdout
    );
    assert_live(&lab, "blue", "1");

    let probe = lab.probe_nginx(4);

    // blue -> green, then green -> blue.
    let out = deploy(&lab, &["version=2"]);
    out.assert_code(0);
    let switch = switch_result(&out);
    assert_eq!(
        (
            &switch["changed"],
            &switch["color"],
            &switch["previous_color"],
            &switch["upstream"]
        ),
        (
            &Value::Bool(true),
            &Value::from("green"),
            &Value::from("blue"),
            &Value::from("app")
        )
    );
    assert_eq!(switch["previous_servers"].as_array().unwrap().len(), 2);
    assert_live(&lab, "green", "2");
    assert!(!color_running(&lab, "web1", "blue"), "the old color is stopped");
    assert_report_shows_the_switch(&out, "blue", "green");

    deploy(&lab, &["version=3"]).assert_code(0);
    assert_live(&lab, "blue", "3");
    assert!(!color_running(&lab, "web2", "green"));

    // The same switch with plain modules (template validated by nginx -t, reload handler).
    deploy(&lab, &["version=4", "switch_with=template"]).assert_code(0);
    assert_live(&lab, "green", "4");
    deploy(&lab, &["version=3", "switch_with=template"]).assert_code(0);
    assert_live(&lab, "blue", "3");

    // The rollback convention: back to green, which still holds version 4 (nothing is
    // deployed), and forth again to blue.
    let out = deploy(&lab, &["zdd_rollback_to=green"]);
    out.assert_code(0);
    assert_eq!(switch_result(&out)["previous_color"], Value::from("blue"));
    assert_live(&lab, "green", "4");
    assert!(!color_running(&lab, "web1", "blue"));
    deploy(&lab, &["zdd_rollback_to=blue"]).assert_code(0);
    assert_live(&lab, "blue", "3");

    // A new color that fails its direct test is never switched to.
    let out = deploy(&lab, &["version=7", "health_path=/missing.html"]);
    out.assert_code(2);
    assert!(
        !ran(&out, "Switch the upstream"),
        "switched to a broken color:\n{out}"
    );
    assert_live(&lab, "blue", "3");
    assert!(
        !color_running(&lab, "web1", "green"),
        "the broken color is stopped"
    );
    assert_eq!(
        green_release(&lab),
        "4",
        "a failed deploy puts the color's previous release back"
    );

    // Verification through nginx fails: switched back, the old color still serves.
    let out = deploy(&lab, &["version=8", "verify_path=/missing.html"]);
    out.assert_code(2);
    let switch = switch_result(&out);
    assert_eq!(switch["failed"], Value::Bool(true));
    assert_eq!(switch["restored"], Value::Bool(true));
    assert!(
        switch["msg"].as_str().unwrap().contains("switched back"),
        "{switch}"
    );
    assert_live(&lab, "blue", "3");
    assert!(color_running(&lab, "web1", "blue"));
    assert!(
        !color_running(&lab, "web2", "green"),
        "the undone color is stopped"
    );
    assert_eq!(
        green_release(&lab),
        "4",
        "a failed deploy puts the color's previous release back"
    );

    let counts = probe.stop();
    assert_eq!(
        counts.failed, 0,
        "failed requests through nginx: {}",
        counts.stderr
    );
    assert!(counts.requests > 50, "{counts:?}");
}

#[test]
fn the_module_is_idempotent_checks_and_diffs_and_reads_the_live_color() {
    let mut lab = Lab::start_blue_green(1);
    let web1 = lab.address("web1");
    let play = |servers: &str, extra: &str| {
        format!(
            "- hosts: lb\n  gather_facts: no\n  become: yes\n  tasks:\n  - name: switch\n    nginx_upstream:\n      path: \"{{{{ nginx_upstream_file }}}}\"\n      conf: \"{{{{ nginx_conf }}}}\"\n      name: app\n      servers: [{servers}]\n      color: green\n      verify_url: \"{{{{ nginx_url }}}}/\"\n{extra}  - name: query\n    nginx_upstream:\n      path: \"{{{{ nginx_upstream_file }}}}\"\n      conf: \"{{{{ nginx_conf }}}}\"\n      name: app\n      state: query\n"
        )
    };
    let path = lab.dir().join("switch.yml");
    let run = |text: String, args: &[&str]| {
        std::fs::write(&path, text).unwrap();
        lab.zdd().apply(&path).json().args(args).run()
    };
    let result = |out: &Outcome, task: &str| -> Value {
        out.events()
            .into_iter()
            .find(|e| e["event"] == "host_result" && e["task"] == task)
            .map(|e| e["result"].clone())
            .unwrap_or_else(|| panic!("no {task}:\n{out}"))
    };
    let before = std::fs::read_to_string(lab.nginx_upstream_file()).unwrap();
    // Check mode with --diff: reports the change and its diff, changes nothing.
    let out = run(play(&format!("\"{web1}:8081\""), ""), &["--check", "--diff"]);
    out.assert_code(0);
    let switch = result(&out, "switch");
    assert_eq!(switch["changed"], Value::Bool(true));
    assert!(switch["diff"]["after"]
        .as_str()
        .unwrap()
        .contains(&format!("server {web1}:8081;")));
    assert_eq!(switch["diff"]["before"].as_str().unwrap(), before);
    assert_eq!(
        std::fs::read_to_string(lab.nginx_upstream_file()).unwrap(),
        before
    );
    assert_eq!(result(&out, "query")["color"], Value::from("blue"));

    // The real switch (to the lab's plain web server on 8081), then the same again: no change.
    let out = run(play(&format!("\"{web1}:8081\""), ""), &[]);
    out.assert_code(0);
    assert_eq!(result(&out, "switch")["changed"], Value::Bool(true));
    let query = result(&out, "query");
    assert_eq!(
        (&query["color"], &query["servers"]),
        (
            &Value::from("green"),
            &serde_json::json!([format!("{web1}:8081")])
        )
    );
    let out = run(play(&format!("\"{web1}:8081\""), ""), &[]);
    out.assert_code(0);
    let again = result(&out, "switch");
    assert_eq!(
        (&again["changed"], &again["previous_color"]),
        (&Value::Bool(false), &Value::from("green"))
    );

    // A configuration nginx -t rejects is never left in place.
    let out = run(play(&format!("\"{web1}:8081 bogus_param=1\""), ""), &[]);
    out.assert_code(2);
    let failed = result(&out, "switch");
    assert!(
        failed["msg"].as_str().unwrap().contains("nginx -t rejects"),
        "{failed}"
    );
    assert!(std::fs::read_to_string(lab.nginx_upstream_file())
        .unwrap()
        .contains(&format!("server {web1}:8081;")));
    assert_eq!(
        http_get(&format!("{}:8090", lab.lb_address()), "/").unwrap().0,
        200
    );

    // A misspelt argument: exit 5 with file:line, nothing contacted.
    let out = run(play(&format!("\"{web1}:8081\""), "      colour: blue\n"), &[]);
    out.assert_code(5);
    assert!(out.stderr.contains("switch.yml:"), "{}", out.stderr);
    assert!(out.stderr.contains("did you mean `color`?"), "{}", out.stderr);

    // Preflight: an nginx whose configuration fails `nginx -t` stops the run before
    // anything changes.
    let conf = lab.dir().join("nginx/nginx.conf");
    let good = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, format!("{good}bogus_directive;\n")).unwrap();
    let out = run(play(&format!("\"{web1}:8082\""), ""), &[]);
    std::fs::write(&conf, good).unwrap();
    out.assert_code(2);
    let all = out.all_output();
    assert!(all.contains("preflight failed"), "{all}");
    assert!(all.contains("unknown directive \"bogus_directive\""), "{all}");
    assert!(std::fs::read_to_string(lab.nginx_upstream_file())
        .unwrap()
        .contains(&format!("server {web1}:8081;")));

    // `lab.sh stop` ends nginx, etcd and the color instances, and removes their init scripts.
    let dir = lab.dir().display().to_string();
    let color_script = format!("/etc/init.d/{}-blue", lab.web_service("web1"));
    assert!(std::path::Path::new(&color_script).exists());
    lab.stop();
    assert_eq!(
        support::pids_matching(|cmd| cmd.contains(&format!("{dir}/"))),
        Vec::<u32>::new()
    );
    assert!(!std::path::Path::new(&color_script).exists());
    assert!(
        http_get(&format!("{}:8090", lab.lb_address()), "/").is_err(),
        "nginx still answers"
    );
}
