//! `zdd watch`'s rotation on the real lab: the places the playbook's own rotation tasks
//! name for a host, taking it out of haproxy (MAINT in `show stat`), already out, the
//! capacity guard, putting it back, and the rotation events the journal keeps.

mod support;

use clap::Parser;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{repo_root, Lab};
use zdd::events::{Event, EventSink, Recorder, RotationState};
use zdd::runner::RunOptions;
use zdd::template::Templater;
use zdd::watch::rotation::{Place, Rotation, TakeOut};

/// A `Rotation` over `playbook` and `inventory`, as `zdd watch` builds one, with its
/// events recorded and its commands written to `audit` when given.
fn rotation_over(playbook: &Path, inventory: &Path, audit: Option<&Path>) -> (Rotation, Recorder) {
    let cli = zdd::cli::Cli::try_parse_from([
        "zdd",
        "apply",
        playbook.to_str().unwrap(),
        "-i",
        inventory.to_str().unwrap(),
    ])
    .expect("parse the command line");
    let zdd::cli::Command::Apply(args) = cli.command else {
        unreachable!("an apply command line")
    };
    let templater = Arc::new(Templater::new());
    let input = zdd::load::load_valid(&args.input, &templater).unwrap_or_else(|e| panic!("{}", e.render()));
    let opts = RunOptions {
        forks: 5,
        audit: audit.map(|path| Arc::new(zdd::audit::AuditLog::open(path).expect("open the audit log"))),
        connection: input.settings.connection.clone(),
        become_defaults: input.settings.become_defaults.clone(),
        ..Default::default()
    };
    let recorder = Recorder::default();
    let events = Arc::new(EventSink::new(vec![Box::new(recorder.clone())]));
    let rotation = Rotation::new(&input, templater, &opts, events).with_serve_wait(Duration::from_secs(2));
    (rotation, recorder)
}

/// The same over the lab's inventory.
fn build(lab: &Lab, playbook: impl AsRef<Path>, audit: &Path) -> (Rotation, Recorder) {
    rotation_over(&repo_root().join(playbook), &lab.inventory(), Some(audit))
}

fn only_place(rotation: &Rotation, host: &str) -> Place {
    let places = rotation.places(host);
    assert_eq!(places.len(), 1, "{host}: {places:?}");
    places.into_iter().next().unwrap()
}

/// The rotation events for `server`, in order.
fn rotation_events(recorder: &Recorder, server: &str) -> Vec<RotationState> {
    let events = recorder.events.lock().unwrap();
    events
        .iter()
        .filter_map(|e| match e {
            Event::Rotation { server: s, state } if s.server == server => Some(*state),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_self_healing_playbook_takes_a_host_out_and_puts_it_back_through_its_haproxy_task() {
    let lab = Lab::start(3);
    let audit = lab.dir().join("watch-audit.log");
    let (rotation, recorder) = build(&lab, "examples/lab/self-healing.yml", &audit);

    // The drain task of the playbook, rendered for web1: delegated to each load balancer.
    let web1 = only_place(&rotation, "web1");
    assert_eq!(web1.host, "web1");
    assert_eq!(web1.lb.name(), "HAProxy");
    assert_eq!(web1.endpoint, lab.socket().display().to_string());
    assert_eq!(web1.server, "loadbalancer/web1");
    assert_eq!(web1.via, "lb");
    assert_eq!(web1.min_up, 1);
    assert!(
        rotation.places("lb").is_empty(),
        "no play takes the load balancer out"
    );
    assert!(rotation.places("nosuchhost").is_empty());
    lab.assert_up("web1");
    assert!(rotation.in_rotation(&web1).await.unwrap());

    let started = Instant::now();
    assert_eq!(rotation.take_out(&web1).await, Ok(TakeOut::Done));
    let take_out = started.elapsed();
    lab.assert_maint("web1");
    assert!(!rotation.in_rotation(&web1).await.unwrap());
    assert_eq!(rotation.take_out(&web1).await, Ok(TakeOut::AlreadyOut));

    let started = Instant::now();
    rotation.put_back(&web1).await.unwrap();
    let put_back = started.elapsed();
    lab.assert_up("web1");
    assert!(rotation.in_rotation(&web1).await.unwrap());
    eprintln!("take_out {take_out:?} (first connection included), put_back {put_back:?} (until UP)");
    assert_eq!(
        rotation_events(&recorder, "loadbalancer/web1"),
        [RotationState::MayBeOut, RotationState::Out, RotationState::Back]
    );

    // Capacity: web2 and web3 stopped, web1 is the last one serving: refused, with the numbers.
    for host in ["web2", "web3"] {
        lab.service(host, "stop");
    }
    for host in ["web2", "web3"] {
        assert!(
            lab.wait_server_state(host, "DOWN", Duration::from_secs(10)),
            "{host} is {}",
            lab.server_state(host)
        );
    }
    match rotation.take_out(&web1).await {
        Ok(TakeOut::Refused(why)) => assert_eq!(
            why,
            "backend loadbalancer has 1 of 3 servers serving; taking out loadbalancer/web1 would leave 0, fewer than min_up 1"
        ),
        other => panic!("not refused: {other:?}"),
    }
    lab.assert_up("web1");
    // A stopped one serves nobody: taking it out costs no capacity.
    let web2 = only_place(&rotation, "web2");
    assert_eq!(rotation.take_out(&web2).await, Ok(TakeOut::Done));
    lab.assert_maint("web2");
    lab.service("web2", "start");
    lab.service("web3", "start");
    rotation.put_back(&web2).await.unwrap();
    lab.assert_up("web2");
    lab.assert_up("web3");

    // Every command went through the audit log, for the host, on the load balancer.
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(
        log.contains("rotation: disable server loadbalancer/web1"),
        "{log}"
    );
    assert!(log.contains("rotation: enable server loadbalancer/web1"), "{log}");
    rotation.close().await;
    // The workshop's variant: `echo "disable server ..." | socat stdio SOCKET` in a shell
    // task delegated to each load balancer, with become.
    let (workshop, _) = build(&lab, "examples/lab/zero-downtime.yml", &audit);
    let web3 = only_place(&workshop, "web3");
    assert_eq!(
        (web3.server.as_str(), web3.via.as_str(), web3.min_up),
        ("loadbalancer/web3", "lb", 1)
    );
    assert_eq!(web3.endpoint, lab.socket().display().to_string());
    assert_eq!(workshop.take_out(&web3).await, Ok(TakeOut::Done));
    lab.assert_maint("web3");
    workshop.put_back(&web3).await.unwrap();
    lab.assert_up("web3");

    // Another controller's rollout holds zdd's lock on this load balancer: not taken out.
    let lock = zdd::lb::lock_path(web3.lb, &web3.endpoint);
    let other = hold_lock(&lock, "zdd pid 1 on elsewhere, started earlier");
    let refused = workshop.take_out(&web3).await;
    release_lock(other, &lock);
    let why = refused.expect_err("taken out during another rollout");
    assert!(
        why.starts_with(&format!(
            "another rollout is changing HAProxy at lb:{}: zdd pid 1 on elsewhere, started earlier; loadbalancer/web3 not taken out",
            lab.socket().display()
        )),
        "{why}"
    );
    lab.assert_up("web3");
    // This process's own run (a redeploy that just ended) does not count.
    let own = hold_lock(&lock, &format!("{}, started now", zdd::lb::this_process()));
    let taken = workshop.take_out(&web3).await;
    release_lock(own, &lock);
    assert_eq!(taken, Ok(TakeOut::Done));
    lab.assert_maint("web3");
    workshop.put_back(&web3).await.unwrap();
    lab.assert_up("web3");
    workshop.close().await;
}

/// Hold zdd's rollout lock file `lock` as a run does (lock.sh), naming `holder`.
fn hold_lock(lock: &str, holder: &str) -> std::process::Child {
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"umask 000; exec 9>>"$0"; flock 9; echo "$1" >"$0"; echo locked; exec sleep 60"#)
        .arg(lock)
        .arg(holder)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line, "locked\n");
    child
}

fn release_lock(mut child: std::process::Child, lock: &str) {
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_file(lock);
}

type SlowRequest = std::thread::JoinHandle<std::io::Result<(u16, String)>>;

/// A request of `seconds` through the load balancer, then its node taken out (done, and in
/// MAINT): the request, its node, the node's place and how long the take-out took.
async fn take_out_under_a_slow_request(
    lab: &Lab,
    rotation: &Rotation,
    seconds: u64,
) -> (SlowRequest, String, Place, Duration) {
    let lb = format!("{}:{}", lab.lb_address(), support::LB_PORT);
    let request = std::thread::spawn(move || {
        support::http_get_within(&lb, &format!("/cgi-bin/slow?{seconds}"), Duration::from_secs(20))
    });
    let mut held = Vec::new();
    for _ in 0..20 {
        held = lab.servers_holding_a_long_request();
        if !held.is_empty() {
            break;
        }
    }
    let node = held.first().expect("the slow request is on a node").clone();
    let place = only_place(rotation, &node);
    let started = Instant::now();
    assert_eq!(rotation.take_out(&place).await, Ok(TakeOut::Done));
    let waited = started.elapsed();
    lab.assert_maint(&node);
    (request, node, place, waited)
}

/// cloud-lb-drain.yml's rotation tasks on the inventory's hosts: HAProxy's API on TCP,
/// spoken to from the controller (`delegate_to: localhost`), a drain then a disable. The
/// take-out waits for the request in flight, which gets its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_over_the_tcp_api_waits_for_the_request_in_flight() {
    const SLOW: u64 = 5;
    let lab = Lab::start_haproxy_tcp(3);
    let playbook = lab.dir().join("cloud-rotation.yml");
    std::fs::write(
        &playbook,
        r#"- hosts: webappservers
  gather_facts: false
  vars:
    lb_server: "{{ haproxy_backend }}/{{ inventory_hostname }}"
  tasks:
    - name: Drain the node
      shell: echo "set server {{ lb_server }} state drain" | socat -t 5 stdio TCP:{{ haproxy_api }}
      delegate_to: localhost
    - name: Disable the node
      shell: echo "disable server {{ lb_server }}; shutdown sessions server {{ lb_server }}" | socat -t 5 stdio TCP:{{ haproxy_api }}
      delegate_to: localhost
    - name: Re-enable the node
      shell: echo "enable server {{ lb_server }}" | socat -t 5 stdio TCP:{{ haproxy_api }}
      delegate_to: localhost
"#,
    )
    .unwrap();
    let audit = lab.dir().join("watch-audit.log");
    let (rotation, _) = build(&lab, &playbook, &audit);
    let api = format!("TCP:{}.10:9999", lab.net());
    for host in lab.hosts() {
        let place = only_place(&rotation, &host);
        assert_eq!(
            (place.endpoint.as_str(), place.via.as_str(), place.server.clone()),
            (api.as_str(), "localhost", format!("loadbalancer/{host}"))
        );
    }

    // A slow request in flight on some node.
    let (request, node, place, waited) = take_out_under_a_slow_request(&lab, &rotation, SLOW).await;
    let (status, body) = request.join().unwrap().expect("the slow request got an answer");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.trim(), format!("slow request served by {node}"));
    assert!(
        waited >= Duration::from_millis(1500),
        "the take-out did not wait for the session: {waited:?}"
    );
    eprintln!("drained {node} with a {SLOW} s request in flight: take_out took {waited:?}");
    rotation.put_back(&place).await.unwrap();
    lab.assert_up(&node);
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(
        log.contains(&format!("rotation: set server loadbalancer/{node} state drain")),
        "{log}"
    );
    rotation.close().await;

    // A drain bounded below the request's length: disabled anyway, said, and the request
    // still gets its answer (a disabled server finishes its sessions).
    let (rotation, recorder) = build(&lab, &playbook, &audit);
    let rotation = rotation.with_drain_limit(Duration::from_secs(1));
    let (request, node, place, waited) = take_out_under_a_slow_request(&lab, &rotation, SLOW).await;
    assert!(
        waited < Duration::from_secs(3),
        "bounded by the drain limit: {waited:?}"
    );
    let warned = recorder.events.lock().unwrap().iter().any(|e| {
        matches!(e, Event::Warning { message } if message.starts_with(&format!("loadbalancer/{node} still has 1 open session after draining for 1s")))
    });
    assert!(warned, "{:?}", recorder.events.lock().unwrap());
    let (status, body) = request.join().unwrap().expect("the slow request got an answer");
    assert_eq!(
        (status, body.trim()),
        (200, format!("slow request served by {node}").as_str())
    );
    rotation.put_back(&place).await.unwrap();
    lab.assert_up(&node);
    rotation.close().await;
}

/// DIR/inventory.ini with `text`; its path.
fn write_inventory(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("inventory.ini");
    std::fs::write(&path, text).unwrap();
    path
}

/// Without a lab: which tasks name a place for a host, rendered for it (no connection).
#[test]
fn places_are_the_tasks_that_take_the_host_out_rendered_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = write_inventory(
        dir.path(),
        "[loadbalancers]\nlb1\nlb2\n\n[web]\nweb1\nweb2\nweb3\n\n[all:vars]\nsock=/run/haproxy/admin.sock\n",
    );
    std::fs::write(
        dir.path().join("playbook.yml"),
        r#"- hosts: web
  gather_facts: false
  become: true
  tasks:
    # One call for the whole batch: each host's place is its own server.
    - name: Take the batch out
      haproxy:
        state: disabled
        host: "{{ ansible_play_batch }}"
        backend: app
        socket: "{{ sock }}"
        min_up: 2
      delegate_to: "{{ item }}"
      loop: "{{ groups.loadbalancers }}"
    # No backend: any backend that has the server.
    - name: Drain it elsewhere
      haproxy:
        state: drain
        host: "{{ inventory_hostname }}"
        socket: /run/other.sock
      delegate_to: lb1
    - name: Put it back (not a place)
      haproxy:
        state: enabled
        host: "{{ inventory_hostname }}"
        backend: app
        socket: "{{ sock }}"
      delegate_to: lb1
- hosts: loadbalancers
  gather_facts: false
  tasks:
    - name: Only for the load balancers' play
      shell: echo "disable server app/{{ inventory_hostname }}" | socat stdio /run/haproxy/admin.sock
"#,
    )
    .unwrap();
    let (rotation, _) = rotation_over(&dir.path().join("playbook.yml"), &inventory, None);
    let places: Vec<(String, String, String, usize)> = rotation
        .places("web2")
        .into_iter()
        .map(|p| (p.server, p.via, p.endpoint, p.min_up))
        .collect();
    let place = |server: &str, via: &str, endpoint: &str, min_up: usize| {
        (server.to_owned(), via.to_owned(), endpoint.to_owned(), min_up)
    };
    assert_eq!(
        places,
        [
            place("app/web2", "lb1", "/run/haproxy/admin.sock", 2),
            place("app/web2", "lb2", "/run/haproxy/admin.sock", 2),
            place("*/web2", "lb1", "/run/other.sock", 1),
        ]
    );
    // The last play runs on the load balancers only: its place is theirs, not web2's.
    let lb1: Vec<(String, String)> = rotation
        .places("lb1")
        .into_iter()
        .map(|p| (p.server, p.via))
        .collect();
    assert_eq!(lb1, [("app/lb1".to_owned(), "lb1".to_owned())]);
}

/// playbooks/cloud-lb-drain.yml takes its nodes out in a play whose hosts come from
/// `add_host`: nothing before the run says which, so it names no place (the watch then
/// redeploys without a take-out first, and the playbook drains the node itself).
#[test]
fn a_play_over_hosts_made_by_add_host_names_no_place() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = write_inventory(
        dir.path(),
        "[webappservers]\nweb1\nweb2\n\n[all:vars]\nhaproxy_api=127.0.0.1:9999\nhaproxy_backend=loadbalancer\n",
    );
    let (rotation, _) = rotation_over(
        &repo_root().join("playbooks/cloud-lb-drain.yml"),
        &inventory,
        None,
    );
    assert!(rotation.places("web1").is_empty());
    assert!(
        rotation.places("localhost").is_empty(),
        "play 1 only reads the load balancer"
    );
}
