//! HAProxy through its runtime API (`stats socket ... level admin`): on a Unix socket on
//! the load balancer's host, or on TCP (`stats socket ipv4@ADDR:PORT`), reached over the
//! network (from the controller: a task delegated to localhost). An endpoint is the
//! socket's path or socat's TCP address (`TCP:ADDR:PORT`).

use super::{Action, LbChange, LoadBalancer, ServerState};
use crate::host::sh_script;
use regex::Regex;
use std::sync::OnceLock;

pub struct Haproxy;

pub static HAPROXY: Haproxy = Haproxy;

/// Where `community.general.haproxy` looks when a task names no `socket`.
const DEFAULT_SOCKET: &str = "/var/run/haproxy.sock";

impl Haproxy {
    /// HAProxy's identifiers; anything else (`;`, spaces) would smuggle commands into the API.
    pub fn valid_name(name: &str) -> bool {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    }
}

impl LoadBalancer for Haproxy {
    fn name(&self) -> &'static str {
        "HAProxy"
    }

    fn default_endpoint(&self) -> &'static str {
        DEFAULT_SOCKET
    }

    fn command(&self, action: Action, server: &str) -> String {
        match action {
            Action::Disable => format!("disable server {server}"),
            Action::Drain => format!("set server {server} state drain"),
            Action::Enable => format!("enable server {server}"),
        }
    }

    fn check_script(&self, endpoint: &str) -> String {
        sh_script(&[("sock", endpoint)], include_str!("haproxy_check.sh"))
    }

    fn state_script(&self, endpoint: &str) -> String {
        sh_script(&[("sock", endpoint)], include_str!("haproxy_state.sh"))
    }

    /// `show stat` is CSV with a `# pxname,svname,...` header; `status` says `MAINT` (also
    /// `MAINT (via ...)`) for a disabled server and `DRAIN` for a draining one.
    fn servers_in_rotation(&self, output: &str) -> Vec<(String, bool)> {
        self.server_states(output)
            .into_iter()
            .map(|s| (s.server, s.in_rotation))
            .collect()
    }

    /// `show stat` again: a server serves when its status is `UP` (also `UP 1/2`, going
    /// down but still taking requests) or `no check`, as the `haproxy` module's capacity
    /// guard counts; `scur` is its open sessions.
    fn server_states(&self, output: &str) -> Vec<ServerState> {
        let mut lines = output.lines();
        let Some(header) = lines.find_map(|l| l.strip_prefix("# ")) else {
            return Vec::new();
        };
        let columns: Vec<&str> = header.split(',').collect();
        let col = |name: &str| columns.iter().position(|c| *c == name);
        let (Some(px), Some(sv), Some(status)) = (col("pxname"), col("svname"), col("status")) else {
            return Vec::new();
        };
        let scur = col("scur");
        lines
            .filter_map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                let (px, sv, status) = (fields.get(px)?, fields.get(sv)?, fields.get(status)?);
                if matches!(*sv, "FRONTEND" | "BACKEND") {
                    return None;
                }
                let out = status.starts_with("MAINT") || status.starts_with("DRAIN");
                let serving = !out && (status.split(' ').next() == Some("UP") || *status == "no check");
                Some(ServerState {
                    server: format!("{px}/{sv}"),
                    in_rotation: !out,
                    serving,
                    sessions: scur.and_then(|i| fields.get(i)?.parse().ok()),
                })
            })
            .collect()
    }

    /// One session with the runtime API (socat, as `state_script`): `disable server`,
    /// `set server ... state drain`, or `set server ... state ready` (and, for a server
    /// with health checks leaving maintenance, `health down`: it takes requests once a
    /// check passes, as the `haproxy` module puts servers back).
    fn action_script(&self, endpoint: &str, action: Action, server: &str) -> Option<String> {
        let action = match action {
            Action::Disable => "disable",
            Action::Drain => "drain",
            Action::Enable => "enable",
        };
        Some(sh_script(
            &[("sock", endpoint), ("action", action), ("server", server)],
            include_str!("haproxy_action.sh"),
        ))
    }

    fn restore_command(&self, server: &str, endpoint: Option<&str>) -> String {
        let enable = self.command(Action::Enable, server);
        match endpoint {
            Some(socket) => format!("echo \"{enable}\" | socat stdio {socket}"),
            None => enable,
        }
    }

    fn endpoints_in_command(&self, command: &str) -> Vec<String> {
        socat_endpoints(command)
    }

    /// `disable server B/S` and `enable server B/S` (and `set server B/S state ...`) sent to
    /// the runtime API in a shell command.
    fn changes_in_command(&'static self, command: &str) -> Vec<LbChange> {
        static RE: OnceLock<Regex> = OnceLock::new();
        let re = RE.get_or_init(|| {
            Regex::new(
                r"(?:(disable|enable) server|set server) ([\w.:-]+/[\w.:-]+)(?: state (ready|drain|maint))?",
            )
            .expect("valid regex")
        });
        let socket = socat_endpoints(command).into_iter().next();
        re.captures_iter(command)
            .filter_map(|c| {
                let action = match (c.get(1).map(|m| m.as_str()), c.get(3).map(|m| m.as_str())) {
                    (Some("enable"), _) | (None, Some("ready")) => Action::Enable,
                    (Some("disable"), _) | (None, Some("maint")) => Action::Disable,
                    (None, Some("drain")) => Action::Drain,
                    _ => return None,
                };
                Some(LbChange {
                    lb: self,
                    server: c[2].to_owned(),
                    action,
                    endpoint: socket.clone(),
                })
            })
            .collect()
    }
}

/// socat's address types for a TCP connection, as `socat` spells them (any case).
const TCP_ADDRESSES: [&str; 6] = [
    "tcp:",
    "tcp4:",
    "tcp6:",
    "tcp-connect:",
    "tcp4-connect:",
    "tcp6-connect:",
];

/// Whether `endpoint` is reached over the network (socat's `TCP:ADDR:PORT`), not a socket file.
pub fn is_network_endpoint(endpoint: &str) -> bool {
    let lower = endpoint.to_ascii_lowercase();
    TCP_ADDRESSES.iter().any(|t| lower.starts_with(t))
}

/// Words of HAProxy's runtime API: a socat to a TCP address is HAProxy's API only when the
/// command sends one of them (a socat to a web server is not).
fn sends_runtime_command(command: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"\b(show (stat|info|servers|backend)|(enable|disable) (server|health|agent)|set (server|weight)|get weight|shutdown sessions)\b")
            .expect("valid regex")
    });
    re.is_match(command)
}

/// The endpoints among the addresses of every `socat` in a shell command: unix socket
/// paths, and TCP addresses (`TCP:ADDR:PORT`, socat's options after a comma dropped) when
/// the command speaks HAProxy's runtime API.
fn socat_endpoints(command: &str) -> Vec<String> {
    let mut found = Vec::new();
    let speaks_api = sends_runtime_command(command);
    for segment in command.split(['|', ';', '&', '(', ')', '\n']) {
        let mut words = segment.split_whitespace();
        if words.next().is_none_or(|w| w.rsplit('/').next() != Some("socat")) {
            continue;
        }
        for word in words.take_while(|w| !w.starts_with(['>', '<'])) {
            let word = word.trim_matches(|c| c == '"' || c == '\'');
            if is_network_endpoint(word) {
                if speaks_api {
                    found.push(word.split(',').next().unwrap_or(word).to_owned());
                }
                continue;
            }
            let lower = word.to_ascii_lowercase();
            let path = ["unix-connect:", "unix-client:", "unix:"]
                .iter()
                .find_map(|prefix| lower.starts_with(prefix).then(|| &word[prefix.len()..]))
                .unwrap_or(word);
            if path.starts_with('/') {
                found.push(path.to_owned());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(command: &str) -> Vec<LbChange> {
        HAPROXY.changes_in_command(command)
    }

    #[test]
    fn finds_sockets_in_the_workshop_commands() {
        assert_eq!(
            socat_endpoints(
                r#"echo "disable server loadbalancer/web1" | socat stdio /var/lib/haproxy/stats"#
            ),
            ["/var/lib/haproxy/stats"]
        );
        assert_eq!(
            socat_endpoints("echo 'show stat' | /usr/bin/socat -t 2 STDIO UNIX-CONNECT:/run/haproxy/admin.sock; echo done"),
            ["/run/haproxy/admin.sock"]
        );
        assert!(socat_endpoints("echo socat-free command > /tmp/x").is_empty());
        assert!(socat_endpoints("socat TCP:127.0.0.1:80 stdio").is_empty());
    }

    #[test]
    fn finds_the_api_on_tcp_when_the_command_speaks_it() {
        assert_eq!(
            socat_endpoints(r#"echo "show stat" | socat -t 5 stdio TCP:10.0.0.5:9999 | awk -F, '{print}'"#),
            ["TCP:10.0.0.5:9999"]
        );
        assert_eq!(
            socat_endpoints("echo 'set server be/web1 state drain' | socat stdio tcp4-connect:lb.example:9999,connect-timeout=2"),
            ["tcp4-connect:lb.example:9999"]
        );
        // A web server reached with socat is no load balancer.
        assert!(
            socat_endpoints("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | socat stdio TCP:10.0.0.5:80").is_empty()
        );
        let drain = changes("echo \"set server lb/web1 state drain\" | socat -t 5 stdio TCP:10.0.0.5:9999");
        assert_eq!(drain[0].endpoint.as_deref(), Some("TCP:10.0.0.5:9999"));
        assert_eq!(
            drain[0].restore_command(),
            r#"echo "enable server lb/web1" | socat stdio TCP:10.0.0.5:9999"#
        );
        let script = HAPROXY.check_script("TCP:10.0.0.5:9999");
        assert!(script.starts_with("sock=TCP:10.0.0.5:9999\n"), "{script}");
    }

    #[test]
    fn socket_check_script_quotes_the_path() {
        let script = HAPROXY.check_script("/tmp/with space/haproxy.sock");
        assert!(
            script.starts_with("sock='/tmp/with space/haproxy.sock'\n"),
            "{script}"
        );
        assert!(script.contains(r#"[ -S "$sock" ]"#), "{script}");
        assert!(script.contains(r#""unix-connect:$sock""#), "{script}");
    }

    #[test]
    fn reads_the_workshop_socat_commands() {
        let disable =
            changes(r#"echo "disable server loadbalancer/web2" | socat stdio /var/lib/haproxy/stats"#);
        assert_eq!(
            disable,
            [LbChange {
                lb: &HAPROXY,
                server: "loadbalancer/web2".into(),
                action: Action::Disable,
                endpoint: Some("/var/lib/haproxy/stats".into())
            }]
        );
        assert!(!changes("echo 'enable server be/web2' | socat stdio /s")[0]
            .action
            .takes_out());
        assert!(
            changes("echo 'set server be/web2 state drain' | socat stdio /s")[0]
                .action
                .takes_out()
        );
        assert!(changes("systemctl restart nginx").is_empty());
    }

    #[test]
    fn show_stat_says_which_servers_take_traffic() {
        let csv = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight\n\
                   web,FRONTEND,,,0,1,2000,3,0,0,0,0,0,,,,,OPEN,\n\
                   loadbalancer,web1,0,0,0,1,,3,0,0,,0,,0,0,0,0,UP,1\n\
                   loadbalancer,web2,0,0,0,1,,3,0,0,,0,,0,0,0,0,MAINT,1\n\
                   loadbalancer,web3,0,0,0,1,,3,0,0,,0,,0,0,0,0,DRAIN,1\n\
                   loadbalancer,web4,0,0,0,1,,3,0,0,,0,,0,0,0,0,MAINT (via x/y),1\n\
                   loadbalancer,web5,0,0,0,1,,3,0,0,,0,,0,0,0,0,DOWN,1\n\
                   loadbalancer,BACKEND,0,0,0,1,,3,0,0,,0,,0,0,0,0,UP,1\n";
        let states = HAPROXY.servers_in_rotation(csv);
        let want: Vec<(String, bool)> = [
            ("web1", true),
            ("web2", false),
            ("web3", false),
            ("web4", false),
            // Failing its health check, but not taken out: no command puts it back.
            ("web5", true),
        ]
        .iter()
        .map(|(s, r)| (format!("loadbalancer/{s}"), *r))
        .collect();
        assert_eq!(states, want);
        assert!(HAPROXY.servers_in_rotation("No such backend.\n").is_empty());
        assert!(crate::lb::same_server("*/web1", "loadbalancer/web1"));
        assert!(!crate::lb::same_server("other/web1", "loadbalancer/web1"));
    }

    #[test]
    fn show_stat_says_which_servers_serve_and_their_sessions() {
        let csv = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight\n\
                   loadbalancer,web1,0,0,2,1,,3,0,0,,0,,0,0,0,0,UP,1\n\
                   loadbalancer,web2,0,0,0,1,,3,0,0,,0,,0,0,0,0,UP 1/2,1\n\
                   loadbalancer,web3,0,0,1,1,,3,0,0,,0,,0,0,0,0,DRAIN,1\n\
                   loadbalancer,web4,0,0,0,1,,3,0,0,,0,,0,0,0,0,DOWN,1\n\
                   loadbalancer,web5,0,0,0,1,,3,0,0,,0,,0,0,0,0,no check,1\n\
                   loadbalancer,BACKEND,0,0,3,1,,3,0,0,,0,,0,0,0,0,UP,1\n";
        let states: Vec<(String, bool, bool, Option<u64>)> = HAPROXY
            .server_states(csv)
            .into_iter()
            .map(|s| (s.server, s.in_rotation, s.serving, s.sessions))
            .collect();
        let want: Vec<(String, bool, bool, Option<u64>)> = [
            ("web1", true, true, 2),
            ("web2", true, true, 0),
            ("web3", false, false, 1),
            ("web4", true, false, 0),
            ("web5", true, true, 0),
        ]
        .iter()
        .map(|(s, i, u, n)| (format!("loadbalancer/{s}"), *i, *u, Some(*n)))
        .collect();
        assert_eq!(states, want);
    }

    /// The action script run here against a socket that is not there.
    fn run_action(action: Action, server: &str) -> std::process::Output {
        let script = HAPROXY
            .action_script("/nonexistent.sock", action, server)
            .unwrap();
        std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap()
    }

    #[test]
    fn the_action_script_sends_one_command_and_refuses_names_that_smuggle_another() {
        let script = HAPROXY
            .action_script("/run/h.sock", Action::Disable, "lb/web1")
            .unwrap();
        assert!(
            script.starts_with("sock=/run/h.sock\naction=disable\nserver=lb/web1\n"),
            "{script}"
        );
        for bad in [
            "lb/web1; shutdown sessions server lb/web2",
            "web1",
            "*/web1",
            "a/b/c",
        ] {
            let out = run_action(Action::Enable, bad);
            assert_eq!(out.status.code(), Some(2), "{bad}");
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("not a HAProxy backend/server name"),
                "{bad}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // A good name gets as far as the socket.
        let out = run_action(Action::Drain, "lb/web1");
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("no HAProxy socket at /nonexistent.sock")
                || stderr.contains("socat is not installed"),
            "{stderr}"
        );
    }

    #[test]
    fn the_way_back_is_the_enable_command() {
        assert_eq!(
            HAPROXY.restore_command("lb/web1", Some("/run/h.sock")),
            r#"echo "enable server lb/web1" | socat stdio /run/h.sock"#
        );
        assert_eq!(HAPROXY.restore_command("lb/web1", None), "enable server lb/web1");
    }
}
