//! The Ansible workshop's zero-downtime playbook, taken from the seed scenario at test time,
//! must load unchanged and pass validation.

mod support;

use std::path::{Path, PathBuf};
use support::Zdd;
use zdd::playbook::{Loop, Playbook, Serial};

const SEED: &str = "000_5fa68667c7fb34de.txt";

fn seed_path() -> PathBuf {
    // CI runs with the checkout beside `shared/`; engineers' worktrees sit one level deeper.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        manifest.join("../shared/seeds").join(SEED),
        PathBuf::from("/work/shared/seeds").join(SEED),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .unwrap_or_else(|| panic!("seed {SEED} not found beside the checkout nor in /work/shared"))
}

/// The first `$ cat zero-downtime.yml` block of the seed, without its 4-space indent.
fn workshop_playbook() -> String {
    let text = std::fs::read_to_string(seed_path()).unwrap();
    let mut lines = text.lines().skip_while(|l| l.trim() != "$ cat zero-downtime.yml");
    assert!(
        lines.next().is_some(),
        "no `cat zero-downtime.yml` block in the seed"
    );
    let mut out = String::new();
    for line in lines.take_while(|l| l.trim_end() != "    $") {
        out.push_str(line.strip_prefix("    ").unwrap_or(line.trim_start()));
        out.push('\n');
    }
    assert!(out.contains("hosts: webappservers"), "unexpected block:\n{out}");
    out
}

/// The playbook with the workshop's templates and inventory beside it.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("zero-downtime.yml", &workshop_playbook());
    write(
        "templates/nginx.conf.j2",
        "user nginx;\nworker_processes 1;\nevents { worker_connections 1024; }\nhttp {\n  server {\n    listen 80;\n    server_name {{ inventory_hostname }};\n    root /usr/share/nginx/html;\n  }\n}\n",
    );
    write(
        "templates/index.html.j2",
        "<html><body><h1>Served by {{ inventory_hostname }} ({{ ansible_hostname }})</h1></body></html>\n",
    );
    write(
        "templates/haproxy.cfg.j2",
        "global\n  stats socket /var/lib/haproxy/stats level admin\nfrontend http\n  bind *:80\n  default_backend loadbalancer\nbackend loadbalancer\n{% for host in groups['webappservers'] %}\n  server {{ host }} {{ hostvars[host]['ansible_host'] | default(host) }}:80 check\n{% endfor %}\n",
    );
    write(
        "inventory/vagrant.ini",
        "[loadbalancers]\n192.168.77.20\n\n[webappservers]\n192.168.77.21\n192.168.77.22\n192.168.77.23\n",
    );
    dir
}

fn load(dir: &Path) -> Playbook {
    match zdd::parse::load_playbook(&dir.join("zero-downtime.yml")) {
        Ok(pb) => pb,
        Err(zdd::error::Error::Invalid(ds)) => {
            panic!("{}", ds.iter().map(|d| d.to_string()).collect::<String>())
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn workshop_playbook_parses_unchanged() {
    let dir = workspace();
    let pb = load(dir.path());
    assert_eq!(pb.plays.len(), 2);

    let web = &pb.plays[0];
    assert_eq!(web.hosts, "webappservers");
    assert_eq!(web.serial, [Serial::Count(1)]);
    assert_eq!(web.privilege.enabled, Some(true));
    assert_eq!(web.privilege.method.as_deref(), Some("sudo"));
    assert!(web.gather_facts);
    assert_eq!(web.pre_tasks.len(), 1);
    assert_eq!(web.tasks.len(), 5);
    assert_eq!(web.post_tasks.len(), 1);
    assert_eq!(web.handlers.len(), 1);

    for (task, verb) in [(&web.pre_tasks[0], "disable"), (&web.post_tasks[0], "enable")] {
        assert_eq!(task.module, "shell");
        assert_eq!(task.delegate_to.as_deref(), Some("{{ item }}"));
        assert_eq!(
            task.loop_,
            Some(Loop::WithItems(serde_json::json!(["{{ groups.loadbalancers }}"])))
        );
        assert_eq!(
            task.args["_raw_params"],
            format!("echo \"{verb} server loadbalancer/{{{{ inventory_hostname }}}}\" | socat stdio /var/lib/haproxy/stats")
        );
    }
    let names: Vec<_> = web.tasks.iter().map(|t| t.display_name()).collect();
    assert_eq!(
        names,
        [
            "Install EPEL repository",
            "Install nginx",
            "Copy over nginx.conf",
            "Pretend upgrade by cleaning out content",
            "Copy over webapp content"
        ]
    );
    let modules: Vec<_> = web.tasks.iter().map(|t| t.module.as_str()).collect();
    assert!(["yum", "package"].contains(&modules[0]), "{modules:?}");
    assert_eq!(&modules[2..], ["template", "file", "template"]);
    assert_eq!(
        web.tasks[0].args,
        serde_json::json!({"name": "epel-release", "state": "installed"})
    );
    assert_eq!(web.tasks[2].notify, ["Restart nginx"]);
    assert_eq!(web.tasks[4].notify, ["Restart nginx"]);
    assert_eq!(web.handlers[0].name.as_deref(), Some("Restart nginx"));
    assert_eq!(web.handlers[0].module, "service");
    assert_eq!(
        web.handlers[0].args,
        serde_json::json!({"name": "nginx", "state": "restarted"})
    );

    let lb = &pb.plays[1];
    assert_eq!(lb.hosts, "loadbalancers");
    assert!(lb.serial.is_empty());
    assert_eq!(lb.privilege.enabled, Some(true));
    assert_eq!(lb.tasks.len(), 2);
    assert_eq!(
        lb.tasks[0].args,
        serde_json::json!({"name": "{{ item }}", "state": "installed"})
    );
    assert_eq!(
        lb.tasks[0].loop_,
        Some(Loop::WithItems(serde_json::json!(["haproxy", "socat"])))
    );
    assert_eq!(lb.tasks[1].notify, ["Restart haproxy"]);
    assert_eq!(lb.handlers[0].name.as_deref(), Some("Restart haproxy"));
    // Locations point into the playbook as written.
    assert_eq!((web.loc.line, web.loc.col), (3, 3));
    assert_eq!((lb.tasks[0].loc.line, lb.tasks[0].loc.col), (69, 5));
    assert_eq!(
        (
            lb.tasks[0].arg_locs["state"].line,
            lb.tasks[0].arg_locs["state"].col
        ),
        (70, 28)
    );
}

#[test]
fn workshop_playbook_passes_validation() {
    let dir = workspace();
    let out = Zdd::new()
        .check(dir.path().join("zero-downtime.yml"))
        .inventory(dir.path().join("inventory/vagrant.ini"))
        .run();
    out.assert_code(0);
    assert_eq!(
        out.stdout,
        format!(
            "{}: ok (2 plays, 11 tasks and handlers, 4 inventory hosts); nothing was contacted\n",
            dir.path().join("zero-downtime.yml").display()
        )
    );
    assert_eq!(out.stderr, "");
}
