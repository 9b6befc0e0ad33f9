//! The HTML rollout report opened in a real browser: headless Chromium (support/browser.rs)
//! loads the page zdd wrote, and the test reads what it shows from the DOM.

mod support;

use regex::Regex;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;
use support::browser::Browser;
use support::Lab;

/// The harness itself, on a page written here: what the page says on the console and what
/// it throws reaches the test, an expression's value comes back as JSON, and the screenshot
/// is a PNG of the whole page.
#[test]
fn the_browser_harness_sees_console_errors_and_reads_the_dom() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.html");
    std::fs::write(
        &clean,
        "<!doctype html><title>t</title><ul><li class=row>a</li><li class=row>b</li></ul>\
         <div style='height:2000px'></div>",
    )
    .unwrap();
    let noisy = dir.path().join("noisy.html");
    std::fs::write(
        &noisy,
        "<!doctype html><title>t</title><script>console.error('bad', 42);\
         console.log('fine');</script><script>throw new Error('boom')</script>",
    )
    .unwrap();

    let mut browser = Browser::start();
    let loaded = browser.open(&noisy);
    assert_eq!(loaded.console_errors.len(), 2, "{:?}", loaded.console_errors);
    assert_eq!(loaded.console_errors[0], "console.error: bad 42");
    assert!(
        loaded.console_errors[1].contains("Error: boom"),
        "{:?}",
        loaded.console_errors
    );

    let loaded = browser.open(&clean);
    assert_eq!(loaded.console_errors, Vec::<String>::new());
    assert!(loaded.load_ms > 0.0);
    let rows = browser.eval("[...document.querySelectorAll('li.row')].map(li => li.textContent)");
    assert_eq!(rows, serde_json::json!(["a", "b"]));

    let png = dir.path().join("page.png");
    browser.screenshot(&png);
    let (width, height) = png_size(&png);
    assert_eq!(width, support::browser::WINDOW_WIDTH);
    assert!(height >= 2000, "the whole page, not the window: {height} px");
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &Path) -> (u32, u32) {
    let bytes = std::fs::read(png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is no PNG", png.display());
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

/// A rollout of the lab's four web servers, one at a time, under the probe, with
/// `--report` and `--output json`: the page Chromium shows has no console error, one row
/// per host of the recap, one point per second the probe reported, one leave and one
/// rejoin line for every server taken out and put back; its screenshot and the structure of its
/// HTML (times and numbers redacted) are kept.
#[test]
fn the_report_of_a_lab_rollout_opens_in_chromium_with_a_row_per_host_and_a_point_per_probe_second() {
    let lab = Lab::start(4);
    let work = tempfile::tempdir().unwrap();
    let report = work.path().join("R.html");
    let out = lab
        .zdd()
        .apply(support::lab_playbook())
        .extra("version=2")
        .args(["--probe", &lab.haproxy_url()])
        .arg("--report")
        .arg(&report)
        .args(["--output", "json"])
        .run();
    out.assert_code(0);
    std::fs::write(work.path().join("run.ndjson"), &out.stdout).unwrap();
    let events = out.events();

    let recap = events
        .iter()
        .rfind(|e| e["event"] == "recap")
        .expect("a recap event");
    let mut recap_hosts: Vec<String> = recap["hosts"]
        .as_object()
        .expect("the recap's hosts")
        .keys()
        .cloned()
        .collect();
    recap_hosts.sort();
    assert_eq!(recap_hosts, lab.hosts());
    let seconds: Vec<Value> = events
        .iter()
        .filter(|e| e["event"] == "probe_sample")
        .map(|e| e["second"].clone())
        .collect();
    assert!(!seconds.is_empty(), "no probe_sample event:\n{out}");
    let left_and_rejoined = servers_out_and_back(&events);
    assert_eq!(left_and_rejoined.len(), 4, "{left_and_rejoined:?}");

    let mut browser = Browser::start();
    let loaded = browser.open(&report);
    assert_eq!(loaded.console_errors, Vec::<String>::new());

    let mut rows = strings(
        browser.eval("[...document.querySelectorAll('g.host-row[data-host]')].map(g => g.dataset.host)"),
    );
    rows.sort();
    assert_eq!(rows, recap_hosts, "one timeline row per host of the recap");

    let points = browser.eval(
        "[...document.querySelectorAll('circle.probe-point[data-second]')]\
         .map(c => Number(c.dataset.second))",
    );
    if seconds.len() <= MAX_PROBE_POINTS {
        assert_eq!(points, Value::Array(seconds), "one point per probe second");
    } else {
        let drawn = points.as_array().unwrap().len();
        assert!((1..=MAX_PROBE_POINTS).contains(&drawn), "{drawn} points");
    }

    for server in &left_and_rejoined {
        for moment in ["lb-leave", "lb-rejoin"] {
            let selector = format!("line.lb-moment.{moment}[data-server=\"{server}\"]");
            let found = browser.eval(&format!(
                "document.querySelectorAll({}).length",
                serde_json::to_string(&selector).unwrap()
            ));
            assert_eq!(found, 1, "`{selector}` in the traffic chart: one, once");
        }
    }

    let png = support::browser::screenshot_path("report.png");
    browser.screenshot(&png);
    let (width, height) = png_size(&png);
    assert!(width >= 800 && height >= 400, "{width}x{height}");
    eprintln!(
        "report: {} bytes, loaded in {:.0} ms; screenshot {} ({width}x{height})",
        std::fs::metadata(&report).unwrap().len(),
        loaded.load_ms,
        png.display()
    );

    let html = std::fs::read_to_string(&report).unwrap();
    let paths = [
        (lab.dir().display().to_string(), "[LAB]"),
        (work.path().display().to_string(), "[WORK]"),
        (support::repo_root().display().to_string(), "[REPO]"),
        (env!("CARGO_BIN_EXE_zdd").to_string(), "[ZDD]"),
    ];
    insta::assert_snapshot!(html_structure(&html, &paths));
}

/// A rollout of 40 web servers, twenty at a time, with `--report`: the page stays under 1 MB
/// and Chromium loads it (navigation start to the end of the load event) in under a second.
#[test]
fn the_report_of_a_forty_host_rollout_is_under_a_megabyte_and_loads_in_under_a_second() {
    let _alone = one_lab_at_a_time();
    let started = Instant::now();
    let lab = Lab::start(40);
    let lab_started = started.elapsed();
    let work = tempfile::tempdir().unwrap();
    let playbook = lab_playbook_with_serial(work.path(), 20);
    let report = work.path().join("forty.html");
    let rollout = Instant::now();
    let out = lab
        .zdd()
        .apply(&playbook)
        .extra("version=2")
        .arg("--report")
        .arg(&report)
        .run();
    out.assert_code(0);
    let rollout = rollout.elapsed();

    let size = std::fs::metadata(&report).unwrap().len();
    assert!(size < 1_000_000, "a 40-host report of {size} bytes");
    let mut browser = Browser::start();
    let loaded = browser.open(&report);
    assert_eq!(loaded.console_errors, Vec::<String>::new());
    assert!(loaded.load_ms < 1000.0, "loaded in {} ms", loaded.load_ms);
    let rows = browser.eval("document.querySelectorAll('g.host-row[data-host]').length");
    assert_eq!(rows, 40);
    eprintln!(
        "40 hosts: lab started in {lab_started:.1?}, rollout {rollout:.1?}; report {size} bytes, \
         loaded in {:.0} ms",
        loaded.load_ms
    );
}

/// The two lab tests run one after the other: the 40-host rollout and the page's load
/// time are measured on a machine that is not also running the other rollout.
fn one_lab_at_a_time() -> MutexGuard<'static, ()> {
    static LAB: Mutex<()> = Mutex::new(());
    LAB.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The traffic chart draws at most this many points (a long watch's samples are bucketed).
const MAX_PROBE_POINTS: usize = 600;

/// The servers a `rotation` event said were out and a later one said were back.
fn servers_out_and_back(events: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    let mut back = Vec::new();
    for event in events.iter().filter(|e| e["event"] == "rotation") {
        let server = event["server"].as_str().unwrap_or_default().to_string();
        match event["state"].as_str() {
            Some("out") if !out.contains(&server) => out.push(server),
            Some("back") if out.contains(&server) && !back.contains(&server) => back.push(server),
            _ => {}
        }
    }
    back
}

fn strings(value: Value) -> Vec<String> {
    serde_json::from_value(value).expect("an array of strings")
}

/// The lab's playbook with `serial: N`, beside a copy of its templates.
fn lab_playbook_with_serial(dir: &Path, serial: usize) -> PathBuf {
    let lab = support::repo_root().join("examples/lab");
    let text = std::fs::read_to_string(lab.join("zero-downtime.yml")).unwrap();
    assert!(
        text.contains("\n  serial: 1\n"),
        "the lab playbook's serial changed"
    );
    let playbook = dir.join("zero-downtime.yml");
    std::fs::write(
        &playbook,
        text.replace("\n  serial: 1\n", &format!("\n  serial: {serial}\n")),
    )
    .unwrap();
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    for entry in std::fs::read_dir(lab.join("templates")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), templates.join(entry.file_name())).unwrap();
    }
    playbook
}

/// The page's HTML as a stable outline: one tag per line; what changes from run to run
/// replaced (times, numbers, durations, paths, the machine and zdd's version, SVG
/// coordinates, labels shortened to fit, the style sheet, the leave/rejoin lines whose
/// order and labels follow the run's timing and which the test checks from the DOM), and a
/// block of lines repeated right after itself (a row per host, a point per second) kept once.
fn html_structure(html: &str, paths: &[(String, &str)]) -> String {
    let mut text = html.replace("&#x2f;", "/");
    let mut paths = paths.to_vec();
    // Longest first: the lab's directory before the temporary directory it is in.
    paths.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
    for (path, placeholder) in &paths {
        text = text.replace(path.as_str(), placeholder);
    }
    let replacements = [
        (r"(?s)<style>.*?</style>", "<style>[CSS]</style>"),
        (r"(<dt>Machine</dt>\s*<dd)[^>]*>[^<]*", "$1>[MACHINE]"),
        (r"(<dt>zdd</dt>\s*<dd)[^>]*>[^<]*", "$1>[VERSION]"),
        // A batch band's label is shortened when the band is narrow.
        (r#"(<text class="in"[^>]*>)[^<]*"#, "$1[BATCH]"),
        (
            r#"(?s)<line class="lb-moment[^>]*(/>|>.*?</line>)|<text class="lb-moment[^>]*>[^<]*</text>"#,
            "<lb-moment/>",
        ),
        (r">\s*<", ">\n<"),
        (r#"\b(points|d|viewBox|transform)="[^"]*""#, r#"$1="…""#),
        (
            r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?",
            "[TIME]",
        ),
    ];
    for (pattern, replacement) in replacements {
        text = Regex::new(pattern)
            .unwrap()
            .replace_all(&text, replacement)
            .into_owned();
    }
    let numbers = Regex::new(r"\d+(?:\.\d+)?(?:[-:., /×]+\d+(?:\.\d+)?)*").unwrap();
    let mut redacted = String::new();
    let mut last = 0;
    for found in numbers.find_iter(&text) {
        redacted.push_str(&text[last..found.start()]);
        let before = &text[..found.start()];
        // Heading tags keep their level.
        if before.ends_with("<h") || before.ends_with("</h") {
            redacted.push_str(found.as_str());
        } else {
            redacted.push('N');
        }
        last = found.end();
    }
    redacted.push_str(&text[last..]);
    // `N ms` or `N s` as the duration's size has it (`p99 N ms`, `+N s`).
    let redacted = Regex::new(r"N ?m?s\b").unwrap().replace_all(&redacted, "[T]");
    let lines: Vec<&str> = redacted
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    collapse_repeats(&lines).join("\n")
}

/// Lines with each block that repeats right after itself kept once and marked.
fn collapse_repeats(lines: &[&str]) -> Vec<String> {
    const LONGEST_BLOCK: usize = 60;
    let mut out = Vec::new();
    let mut at = 0;
    'next: while at < lines.len() {
        for len in 1..=LONGEST_BLOCK.min((lines.len() - at) / 2) {
            let block = &lines[at..at + len];
            if block == &lines[at + len..at + 2 * len] {
                let mut end = at + 2 * len;
                while end + len <= lines.len() && &lines[end..end + len] == block {
                    end += len;
                }
                out.extend(collapse_repeats(block));
                out.push(format!("[the {len} line(s) above, repeated]"));
                at = end;
                continue 'next;
            }
        }
        out.push(lines[at].to_string());
        at += 1;
    }
    out
}
