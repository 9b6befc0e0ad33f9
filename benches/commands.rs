//! Per-command latency over an open connection: one host, `true` run N times through the
//! framed shell and N times through a fresh SSH session each, alternating in rounds of
//! 50, with and without `--become` (sudo to root). Prints one JSON line.
//!
//! `cargo bench --bench commands -- -i INVENTORY HOST [-n 2000] [--become]`

use std::path::PathBuf;
use std::time::Instant;
use zdd::host::ssh::SshHost;
use zdd::host::{Become, ConnectSpec, ConnectionSettings, Host, RemoteCommand};
use zdd::inventory::Inventory;

fn usage() -> ! {
    eprintln!("usage: commands -i INVENTORY HOST [-n COUNT] [--become]");
    std::process::exit(2)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let (mut inventory, mut host, mut count, mut become_root) = (None, None, 2000usize, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-i" => inventory = args.next().map(PathBuf::from),
            "-n" => {
                count = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--become" => become_root = true,
            _ if host.is_none() && !arg.starts_with('-') => host = Some(arg),
            _ => usage(),
        }
    }
    let (Some(inventory), Some(host)) = (inventory, host) else {
        usage()
    };
    let inv = Inventory::load(&inventory).unwrap_or_else(|e| panic!("{}: {e:?}", inventory.display()));
    let spec = ConnectSpec::from_vars(&host, &inv.host_vars(&host), &ConnectionSettings::default())
        .unwrap_or_else(|e| panic!("{host}: {e}"));
    let dir = tempfile::tempdir().unwrap();
    let ssh = SshHost::connect(&spec, &dir.path().join("ctl"))
        .await
        .expect("connect");
    let run_as = become_root.then(|| Become::sudo("root"));
    let cmd = RemoteCommand::new("true").run_as(run_as);
    let (mut framed, mut session) = (Vec::with_capacity(count), Vec::with_capacity(count));
    // Warm up both paths (the shell starts on the first framed command).
    for on in [true, false] {
        ssh.set_framed(on);
        ssh.run(&cmd).await.expect("run");
    }
    while framed.len() < count {
        for (on, times) in [(true, &mut framed), (false, &mut session)] {
            ssh.set_framed(on);
            for _ in 0..50.min(count - times.len()) {
                let started = Instant::now();
                let out = ssh.run(&cmd).await.expect("run");
                times.push(started.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(out.rc, 0, "{out:?}");
            }
        }
    }
    ssh.close().await;
    framed.sort_by(f64::total_cmp);
    session.sort_by(f64::total_cmp);
    println!(
        "{{\"host\":\"{host}\",\"become\":{become_root},\"commands\":{count},\"framed_ms_median\":{:.3},\"framed_ms_p90\":{:.3},\"session_ms_median\":{:.3},\"session_ms_p90\":{:.3}}}",
        percentile(&framed, 0.5),
        percentile(&framed, 0.9),
        percentile(&session, 0.5),
        percentile(&session, 0.9)
    );
}
