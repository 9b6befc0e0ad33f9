//! The local lab itself: what zdd's end-to-end tests stand on must really work.

mod support;

use std::time::Duration;
use support::{http_get, Lab};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The process is alive and one of the lab's (its command line names the lab's
/// directory). A zombie waiting for init to reap it has no command line left.
fn runs_in(pid: u32, dir: &str) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&cmdline).contains(dir)
}

#[test]
fn every_host_takes_the_deploy_key_and_sudo_without_password() {
    let lab = Lab::start(3);
    assert_eq!(lab.all_hosts(), ["lb", "web1", "web2", "web3"]);
    for host in lab.all_hosts() {
        let out = lab.ssh(&host, "whoami && sudo -n true && sudo -n id -u");
        assert!(out.status.success(), "ssh {host}: {}", stderr(&out));
        assert_eq!(stdout(&out), "deploy\n0\n", "ssh {host}");
    }
    let inventory = std::fs::read_to_string(lab.inventory()).unwrap();
    for host in lab.hosts() {
        let line = format!("{host} ansible_host={} ", lab.address(&host));
        assert!(inventory.contains(&line), "no `{line}` in\n{inventory}");
    }
}

#[test]
fn a_host_key_that_is_not_in_known_hosts_is_refused() {
    let lab = Lab::start(1);
    std::fs::write(lab.known_hosts(), "").unwrap();
    let out = lab.ssh("web1", "true");
    assert!(!out.status.success(), "ssh accepted an unknown host key");
    assert!(
        stderr(&out).contains("Host key verification failed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn haproxy_balances_over_all_servers_up() {
    let lab = Lab::start(3);
    for host in lab.hosts() {
        assert_eq!(lab.server_state(&host), "UP", "{host}");
        assert!(lab.page(&host).contains(&format!("host: {host}<")));
        assert_eq!(lab.version(&host), "1");
    }
    let lb = format!("{}:{}", lab.lb_address(), support::LB_PORT);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..6 {
        let (status, body) = http_get(&lb, "/").unwrap();
        assert_eq!(status, 200);
        let host = body.split("host: ").nth(1).unwrap().split('<').next().unwrap();
        seen.insert(host.to_string());
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), lab.hosts());
}

#[test]
fn a_disabled_server_is_in_maint_and_traffic_keeps_flowing() {
    let lab = Lab::start(3);
    let probe = lab.probe(4);
    assert_eq!(lab.haproxy_command("disable server loadbalancer/web2"), "\n");
    assert_eq!(lab.server_state("web2"), "MAINT");
    // In maintenance the server may go away without anyone noticing.
    let out = lab.service("web2", "stop");
    assert!(out.status.success(), "{}", stderr(&out));
    std::thread::sleep(Duration::from_millis(800));
    let during = lab.probe(2).stop();
    let out = lab.service("web2", "start");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(lab.haproxy_command("enable server loadbalancer/web2"), "\n");
    assert!(lab.wait_server_state("web2", "UP", Duration::from_secs(5)));
    // A server haproxy does not know is an answer, not an empty line.
    assert_eq!(
        lab.haproxy_command("disable server loadbalancer/web9"),
        "No such server.\n\n"
    );
    std::thread::sleep(Duration::from_millis(300));
    let counts = probe.stop();

    assert_eq!(counts.failed, 0, "{counts:?}");
    assert!(counts.requests > 100, "{counts:?}");
    assert_eq!(during.failed, 0, "{during:?}");
    assert!(during.requests > 0, "{during:?}");
    assert_eq!(
        during.hosts.get("web2"),
        None,
        "web2 answered in MAINT: {during:?}"
    );
    assert!(counts.hosts["web2"] > 0, "web2 never came back: {counts:?}");
}

#[test]
fn the_probe_counts_failures_when_no_server_is_up() {
    let lab = Lab::start(2);
    for host in lab.hosts() {
        assert!(lab.service(&host, "stop").status.success());
    }
    let counts = lab.probe(2).stop();
    assert!(counts.requests > 0, "{counts:?}");
    assert_eq!(counts.failed, counts.requests, "{counts:?}");
    assert!(counts.stderr.contains("HTTP 503"), "{counts:?}");
}

#[test]
fn the_init_script_restarts_the_web_server() {
    let lab = Lab::start(2);
    let pid_file = lab.dir().join("run/web1.pid");
    let before = std::fs::read_to_string(&pid_file).unwrap();
    std::fs::write(
        lab.dir().join("www/web1/index.html"),
        "<p>host: web1</p><p>version: 7</p>",
    )
    .unwrap();

    let out = lab.service("web1", "restart");
    assert!(out.status.success(), "{}", stderr(&out));
    // `restart` returns once the new server listens: no wait needed.
    assert_eq!(lab.version("web1"), "7");
    let after = std::fs::read_to_string(&pid_file).unwrap();
    assert_ne!(before, after, "restart kept the same process");
    let dir = lab.dir().display().to_string();
    assert!(
        !runs_in(before.trim().parse().unwrap(), &dir),
        "the old server survived"
    );

    let out = lab.service("web1", "status");
    assert!(out.status.success());
    assert!(stdout(&out).contains(&format!("is running (pid {})", after.trim())));
    assert!(lab.service("web1", "stop").status.success());
    assert_eq!(lab.service("web1", "status").status.code(), Some(3));
    assert!(http_get(&format!("{}:{}", lab.address("web1"), support::HTTP_PORT), "/").is_err());
    assert!(lab.page("web2").contains("host: web2<"));
}

#[test]
fn stop_ends_every_recorded_process_and_removes_the_init_scripts() {
    let mut lab = Lab::start(2);
    assert!(lab.service("web2", "restart").status.success());
    let pids = lab.pids();
    // 3 sshd, 2 httpd, haproxy, and web2's second httpd.
    assert_eq!(pids.len(), 7, "{pids:?}");
    let dir = lab.dir().display().to_string();
    let scripts: Vec<_> = lab
        .hosts()
        .iter()
        .map(|h| format!("/etc/init.d/{}", lab.web_service(h)))
        .collect();
    assert!(scripts.iter().all(|s| std::path::Path::new(s).exists()));

    // All but web2's first httpd, which the restart ended.
    let alive = pids.iter().filter(|&&pid| runs_in(pid, &dir)).count();
    assert_eq!(alive, 6, "{pids:?}");
    lab.stop();
    for pid in pids {
        assert!(!runs_in(pid, &dir), "pid {pid} survived stop");
    }
    assert!(scripts.iter().all(|s| !std::path::Path::new(s).exists()));
    // Stopping again is fine.
    lab.stop();
}

/// Above 200 web hosts the lab goes on in the next /24 and one sshd serves 16 hosts (sshd
/// takes at most 16 ListenAddress sockets): the first 200 are where a small lab has them.
#[test]
fn a_lab_of_201_hosts_takes_two_nets_and_one_sshd_per_16_hosts() {
    let mut lab = Lab::start(201);
    let (prefix, x) = lab.net().rsplit_once('.').unwrap();
    let next = format!("{prefix}.{}", x.parse::<u8>().unwrap() + 1);
    assert_eq!(lab.address("web200"), format!("{}.210", lab.net()));
    assert_eq!(lab.address("web201"), format!("{next}.11"));
    let inventory = std::fs::read_to_string(lab.inventory()).unwrap();
    assert!(
        inventory.contains(&format!("\nweb201 ansible_host={next}.11 ")),
        "{inventory}"
    );
    assert!(
        inventory.contains("\nhaproxy_backend=loadbalancer\n"),
        "{inventory}"
    );
    // lb, the last host of the first sshd, the first of the second, the last one.
    for host in ["lb", "web15", "web16", "web201"] {
        let out = lab.ssh(host, "sudo -n id -u");
        assert_eq!(stdout(&out), "0\n", "ssh {host}: {}", stderr(&out));
        if host != "lb" {
            assert_eq!(lab.server_state(host), "UP", "{host}");
        }
    }
    assert!(lab.page("web201").contains("host: web201<"));
    assert!(lab.service("web201", "restart").status.success());
    assert_eq!(lab.version("web201"), "1");

    let names = std::fs::read_to_string(lab.dir().join("pids")).unwrap();
    let sshds: Vec<_> = names.lines().filter(|l| l.contains(" sshd-")).collect();
    // 202 addresses, 16 per sshd.
    assert_eq!(sshds.len(), 13, "{names}");
    assert!(sshds.iter().all(|l| l.contains(" sshd-group")), "{sshds:?}");
    let pids = lab.pids();
    let dir = lab.dir().display().to_string();
    lab.stop();
    for pid in pids {
        assert!(!runs_in(pid, &dir), "pid {pid} survived stop");
    }
    assert!(!std::path::Path::new(&format!("/etc/init.d/{}", lab.web_service("web201"))).exists());
}

// The runner of zdd itself (support/run.rs): recap parsing, redactions, host order.

#[test]
fn a_recap_line_parses_with_all_seven_counters_in_order_and_nothing_else() {
    let line = "web1                       : ok=8    changed=6    unreachable=0    failed=10   skipped=0    rescued=0    ignored=0   ";
    let (host, stats) = support::HostStats::parse_line(line).unwrap();
    assert_eq!(host, "web1");
    assert_eq!(
        stats,
        support::HostStats {
            ok: 8,
            changed: 6,
            failed: 10,
            ..Default::default()
        }
    );
    for bad in [
        "web1 : ok=8 changed=6 unreachable=0 failed=0 skipped=0 rescued=0",
        "web1 : ok=8 changed=6 unreachable=0 failed=0 skipped=0 ignored=0 rescued=0",
        "web1 : ok=8 changed=6 unreachable=0 failed=1x skipped=0 rescued=0 ignored=0",
        "web1 : ok=8 changed=6 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0 extra=1",
        " : ok=8 changed=6 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0",
    ] {
        assert!(support::HostStats::parse_line(bad).is_err(), "{bad}");
    }
    let banner = format!("\nPLAY RECAP {}\n", "*".repeat(69));
    let two = format!(
        "{banner}{line}\nweb2 : ok=1 changed=0 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0\n\n"
    );
    assert_eq!(support::parse_recap(&two).unwrap().len(), 2);
    assert!(support::parse_recap(&format!("{banner}{line}\n{line}\n")).is_err());
    assert!(support::parse_recap(&format!("{banner}{line}\nweb2 : ok=1\n")).is_err());
    assert!(support::parse_recap(&format!("{two}{two}")).is_err());
    assert!(support::parse_recap("PLAY RECAP\n").is_err());
}

#[test]
fn redactions_hide_what_changes_between_runs_and_nothing_else() {
    let mut r = support::Redactions::default();
    r.add("/tmp/zdd-lab-AbC123".into(), "[LAB]");
    let tmp = std::env::temp_dir().display().to_string();
    let text = format!(
        "lb:/tmp/zdd-lab-AbC123/haproxy.sock (0.76s) {tmp}/.tmpXy12Z9/site.yml\n\
         web1 -> lb(127.0.177.10) zdd-lab-177-web1 127.0.250.11\n\
         p50=1.5ms rc=0 in 12 ms \"duration_ms\": 40, \"time\": 1764500000000\n\
         \"delta\": \"0:00:00.052992\", \"end\": \"2026-11-30 07:08:58.624411\"\n\
         started 2026-11-30T07:01:02.123Z (pid 4242) within 1s version: 2\n"
    );
    assert_eq!(
        r.apply(&text),
        "lb:[LAB]/haproxy.sock ([DURATION]) [TMP]/site.yml\n\
         web1 -> lb(127.0.[NET].10) zdd-lab-[NET]-web1 127.0.250.11\n\
         p50=[DURATION] rc=0 in [DURATION] \"duration_ms\": [DURATION], \"time\": [TIME]\n\
         \"delta\": \"[DURATION]\", \"end\": \"[TIME]\"\n\
         started [TIME] (pid [PID]) within 1s version: 2\n"
    );
}

#[test]
fn host_order_sorts_hosts_under_a_banner_and_keeps_each_hosts_items_in_order() {
    let text = "\nTASK [a] ***\nok: [web2] => (item=x)\nfatal: [web1]: FAILED! => {}\n...ignoring\nok: [web2] => (item=a)\n\nTASK [b] ***\nchanged: [web2 -> lb(1.2.3.4)]\nok: [web1]\n";
    assert_eq!(
        support::in_host_order(text),
        "\nTASK [a] ***\nfatal: [web1]: FAILED! => {}\n...ignoring\nok: [web2] => (item=x)\nok: [web2] => (item=a)\n\nTASK [b] ***\nok: [web1]\nchanged: [web2 -> lb(1.2.3.4)]\n"
    );
}
