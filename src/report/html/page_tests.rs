//! The report's model and page, from synthetic runs (`fixtures`).

use super::fixtures::{result, rolling, run_info, watch_heal, Script};
use super::model::{Part, Report, MAX_POINTS};
use super::render_html;
use crate::events::{Event, RotationState, Status};
use crate::playbook::Section;
use regex::Regex;
use serde_json::json;

const FOUR: [&str; 4] = ["web1", "web2", "web3", "web4"];

/// `ZDD_REPORT_SAMPLES=DIR`: keep the pages the tests draw, to look at them in a browser.
fn keep(name: &str, page: &str) {
    if let Some(dir) = std::env::var_os("ZDD_REPORT_SAMPLES") {
        std::fs::write(std::path::Path::new(&dir).join(name), page).unwrap();
    }
}

fn count(page: &str, pattern: &str) -> usize {
    Regex::new(pattern).unwrap().find_iter(page).count()
}

/// The `data-host` of each element matching `<TAG class="CLASS..." data-host=`.
fn hosts_of(page: &str, tag: &str, class: &str) -> Vec<String> {
    let re = Regex::new(&format!(r#"<{tag} class="{class}[^"]*" data-host="([^"]*)""#)).unwrap();
    re.captures_iter(page).map(|c| c[1].to_owned()).collect()
}

#[test]
fn a_rolling_deploy_has_a_bar_per_host_batch_and_part_spanning_its_tasks() {
    let report = Report::from_events(&rolling(&FOUR, 2, &[]));
    assert_eq!(report.hosts, FOUR);
    assert_eq!(report.exit_code, Some(0));
    assert_eq!(report.playbook.as_deref(), Some("deploy.yml"));
    // Preflight ended when it was reported, 600 ms after it began: before any batch.
    let preflight = report.preflight.as_ref().unwrap();
    assert_eq!(
        (
            preflight.start,
            preflight.end,
            preflight.hosts,
            preflight.load_balancers
        ),
        (300, 900, 5, 1)
    );
    let page = render_html(&rolling(&FOUR, 2, &[]));
    assert_eq!(page.matches(r#"class="batch preflight""#).count(), 1, "{page}");
    assert!(page.contains(
        "preflight: 5 hosts reachable, sudo works on 4, 1 load balancer answers, \
         before any host was changed (600 ms)"
    ));
    // Batch 1 runs 1000..5900: pre 300, tasks 2000 + 800, handlers 500, post 1000 + 300.
    let b = &report.batches;
    assert_eq!(b.len(), 2);
    assert_eq!((b[0].start, b[0].end, b[0].index, b[0].total), (1000, 5900, 1, 2));
    assert_eq!((b[1].start, b[1].end), (6000, 10_900));
    let bar = |host: &str, part: Part| {
        let found: Vec<_> = report
            .bars
            .iter()
            .filter(|b| b.host == host && b.part == part)
            .collect();
        assert_eq!(found.len(), 1, "{host} {part:?}");
        (found[0].start, found[0].end, found[0].tasks.len())
    };
    assert_eq!(bar("web1", Part::PreTasks), (1000, 1300, 1));
    assert_eq!(bar("web1", Part::Tasks), (1300, 4100, 2));
    assert_eq!(bar("web1", Part::Handlers), (4100, 4600, 1));
    assert_eq!(bar("web1", Part::PostTasks), (4600, 5900, 2));
    assert_eq!(bar("web3", Part::Tasks), (6300, 9100, 2));
    assert_eq!(report.bars.len(), 16);
    let web1_tasks = report
        .bars
        .iter()
        .find(|b| b.host == "web1" && b.part == Part::Tasks)
        .unwrap();
    let tasks: Vec<_> = web1_tasks.tasks.iter().map(|t| (t.name.as_str(), t.ms)).collect();
    assert_eq!(tasks, [("deploy release", 2000), ("restart app", 800)]);
    // Out from the disable command (may_be_out) until the enable said back.
    let outs: Vec<_> = report
        .out_spans
        .iter()
        .map(|s| (s.host.as_str(), s.start, s.end, s.still_out))
        .collect();
    assert_eq!(
        outs,
        [
            ("web1", 1000, 5900, false),
            ("web2", 1000, 5900, false),
            ("web3", 6000, 10_900, false),
            ("web4", 6000, 10_900, false)
        ]
    );
    let moments: Vec<_> = report.lb_moments.iter().map(|m| (m.at, m.leave)).collect();
    assert_eq!(moments[..2], [(1300, true), (1300, true)]);
    assert_eq!(moments.len(), 8);
    assert!(report.failures.is_empty());
    assert_eq!(report.recap.len(), 4);
}

#[test]
fn probe_samples_are_placed_on_the_time_axis_from_when_they_were_reported() {
    let report = Report::from_events(&rolling(&FOUR, 2, &[]));
    // The probe ran 200..11000: 10 whole seconds and a partial one.
    assert_eq!(report.samples.len(), 11);
    assert_eq!(report.sample_seconds, 1);
    let s3 = &report.samples[3];
    assert_eq!((s3.second, s3.start, s3.end), (3, 3200, 4200));
    assert_eq!(s3.requests_per_s, 180.0);
    let last = report.samples.last().unwrap();
    // The partial last second ends where the probe stopped: 90 requests in 0.8 s.
    assert_eq!((last.second, last.start, last.end), (10, 10_200, 11_000));
    assert_eq!(last.requests_per_s, 112.5);
    assert_eq!(report.probe.as_ref().unwrap().requests, 1944);
}

#[test]
fn a_long_watch_is_downsampled_to_at_most_600_points_keeping_every_request() {
    let mut s = Script::default();
    s.probe(0, 3_600_000, &[(1234, 7)]);
    let events = s.finish();
    let report = Report::from_events(&events);
    assert!(report.samples.len() <= MAX_POINTS, "{}", report.samples.len());
    // 3601 samples (the last a partial second), 7 to a point.
    assert_eq!(report.samples.len(), 515);
    assert_eq!(report.sample_seconds, 7);
    let total: u64 = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::ProbeSample(p) => Some(p.requests),
            _ => None,
        })
        .sum();
    assert_eq!(report.samples.iter().map(|s| s.requests).sum::<u64>(), total);
    let first = &report.samples[0];
    assert_eq!((first.second, first.start, first.end), (0, 0, 7000));
    assert_eq!(
        first.requests_per_s,
        (180 + 190 + 200 + 180 + 190 + 200 + 180) as f64 / 7.0
    );
    let failed: Vec<_> = report.samples.iter().filter(|s| s.failed > 0).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!((failed[0].second, failed[0].failed), (1232, 7));
    let page = render_html(&events);
    assert_eq!(
        count(&page, r#"<circle class="probe-point" data-second="\d+""#),
        report.samples.len()
    );
}

#[test]
fn the_page_has_the_hooks_the_browser_test_reads() {
    let page = render_html(&rolling(&FOUR, 2, &[]));
    assert_eq!(
        count(
            &page,
            r#"<main id="zdd-report" data-exit-code="0" data-hosts="4">"#
        ),
        1
    );
    assert_eq!(hosts_of(&page, "g", "host-row"), FOUR);
    for part in ["pre_tasks", "tasks", "handlers", "post_tasks"] {
        let hosts = hosts_of(&page, "rect", &format!("bar section-{part}"));
        assert_eq!(hosts, FOUR, "{part}");
    }
    assert_eq!(hosts_of(&page, "rect", "out-of-rotation"), FOUR);
    assert_eq!(
        count(&page, r#"<circle class="probe-point" data-second="\d+""#),
        11
    );
    assert_eq!(
        count(
            &page,
            r#"<line class="lb-moment lb-leave" data-server="web&#x2f;web\d""#
        ),
        4
    );
    assert_eq!(
        count(
            &page,
            r#"<line class="lb-moment lb-rejoin" data-server="web&#x2f;web\d""#
        ),
        4
    );
    assert_eq!(count(&page, r#"<table class="recap">"#), 1);
    assert!(page.contains("</i>no failed requests</span>"));
    let recap_rows = Regex::new(r#"<tr data-host="([^"]+)""#).unwrap();
    let rows: Vec<_> = recap_rows.captures_iter(&page).map(|c| c[1].to_owned()).collect();
    assert_eq!(rows, FOUR);
    assert_eq!(count(&page, r#"class="failure""#), 0);
    assert_eq!(count(&page, r#"<table class="out-of-rotation""#), 0);
    assert_eq!(count(&page, "color-switch"), 0);
    // The header.
    assert!(page.contains("exit 0: ok"), "{page}");
    assert!(page
        .contains("zdd apply deploy.yml -i inventory.ini --probe http:&#x2f;&#x2f;127.0.0.1:8080&#x2f; -e"));
    assert!(page.contains("db_password=********"));
    assert!(page.contains("zdd 0.1.0 (abc1234)"));
    assert!(page.contains("build-1 (Debian GNU&#x2f;Linux 12 (bookworm), x86_64, 2 CPUs), user deploy"));
    assert!(page.contains("1944 requests, 0 failed, p50 2.5 ms, p99 12.0 ms"));
    // A bar's tooltip lists its tasks with their durations.
    assert!(page.contains(
        "web1 tasks, batch 1&#x2f;2: 2.8 s\ndeploy release (2.0 s, changed)\nrestart app (800 ms, changed)"
    ));
}

#[test]
fn a_failed_host_is_marked_and_left_out_of_rotation_to_the_end() {
    let events = rolling(&FOUR, 2, &["web3"]);
    let report = Report::from_events(&events);
    assert_eq!(report.exit_code, Some(2));
    assert_eq!(report.hosts, FOUR, "rows for every host of the batches run");
    assert_eq!(report.failures.len(), 1);
    let f = &report.failures[0];
    assert_eq!(
        (f.host.as_str(), f.task.as_str(), f.at),
        ("web3", "deploy release", 8300)
    );
    assert_eq!(f.message, "Could not find release 2.4.1 in /srv/releases");
    let web3: Vec<_> = report.out_spans.iter().filter(|s| s.host == "web3").collect();
    assert_eq!(web3.len(), 1);
    assert!(web3[0].still_out);
    assert_eq!((web3[0].start, web3[0].end), (6000, report.duration_ms));
    assert!(
        !report
            .out_spans
            .iter()
            .find(|s| s.host == "web4")
            .unwrap()
            .still_out
    );
    // web3 has no handlers or post_tasks bar.
    let parts: Vec<_> = report
        .bars
        .iter()
        .filter(|b| b.host == "web3")
        .map(|b| b.part)
        .collect();
    assert_eq!(parts, [Part::PreTasks, Part::Tasks]);
    assert_eq!(report.samples.iter().map(|s| s.failed).sum::<u64>(), 3);

    let page = render_html(&events);
    keep("failed.html", &page);
    assert_eq!(count(&page, r#"data-exit-code="2""#), 1);
    assert_eq!(hosts_of(&page, "g", "failure"), ["web3"]);
    assert_eq!(
        count(
            &page,
            r#"<rect class="out-of-rotation still-out" data-host="web3""#
        ),
        1
    );
    assert!(page.contains(">still out</text>"));
    assert_eq!(count(&page, r#"<table class="out-of-rotation">"#), 1);
    assert!(page.contains("echo &#x27;enable server web&#x2f;web3&#x27; | socat stdio"));
    assert_eq!(count(&page, r#"<rect class="failed""#), 1);
    assert!(page.contains("</i>failed requests</span>"));
    assert!(page.contains("a host failed: the rollout stops after this batch"));
    assert!(page.contains("exit 2: a host failed"));
}

#[test]
fn a_no_log_failure_shows_only_the_censored_text() {
    let mut s = Script::default();
    s.emit(Event::BatchStart {
        play: "db".into(),
        play_index: 1,
        index: 1,
        total: 1,
        hosts: vec!["db1".into()],
    });
    s.task(Section::Tasks, false, "set the password", &[], 0);
    let mut r = result(
        "db1",
        "set the password",
        Status::Failed,
        400,
        json!({"failed": true, "msg": "password hunter2 rejected", "stderr": "hunter2"}),
    );
    r.censor();
    s.at(500).emit(Event::HostResult(r));
    s.at(600).emit(Event::RunEnd { exit_code: 2 });
    let events = s.finish();
    let report = Report::from_events(&events);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(
        report.failures[0].message,
        "the output has been hidden due to the fact that 'no_log: true' was specified for this result"
    );
    let page = render_html(&events);
    assert!(!page.contains("hunter2"));
    assert!(page.contains("hidden due to the fact that &#x27;no_log: true&#x27; was specified"));
    assert_eq!(hosts_of(&page, "g", "failure"), ["db1"]);
}

#[test]
fn a_blue_green_switch_says_from_what_to_what_and_the_live_color() {
    let mut s = Script::default();
    s.emit(run_info(&["zdd", "apply", "bluegreen.yml"]));
    s.emit(Event::BatchStart {
        play: "switch".into(),
        play_index: 1,
        index: 1,
        total: 1,
        hosts: vec!["green1".into()],
    });
    s.task(Section::Tasks, false, "switch the upstream", &[], 0);
    let switch = |from: &str, to: &str| {
        json!({"changed": true, "path": "/etc/nginx/conf.d/app.conf", "upstream": "app",
               "color": to, "previous_color": from, "servers": ["10.0.0.2:80"],
               "previous_servers": ["10.0.0.1:80"]})
    };
    let mut r = result(
        "green1",
        "switch the upstream",
        Status::Changed,
        200,
        switch("blue", "green"),
    );
    r.delegate = Some("lb".into());
    s.at(1200).emit(Event::HostResult(r));
    s.at(1300).emit(Event::RunEnd { exit_code: 0 });
    let events = s.finish();
    let report = Report::from_events(&events);
    assert_eq!(report.hosts, ["green1"], "the delegate is not a row");
    assert_eq!(report.switches.len(), 1);
    let sw = &report.switches[0];
    assert_eq!(
        (
            sw.record.host.as_str(),
            sw.record.from.as_deref(),
            sw.record.to.as_str(),
            sw.at_ms
        ),
        ("lb", Some("blue"), "green", 1200)
    );
    assert_eq!(sw.record.at, "2026-12-01T01:00:01.200Z");
    assert_eq!(report.live_color.as_deref(), Some("green"));
    let page = render_html(&events);
    keep("bluegreen.html", &page);
    assert_eq!(count(&page, r#"<section class="card color-switch">"#), 1);
    assert!(page.contains(r#"Live color: <span class="color color-green">green</span>"#));
    assert!(page.contains("<dt>Live color</dt><dd>green</dd>"));
    assert!(page.contains(
        r#"<span class="color color-blue">blue</span> → <span class="color color-green">green</span>"#
    ));
}

#[test]
fn a_watch_heal_draws_critical_marks_the_redeploy_and_the_span_out() {
    let events = watch_heal();
    let report = Report::from_events(&events);
    assert_eq!(report.hosts, ["web1", "web2", "web3"]);
    let marks: Vec<_> = report
        .health_marks
        .iter()
        .map(|m| (m.target.as_str(), m.state.as_str(), m.at))
        .collect();
    assert_eq!(
        marks,
        [
            ("web2", "critical", 3000),
            ("service", "critical", 5000),
            ("web3", "given_up", 9000)
        ]
    );
    assert_eq!(report.redeploys.len(), 1);
    let d = &report.redeploys[0];
    assert_eq!(
        (d.hosts.as_slice(), d.start, d.end, d.outcome.as_str()),
        (&["web2".to_owned()][..], 3200, 7200, "healed")
    );
    let outs: Vec<_> = report
        .out_spans
        .iter()
        .map(|s| (s.host.as_str(), s.start, s.end, s.still_out))
        .collect();
    assert_eq!(outs, [("web2", 3100, 7300, false), ("web3", 9500, 12_000, true)]);
    let page = render_html(&events);
    keep("watch.html", &page);
    assert_eq!(hosts_of(&page, "g", "host-row"), ["web1", "web2", "web3"]);
    assert_eq!(count(&page, r#"<g class="health health-critical""#), 2);
    assert_eq!(
        count(&page, r#"<g class="health health-given_up" data-host="web3""#),
        1
    );
    assert_eq!(
        count(
            &page,
            r#"<rect class="redeploy redeploy-healed" data-host="web2""#
        ),
        1
    );
    assert_eq!(
        count(&page, r#"<line class="lb-moment lb-leave" data-server="web\d""#),
        2
    );
    assert_eq!(
        count(&page, r#"<line class="lb-moment lb-rejoin" data-server="web2""#),
        1
    );
    // Written after the redeploy, before the watch ended: no exit code yet.
    let heal_end = events
        .iter()
        .position(|e| matches!(e.event, Event::HealEnd { .. }))
        .unwrap();
    let so_far = &events[..=heal_end];
    let report = Report::from_events(so_far);
    assert_eq!(report.exit_code, None);
    assert_eq!(
        report.out_spans[0].end, 7200,
        "still out when the page was written"
    );
    assert!(report.out_spans[0].still_out);
    let page = render_html(so_far);
    assert_eq!(count(&page, r#"data-exit-code="""#), 1);
}

#[test]
fn a_watch_take_out_reported_twice_is_drawn_once() {
    // The watch's rotation reports `Rotation` events (backend/server) and the engine its
    // `WatchRotation` (host) for the same move.
    let mut s = Script::default();
    s.emit(Event::WatchStart {
        targets: vec!["web2".into()],
        service: None,
        interval_ms: 1000,
        failures: 2,
        max_redeploys: 1,
    });
    let watch = |action: &str| Event::WatchRotation {
        host: "web2".into(),
        place: "HAProxy web/web2 at /run/haproxy/admin.sock".into(),
        action: action.into(),
        detail: None,
    };
    s.at(1000).rotation("web2", RotationState::MayBeOut);
    s.at(1100).rotation("web2", RotationState::Out).emit(watch("out"));
    s.at(4000)
        .rotation("web2", RotationState::Back)
        .emit(watch("back"));
    s.at(5000).emit(Event::RunEnd { exit_code: 0 });
    let report = Report::from_events(&s.finish());
    let outs: Vec<_> = report
        .out_spans
        .iter()
        .map(|o| (o.server.as_str(), o.start, o.end))
        .collect();
    assert_eq!(outs, [("web/web2", 1000, 4000)]);
    let moments: Vec<_> = report.lb_moments.iter().map(|m| (m.at, m.leave)).collect();
    assert_eq!(moments, [(1100, true), (4000, false)]);
}

#[test]
fn a_server_reported_back_again_and_again_rejoins_once() {
    // As the runner reports it: `back` for every server after each rotation task.
    let mut s = Script::default();
    s.emit(Event::BatchStart {
        play: "web".into(),
        play_index: 1,
        index: 1,
        total: 2,
        hosts: vec!["web1".into()],
    });
    s.at(100).rotation("web1", RotationState::MayBeOut);
    s.at(180).rotation("web1", RotationState::Out);
    s.at(800).rotation("web1", RotationState::Back);
    s.at(900).rotation("web2", RotationState::MayBeOut);
    s.at(1000).rotation("web1", RotationState::Back);
    s.at(1010).rotation("web2", RotationState::Out);
    s.at(1020).rotation("web2", RotationState::Out);
    s.at(1400).rotation("web1", RotationState::Back);
    s.at(1410).rotation("web2", RotationState::Back);
    s.at(1500).rotation("web2", RotationState::Back);
    let report = Report::from_events(&s.finish());
    let moments: Vec<_> = report
        .lb_moments
        .iter()
        .map(|m| (m.host.as_str(), m.at, m.leave))
        .collect();
    assert_eq!(
        moments,
        [
            ("web1", 180, true),
            ("web1", 800, false),
            ("web2", 1010, true),
            ("web2", 1410, false)
        ]
    );
    let outs: Vec<_> = report
        .out_spans
        .iter()
        .map(|o| (o.host.as_str(), o.start, o.end))
        .collect();
    assert_eq!(outs, [("web1", 100, 800), ("web2", 900, 1410)]);
}

#[test]
fn preflight_problems_and_an_interrupt_are_listed() {
    let mut s = Script::default();
    let mut unreachable = indexmap::IndexMap::new();
    unreachable.insert(
        "web9".to_owned(),
        "ssh: connect to host 10.0.0.9 port 22: Connection refused".to_owned(),
    );
    s.emit(Event::PreflightFailed {
        unreachable,
        problems: vec![crate::events::HostProblem {
            host: "web8".into(),
            message: "sudo: a password is required".into(),
        }],
    });
    s.emit(Event::Interrupted {
        completed: vec![],
        stopped: vec!["web1".into()],
        failed: vec![],
        not_started: vec!["web2".into(), "web3".into()],
    });
    s.at(300).emit(Event::RunEnd { exit_code: 4 });
    let report = Report::from_events(&s.finish());
    let failures: Vec<_> = report
        .failures
        .iter()
        .map(|f| (f.host.as_str(), f.task.as_str(), f.unreachable))
        .collect();
    assert_eq!(
        failures,
        [("web9", "preflight", true), ("web8", "preflight", false)]
    );
    assert_eq!(
        report.warnings,
        ["interrupted: stopped half way: web1; never started: web2, web3"]
    );
    assert_eq!(report.exit_meaning(), "a host was unreachable");
}

#[test]
fn markup_in_a_host_or_task_name_is_text() {
    let mut s = Script::default();
    let host = "<script>alert(1)</script>";
    s.emit(Event::BatchStart {
        play: "x\" onload=\"alert(2)".into(),
        play_index: 1,
        index: 1,
        total: 1,
        hosts: vec![host.into()],
    });
    s.at(100).task_failing(
        Section::Tasks,
        false,
        "<img src=x onerror=alert(3)>",
        &[host],
        500,
        &[host],
        "</title><script>alert(4)</script>",
    );
    s.emit(Event::Warning {
        message: "<b>bold</b>".into(),
    });
    let page = render_html(&s.finish());
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("<img"));
    assert!(!page.contains("<b>"));
    assert!(!page.contains("\" onload"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
    assert!(page.contains("&lt;&#x2f;title&gt;&lt;script&gt;alert(4)"));
    assert_eq!(
        count(&page, r#"<g class="host-row" data-host="&lt;script&gt;"#),
        1
    );
}

#[test]
fn the_page_fetches_nothing() {
    for events in [rolling(&FOUR, 2, &["web3"]), watch_heal()] {
        let page = render_html(&events);
        for needle in [
            "src=", "href=", "url(", "@import", "<link", "<script", "<iframe", "<object",
        ] {
            assert!(!page.contains(needle), "{needle}");
        }
        // The only URL is the probe's, as text.
        let urls = page.matches("http:").count() + page.matches("https:").count();
        let probe = count(&page, r"http:&#x2f;&#x2f;127\.0\.0\.1:8080");
        assert_eq!(urls, probe);
    }
}

#[test]
fn forty_hosts_make_a_page_under_1_mb_with_a_row_each() {
    let hosts: Vec<String> = (1..=40).map(|i| format!("web{i:02}.prod.example.com")).collect();
    let names: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let events = rolling(&names, 2, &[]);
    let page = render_html(&events);
    assert!(page.len() < 1_000_000, "{} bytes", page.len());
    assert_eq!(hosts_of(&page, "g", "host-row"), names);
    assert_eq!(count(&page, r#"<rect class="bar section-"#), 160);
    let samples = events
        .iter()
        .filter(|e| matches!(e.event, Event::ProbeSample(_)))
        .count();
    assert_eq!(count(&page, r#"<circle class="probe-point""#), samples);
    // Coordinates are rounded to 0.1.
    assert_eq!(count(&page, r#"="-?\d+\.\d\d"#), 0);
    eprintln!("40 hosts: {} bytes", page.len());
    keep("forty.html", &page);
}

#[test]
fn the_page_of_a_rolling_deploy() {
    let page = render_html(&rolling(&FOUR, 2, &[]));
    keep("rolling.html", &page);
    insta::assert_snapshot!(page);
}

#[test]
fn events_out_of_time_order_still_make_a_page() {
    // `zdd report` reads any NDJSON: times that go backwards draw oddly, never panic.
    let mut events = rolling(&FOUR, 2, &["web3"]);
    events.reverse();
    let report = Report::from_events(&events);
    assert_eq!(report.hosts.len(), 4);
    assert!(report.bars.iter().all(|b| b.start <= b.end));
    assert!(report.out_spans.iter().all(|s| s.start <= s.end));
    assert!(report.samples.iter().all(|s| s.start <= s.end));
    let page = render_html(&events);
    assert_eq!(hosts_of(&page, "g", "host-row").len(), 4);
}

#[test]
fn a_page_drawn_from_a_journal_alone_says_what_it_cannot_show() {
    let mut s = Script::default();
    s.emit(Event::Warning {
        message: crate::commands::report::JOURNAL_ALONE.into(),
    });
    s.at(100).emit(Event::RunEnd { exit_code: 0 });
    let events = s.finish();
    assert!(Report::from_events(&events).journal_alone);
    let page = render_html(&events);
    assert!(page.contains("A journal does not keep the probe's traffic."));
    assert!(page.contains("A journal does not keep the recap"));
    assert!(!page.contains("No probe ran"));
    let page = render_html(&rolling(&FOUR, 2, &[])[..3]);
    assert!(page.contains("No probe ran"), "{page}");
}

#[test]
fn an_empty_event_list_still_makes_a_page() {
    let page = render_html(&[]);
    assert!(page.contains(r#"<main id="zdd-report" data-exit-code="" data-hosts="0">"#));
    assert!(page.contains("No host ran a task."));
}

/// `zdd apply --output json` of a two-host playbook on local connections (serial 1: a
/// pre_task, a task notifying a handler, an ignored `no_log` failure, a loop, a post_task).
const LOCAL_RUN: &str = include_str!("local-run.ndjson");

#[test]
fn a_real_output_json_stream_draws_a_bar_per_host_and_part() {
    let events: Vec<super::Timed> = LOCAL_RUN
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let report = Report::from_events(&events);
    assert_eq!(report.hosts, ["h1", "h2"]);
    assert_eq!(report.exit_code, Some(0));
    assert_eq!(report.bars.len(), 8);
    for host in ["h1", "h2"] {
        let parts: Vec<_> = report
            .bars
            .iter()
            .filter(|b| b.host == host)
            .map(|b| b.part)
            .collect();
        assert_eq!(
            parts,
            [Part::PreTasks, Part::Tasks, Part::Handlers, Part::PostTasks]
        );
    }
    // The loop's items are summed up by its whole-task result: listed once.
    let tasks = report
        .bars
        .iter()
        .find(|b| b.host == "h1" && b.part == Part::Tasks)
        .unwrap();
    let names: Vec<_> = tasks.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["deploy", "secret", "loop"]);
    // Each bar runs from its first task's start to its last result, inside its batch.
    for bar in &report.bars {
        let batch = &report.batches[bar.batch.unwrap()];
        assert!(
            batch.start <= bar.start && bar.end <= batch.end,
            "{bar:?} {batch:?}"
        );
        let tasks_ms: u64 = bar.tasks.iter().map(|t| t.ms).sum();
        assert!(
            bar.end - bar.start >= tasks_ms && bar.end - bar.start <= tasks_ms + 20,
            "{bar:?}"
        );
    }
    assert!(report.failures.is_empty(), "the no_log failure was ignored");
    let page = render_html(&events);
    assert_eq!(hosts_of(&page, "g", "host-row"), ["h1", "h2"]);
    assert_eq!(count(&page, r#"<rect class="bar section-"#), 8);
}

/// `zdd apply --output json --probe` of `examples/lab/zero-downtime.yml` on the lab (three
/// web hosts one at a time, HAProxy in front).
const LAB_RUN: &str = include_str!("lab-run.ndjson");

#[test]
fn a_real_lab_rollout_draws_one_leave_and_one_rejoin_per_server() {
    let events: Vec<super::Timed> = LAB_RUN
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let report = Report::from_events(&events);
    assert_eq!(report.hosts, ["web1", "web2", "web3"]);
    let moments: Vec<_> = report
        .lb_moments
        .iter()
        .map(|m| (m.server.as_str(), m.leave))
        .collect();
    assert_eq!(
        moments,
        [
            ("loadbalancer/web1", true),
            ("loadbalancer/web1", false),
            ("loadbalancer/web2", true),
            ("loadbalancer/web2", false),
            ("loadbalancer/web3", true),
            ("loadbalancer/web3", false)
        ]
    );
    // Each host was out inside its own batch, and back before the next began.
    for (span, batch) in report.out_spans.iter().zip(&report.batches) {
        assert!(!span.still_out);
        assert_eq!(batch.hosts, std::slice::from_ref(&span.host));
        assert!(
            batch.start <= span.start && span.end <= batch.end,
            "{span:?} {batch:?}"
        );
    }
    assert_eq!(report.out_spans.len(), 3);
    let samples = events
        .iter()
        .filter(|e| matches!(e.event, Event::ProbeSample(_)))
        .count();
    assert_eq!(report.samples.len(), samples);
    let requests: u64 = report.samples.iter().map(|s| s.requests).sum();
    assert_eq!(requests, report.probe.as_ref().unwrap().requests);
    let page = render_html(&events);
    keep("lab.html", &page);
    assert_eq!(count(&page, r#"<circle class="probe-point""#), samples);
    assert_eq!(count(&page, r#"<line class="lb-moment lb-(leave|rejoin)""#), 6);
}
