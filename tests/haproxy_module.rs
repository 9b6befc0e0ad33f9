//! The `haproxy` and `uri` modules on the real lab: HAProxy's runtime API over SSH, drains
//! with requests in flight, the capacity guard, health waits, and the rolling playbook.

mod support;

use serde_json::Value;
use std::time::{Duration, Instant};
use support::{Lab, Outcome, LB_PORT};

/// A play of `tasks` (YAML, indented as a play's task list) on `hosts`, run with zdd
/// (`--output json`); the outcome and its `host_result` events.
fn apply(lab: &Lab, hosts: &str, tasks: &str) -> (Outcome, Vec<Value>) {
    let play = format!("- hosts: {hosts}\n  gather_facts: no\n  become: yes\n  tasks:\n{tasks}");
    let path = lab.dir().join(format!("play-{}.yml", std::process::id()));
    std::fs::write(&path, play).unwrap();
    let out = lab.zdd().apply(&path).json().run();
    let results = host_results(&out);
    (out, results)
}

fn host_results(out: &Outcome) -> Vec<Value> {
    out.events()
        .into_iter()
        .filter(|e| e["event"] == "host_result")
        .collect()
}

fn result_of<'a>(results: &'a [Value], task: &str) -> &'a Value {
    &results
        .iter()
        .find(|r| r["task"] == task)
        .unwrap_or_else(|| panic!("no result for task `{task}` in {results:#?}"))["result"]
}

/// A haproxy task delegated to the lab's load balancer.
fn haproxy_task(name: &str, args: &str) -> String {
    format!(
        "  - name: {name}\n    haproxy:\n      socket: \"{{{{ haproxy_socket }}}}\"\n{}\n    delegate_to: lb\n    ignore_errors: yes\n",
        args.lines()
            .map(|l| format!("      {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// A CGI script on every web host that answers after `seconds`.
fn slow_page(lab: &Lab, seconds: u32) {
    for host in lab.hosts() {
        let dir = lab.doc_root(&host).join("cgi-bin");
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("slow");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nsleep {seconds}\nprintf 'Content-Type: text/plain\\r\\n\\r\\nslow done\\n'\n"
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// `GET /cgi-bin/slow` with time to wait for the answer (`http_get` gives up after 5 s).
fn slow_get(addr: &str) -> std::io::Result<(u16, String)> {
    support::http_get_within(addr, "/cgi-bin/slow", Duration::from_secs(30))
}

type SlowRequest = std::thread::JoinHandle<(std::io::Result<(u16, String)>, Instant)>;

/// Start a slow request through haproxy: its thread (the answer and when it came) and the
/// server that has it.
fn slow_request_in_flight(lab: &Lab) -> (SlowRequest, String) {
    let lb = format!("{}:{LB_PORT}", lab.lb_address());
    let request = std::thread::spawn(move || (slow_get(&lb), Instant::now()));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stat = lab.haproxy_command("show stat");
        let busy = stat
            .lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|f| f.len() > 17 && f[0] == "loadbalancer" && f[1].starts_with("web") && f[4] != "0");
        if let Some(f) = busy {
            return (request, f[1].to_string());
        }
        assert!(
            Instant::now() < deadline,
            "the slow request never reached a server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn disable_and_enable_change_haproxy_once() {
    let lab = Lab::start(2);
    let disable = haproxy_task("disable", "state: disabled\nhost: web1\nbackend: loadbalancer");
    let (out, results) = apply(
        &lab,
        "web1",
        &format!("{disable}{}", disable.replace("disable\n", "again\n")),
    );
    out.assert_code(0);
    assert_eq!(result_of(&results, "disable")["changed"], true);
    assert_eq!(result_of(&results, "again")["changed"], false, "{results:#?}");
    assert_eq!(result_of(&results, "again")["failed"], false);
    assert_eq!(lab.server_state("web1"), "MAINT");
    assert_eq!(lab.server_state("web2"), "UP");

    let enable = haproxy_task(
        "enable",
        "state: enabled\nhost: web1\nbackend: loadbalancer\nwait: yes",
    );
    let (out, results) = apply(
        &lab,
        "web1",
        &format!("{enable}{}", enable.replace("enable\n", "again\n")),
    );
    out.assert_code(0);
    assert_eq!(result_of(&results, "enable")["changed"], true);
    assert_eq!(result_of(&results, "again")["changed"], false);
    assert_eq!(lab.server_state("web1"), "UP");
}

#[test]
fn unknown_servers_and_backends_fail_with_haproxys_words() {
    let lab = Lab::start(2);
    let tasks = haproxy_task("server", "state: disabled\nhost: web9\nbackend: loadbalancer")
        + &haproxy_task("backend", "state: disabled\nhost: web1\nbackend: nosuch");
    let (out, results) = apply(&lab, "web1", &tasks);
    out.assert_code(0);
    let server = result_of(&results, "server");
    assert_eq!(server["failed"], true);
    assert_eq!(
        server["msg"],
        "No such server. (HAProxy's answer to `disable server loadbalancer/web9`)"
    );
    let backend = result_of(&results, "backend");
    assert_eq!(backend["failed"], true);
    assert_eq!(
        backend["msg"],
        "No such backend. (HAProxy's answer to `disable server nosuch/web1`)"
    );
    assert_eq!(out.recap_of("web1").ignored, 2, "{out}");
    assert_eq!(lab.server_state("web1"), "UP");
}

#[test]
fn the_capacity_guard_never_takes_out_the_last_server_up() {
    let lab = Lab::start(2);
    let task = haproxy_task(
        "batch",
        "state: disabled\nhost: \"{{ ansible_play_batch }}\"\nbackend: loadbalancer\nmin_up: 1",
    )
    .replace(
        "    delegate_to: lb\n",
        "    delegate_to: lb\n    run_once: yes\n",
    );
    let (out, results) = apply(&lab, "webappservers", &task);
    let r = result_of(&results, "batch");
    assert_eq!(r["failed"], true, "{r}");
    assert_eq!(r["changed"], false);
    assert_eq!(
        r["msg"],
        "refusing to disable servers: backend loadbalancer has 2 of 2 servers UP; taking out 2 servers (web1, web2) would leave 0, fewer than min_up 1 (nothing was changed)"
    );
    // ignore_errors: the run goes on and counts it.
    out.assert_code(0);
    assert_eq!(lab.server_state("web1"), "UP");
    assert_eq!(lab.server_state("web2"), "UP");

    // One of the two may go: then the other is the last one.
    let one = haproxy_task(
        "one",
        "state: disabled\nhost: \"{{ inventory_hostname }}\"\nbackend: loadbalancer",
    );
    let (_, results) = apply(&lab, "web2", &one);
    assert_eq!(result_of(&results, "one")["changed"], true);
    let (_, results) = apply(&lab, "web1", &one);
    assert_eq!(result_of(&results, "one")["failed"], true);
    assert_eq!(lab.server_state("web1"), "UP");
    assert_eq!(lab.server_state("web2"), "MAINT");
}

#[test]
fn a_drain_waits_for_the_request_in_flight() {
    let lab = Lab::start(2);
    // Long enough that zdd's own start-up on a loaded machine cannot use it all up.
    slow_page(&lab, 10);
    let (request, server) = slow_request_in_flight(&lab);
    let task = haproxy_task(
        "drain",
        &format!("state: disabled\ndrain: yes\ndrain_timeout: 20\nhost: {server}\nbackend: loadbalancer"),
    );
    let (out, results) = apply(&lab, "web1", &task);
    let drain_ended = Instant::now();
    let r = result_of(&results, "drain");
    assert_eq!(r["failed"], false, "{r}\n{out}");
    assert_eq!(r["changed"], true);
    let elapsed = r["elapsed"].as_f64().unwrap();
    assert!(elapsed >= 1.5, "the drain took {elapsed}s, the request 10s");
    assert_eq!(lab.server_state(&server), "MAINT");
    let (answer, answered) = request.join().unwrap();
    let (status, body) = answer.unwrap();
    assert_eq!((status, body.as_str()), (200, "slow done\n"));
    assert!(answered <= drain_ended, "the drain ended before the request did");
}

#[test]
fn a_drain_that_does_not_finish_in_time_fails_the_host() {
    let lab = Lab::start(2);
    slow_page(&lab, 6);
    let (request, server) = slow_request_in_flight(&lab);
    let task = haproxy_task(
        "drain",
        &format!("state: disabled\ndrain: yes\ndrain_timeout: 1\nhost: {server}\nbackend: loadbalancer"),
    )
    .replace("    ignore_errors: yes\n", "");
    let (out, results) = apply(&lab, "web1", &task);
    out.assert_code(2);
    let r = result_of(&results, "drain");
    assert_eq!(r["failed"], true);
    assert_eq!(
        r["msg"],
        format!("drain did not finish within 1s: loadbalancer/{server} has 1 session open; left in DRAIN, not disabled")
    );
    assert_eq!(out.recap_of("web1").failed, 1, "{out}");
    assert!(r["elapsed"].as_f64().unwrap() < 4.0, "{r}");
    assert_eq!(lab.server_state(&server), "DRAIN");
    // The task failed, but HAProxy says the server takes no new traffic: it is reported.
    assert_eq!(
        out.screen("OUT OF ROTATION").as_deref(),
        Some(
            format!(
                "web1: loadbalancer/{server} is disabled on lb; to put it back, run there:\n    \
                 echo \"enable server loadbalancer/{server}\" | socat stdio {}",
                lab.socket().display()
            )
            .as_str()
        ),
        "{out}"
    );
    assert_eq!(request.join().unwrap().0.unwrap().0, 200);
}

#[test]
fn enabled_with_wait_gives_no_traffic_before_the_health_check_passes() {
    let lab = Lab::start(2);
    assert_eq!(lab.haproxy_command("disable server loadbalancer/web1"), "\n");
    assert!(lab.service("web1", "stop").status.success());
    let task = haproxy_task(
        "enable",
        "state: enabled\nhost: web1\nbackend: loadbalancer\nwait: yes\nwait_interval: 0.5\nwait_retries: 60",
    );
    let path = lab.dir().join("enable.yml");
    std::fs::write(
        &path,
        format!("- hosts: web1\n  gather_facts: no\n  become: yes\n  tasks:\n{task}"),
    )
    .unwrap();
    let mut zdd = lab.zdd().apply(&path).json().spawn();
    // Once zdd has taken web1 out of maintenance, and while its web server is down,
    // haproxy must not count it UP (it would send it traffic).
    let deadline = Instant::now() + Duration::from_secs(30);
    while lab.server_state("web1") == "MAINT" {
        assert!(Instant::now() < deadline, "zdd never enabled web1");
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    let mut seen = Vec::new();
    while started.elapsed() < Duration::from_millis(1200) {
        seen.push(lab.server_state("web1"));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(zdd.is_running(), "zdd did not wait for the health check");
    assert!(lab.service("web1", "start").status.success());
    let out = zdd.wait();
    out.assert_code(0);
    assert!(
        seen.iter().all(|s| !s.starts_with("UP")),
        "web1 went UP while down: {seen:?}"
    );
    assert!(seen.iter().any(|s| s == "DOWN"), "{seen:?}");
    let results = host_results(&out);
    let r = result_of(&results, "enable");
    assert_eq!(r["changed"], true);
    assert!(r["elapsed"].as_f64().unwrap() >= 1.2, "{r}");
    assert_eq!(lab.server_state("web1"), "UP");
}

#[test]
fn uri_reports_status_and_content_and_fails_on_the_wrong_status() {
    let lab = Lab::start(1);
    let tasks = "  - name: page\n    uri:\n      url: \"http://{{ ansible_host }}:{{ http_port }}/\"\n      return_content: yes\n\
                 \x20 - name: wrong\n    uri:\n      url: \"http://{{ ansible_host }}:{{ http_port }}/\"\n      status_code: [201, 204]\n    ignore_errors: yes\n\
                 \x20 - name: missing\n    uri:\n      url: \"http://{{ ansible_host }}:{{ http_port }}/nope\"\n      status_code: 404\n";
    let (out, results) = apply(&lab, "web1", tasks);
    out.assert_code(0);
    let page = result_of(&results, "page");
    assert_eq!(page["status"], 200);
    assert_eq!(page["content"], lab.page("web1"), "{page}");
    let len = page["content"].as_str().unwrap().len();
    assert_eq!(page["msg"], format!("OK ({len} bytes)"));
    let wrong = result_of(&results, "wrong");
    assert_eq!(wrong["failed"], true);
    assert_eq!(
        wrong["msg"],
        format!("Status code was 200 and not [201, 204]: OK ({len} bytes)")
    );
    assert_eq!(result_of(&results, "missing")["status"], 404);
    assert_eq!(result_of(&results, "missing")["failed"], false);
}

#[test]
fn the_rolling_haproxy_playbook_upgrades_every_host_without_a_failed_request() {
    let lab = Lab::start(4);
    let probe = lab.probe(4);
    let out = lab
        .zdd()
        .apply("examples/lab/rolling-haproxy.yml")
        .extra("version=2")
        .run();
    let counts = probe.stop();
    out.assert_code(0);
    assert_eq!(counts.failed, 0, "{counts:?}");
    assert!(counts.requests > 0);
    for host in lab.hosts() {
        assert_eq!(lab.version(&host), "2", "{host} not upgraded");
        assert_eq!(lab.server_state(&host), "UP", "{host}");
        let stats = out.recap_of(&host);
        assert_eq!((stats.failed, stats.unreachable), (0, 0), "{host}: {out}");
    }
}
