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

/// A `Rotation` over `playbook` and the lab's inventory, as `zdd watch` builds one, with
/// its events recorded and its commands written to `audit`.
fn rotation(lab: &Lab, playbook: &str, audit: &Path) -> (Rotation, Recorder) {
    let playbook = repo_root().join(playbook);
    let inventory = lab.inventory();
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
        audit: Some(Arc::new(
            zdd::audit::AuditLog::open(audit).expect("open the audit log"),
        )),
        connection: input.settings.connection.clone(),
        become_defaults: input.settings.become_defaults.clone(),
        ..Default::default()
    };
    let recorder = Recorder::default();
    let events = Arc::new(EventSink::new(vec![Box::new(recorder.clone())]));
    let rotation = Rotation::new(&input, templater, &opts, events).with_serve_wait(Duration::from_secs(2));
    (rotation, recorder)
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
    let (rotation, recorder) = rotation(&lab, "examples/lab/self-healing.yml", &audit);

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
}
