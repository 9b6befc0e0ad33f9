//! OUT OF ROTATION as the load balancer says, on the real lab: a command that only looks
//! like a disable is not reported; a server out when zdd is killed is in `zdd status`.

mod support;

use std::time::Duration;
use support::Lab;

fn write(lab: &Lab, name: &str, text: &str) -> std::path::PathBuf {
    let path = lab.dir().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The command names a server after `disable server` and talks to HAProxy's socket, but
/// sends it only `show info`: HAProxy, asked after the task, says the server is in.
#[test]
fn text_that_looks_like_a_disable_is_not_reported_as_out_of_rotation() {
    let lab = Lab::start(1);
    let playbook = write(
        &lab,
        "looks.yml",
        &format!(
            "- hosts: webappservers\n  gather_facts: false\n  tasks:\n    \
             - name: Log a runtime command, send another\n      \
               shell: printf 'disable server loadbalancer/{{{{ inventory_hostname }}}}\\n' > /dev/null; echo 'show info' | socat stdio {socket} > /dev/null\n      \
               delegate_to: lb\n      become: true\n",
            socket = lab.socket().display()
        ),
    );
    let out = lab.zdd().apply(&playbook).run();
    out.assert_code(0);
    assert_eq!(out.screen("OUT OF ROTATION"), None, "{out}");
    lab.assert_up("web1");
}

#[test]
fn a_server_out_when_zdd_is_killed_is_listed_by_status_with_the_way_back() {
    let lab = Lab::start(2);
    let work = tempfile::tempdir().unwrap();
    let playbook = write(
        &lab,
        "killed.yml",
        &format!(
            "- hosts: webappservers\n  serial: 1\n  gather_facts: false\n  tasks:\n    \
             - name: Disable server in haproxy\n      \
               shell: echo \"disable server loadbalancer/{{{{ inventory_hostname }}}}\" | socat stdio {socket}\n      \
               delegate_to: lb\n      become: true\n    \
             - name: Slow upgrade step\n      command: sleep 30\n",
            socket = lab.socket().display()
        ),
    );
    let mut running = lab.zdd().current_dir(work.path()).apply(&playbook).spawn();
    running.wait_for_line("TASK [Slow upgrade step]", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    let pid = i32::try_from(running.pid()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let killed = running.wait();
    assert_eq!(killed.code, None, "killed by a signal");
    lab.assert_maint("web1");

    let status = lab.zdd().current_dir(work.path()).status(&playbook).run();
    status.assert_code(0);
    let want = format!(
        "\nout of rotation, as the journal last recorded it:\n  \
         web1: loadbalancer/web1 on lb: out (the load balancer said so); to put it back, run there:\n      \
         echo \"enable server loadbalancer/web1\" | socat stdio {}\n",
        lab.socket().display()
    );
    assert!(status.stdout.contains(&want), "{}", status.stdout);
    // The way back it prints works.
    assert_eq!(lab.haproxy_command("enable server loadbalancer/web1"), "\n");
    lab.assert_up("web1");
}
