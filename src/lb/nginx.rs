//! nginx in front of blue/green instances: traffic goes to the servers of one `upstream`
//! block kept in a file of its own, included by nginx's configuration. nginx has no runtime
//! API; a switch rewrites that file (atomically), `nginx -t`, reload, and a GET through
//! nginx proves the new servers answer. The `nginx_upstream` module does the switch.
//!
//! An endpoint is the upstream file and the main configuration nginx runs with (`nginx -t
//! -c` and `nginx -s reload -c` need it for its pid file), written `UPSTREAM in CONF`.
//! A server is `upstream/host:port`, as HAProxy's is `backend/server`.
//!
//! The upstream file names the color it routes to in a comment (`# zdd-color: green`), so
//! the live color can be read back from nginx's own configuration.

use super::{Action, LbChange, LoadBalancer};
use crate::host::{sh_quote, sh_script};

pub struct Nginx;

pub static NGINX: Nginx = Nginx;

/// Debian's nginx configuration.
pub const DEFAULT_CONF: &str = "/etc/nginx/nginx.conf";
/// Where an upstream file goes on Debian when a task names none.
const DEFAULT_UPSTREAM: &str = "/etc/nginx/conf.d/upstream.conf";
/// The comment line that carries the color.
const COLOR_TAG: &str = "# zdd-color:";
/// Where a switch keeps the file it replaced (the way back, for the restore command).
pub const PREVIOUS_SUFFIX: &str = ".zdd-previous";

/// An upstream block as nginx would read it from the file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Upstream {
    pub name: String,
    /// Each `server` line's address and parameters (`127.0.0.1:8082 max_fails=1`).
    pub servers: Vec<String>,
}

/// What an upstream file says: its color comment and its upstream blocks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpstreamFile {
    pub color: Option<String>,
    pub upstreams: Vec<Upstream>,
}

impl UpstreamFile {
    /// Reads the parts of nginx's syntax an upstream file uses: `#` comments, `upstream
    /// NAME { ... }` blocks and their `server ADDRESS [PARAMS];` directives; other
    /// directives inside a block (`keepalive 16;`) are skipped.
    pub fn parse(text: &str) -> UpstreamFile {
        let mut file = UpstreamFile::default();
        let mut code = String::new();
        for line in text.lines() {
            let trimmed = line.trim();
            if let Some(color) = trimmed.strip_prefix(COLOR_TAG) {
                let color = color.trim();
                if !color.is_empty() && file.color.is_none() {
                    file.color = Some(color.to_owned());
                }
            }
            let without_comment = line.split_once('#').map_or(line, |(code, _)| code);
            code.push_str(without_comment);
            code.push('\n');
        }
        let mut rest = code.as_str();
        while let Some(at) = find_word(rest, "upstream") {
            rest = &rest[at + "upstream".len()..];
            let Some(open) = rest.find('{') else { break };
            let name = rest[..open].trim().to_owned();
            let body_start = open + 1;
            let Some(close) = rest[body_start..].find('}') else {
                break;
            };
            let body = &rest[body_start..body_start + close];
            let servers = body
                .split(';')
                .filter_map(|d| {
                    let mut words = d.split_whitespace();
                    (words.next() == Some("server")).then(|| words.collect::<Vec<_>>().join(" "))
                })
                .filter(|s| !s.is_empty())
                .collect();
            file.upstreams.push(Upstream { name, servers });
            rest = &rest[body_start + close + 1..];
        }
        file
    }

    pub fn upstream(&self, name: &str) -> Option<&Upstream> {
        self.upstreams.iter().find(|u| u.name == name)
    }
}

/// Where `word` starts in `text` as a whole word (not `myupstream`).
fn find_word(text: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find(word).map(|i| i + from) {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| c.is_whitespace() || c == ';' || c == '}');
        if boundary(before) && boundary(after) {
            return Some(i);
        }
        from = i + word.len();
    }
    None
}

/// The file a switch writes: one upstream, its color in a comment.
pub fn render_upstream(name: &str, servers: &[String], color: Option<&str>) -> String {
    let mut text = String::from("# Written by zdd (nginx_upstream); the next switch replaces it.\n");
    if let Some(color) = color {
        text.push_str(&format!("{COLOR_TAG} {color}\n"));
    }
    text.push_str(&format!("upstream {name} {{\n"));
    for server in servers {
        text.push_str(&format!("    server {server};\n"));
    }
    text.push_str("}\n");
    text
}

/// The address of a `server` entry: its first word.
pub fn server_address(server: &str) -> &str {
    server.split_whitespace().next().unwrap_or(server)
}

/// An endpoint's two paths, from `UPSTREAM in CONF` (a bare path is an upstream file of
/// Debian's nginx).
pub fn split_endpoint(endpoint: &str) -> (&str, &str) {
    endpoint.rsplit_once(" in ").unwrap_or((endpoint, DEFAULT_CONF))
}

pub fn endpoint(upstream_file: &str, conf: &str) -> String {
    format!("{upstream_file} in {conf}")
}

impl LoadBalancer for Nginx {
    fn name(&self) -> &'static str {
        "nginx"
    }

    fn default_endpoint(&self) -> &'static str {
        DEFAULT_UPSTREAM
    }

    /// nginx has no runtime API: what a change means, in its own configuration's words.
    fn command(&self, action: Action, server: &str) -> String {
        let (upstream, address) = server.split_once('/').unwrap_or(("", server));
        match action {
            Action::Disable | Action::Drain => format!("remove server {address} from upstream {upstream}"),
            Action::Enable => format!("server {address}; in upstream {upstream}"),
        }
    }

    /// nginx runs (its pid file's process lives), its configuration is valid, and the
    /// upstream file can be replaced.
    fn check_script(&self, endpoint: &str) -> String {
        let (upstream, conf) = split_endpoint(endpoint);
        sh_script(
            &[("upstream", upstream), ("conf", conf)],
            include_str!("nginx_check.sh"),
        )
    }

    fn state_script(&self, endpoint: &str) -> String {
        let (upstream, _) = split_endpoint(endpoint);
        sh_script(&[("upstream", upstream)], "cat -- \"$upstream\"\n")
    }

    /// Every server of every upstream in the file takes traffic, unless marked `down`.
    fn servers_in_rotation(&self, output: &str) -> Vec<(String, bool)> {
        UpstreamFile::parse(output)
            .upstreams
            .iter()
            .flat_map(|u| {
                u.servers.iter().map(|s| {
                    let down = s.split_whitespace().any(|w| w == "down");
                    (format!("{}/{}", u.name, server_address(s)), !down)
                })
            })
            .collect()
    }

    /// The file the last switch replaced goes back, checked and reloaded.
    fn restore_command(&self, _server: &str, endpoint: Option<&str>) -> String {
        let (upstream, conf) = split_endpoint(endpoint.unwrap_or(DEFAULT_UPSTREAM));
        let (file, previous) = (
            sh_quote(upstream),
            sh_quote(&format!("{upstream}{PREVIOUS_SUFFIX}")),
        );
        let conf = sh_quote(conf);
        format!("cp -p {previous} {file} && nginx -t -c {conf} && nginx -s reload -c {conf}")
    }

    fn endpoints_in_command(&self, _command: &str) -> Vec<String> {
        Vec::new()
    }

    fn changes_in_command(&'static self, _command: &str) -> Vec<LbChange> {
        Vec::new()
    }

    fn endpoint_kind(&self) -> &'static str {
        "upstream file"
    }

    fn live_script(&self, endpoint: &str) -> Option<String> {
        Some(self.state_script(endpoint))
    }

    fn live_color(&self, output: &str) -> Option<String> {
        UpstreamFile::parse(output).color
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = "# Written by zdd (nginx_upstream); the next switch replaces it.\n\
                       # zdd-color: green\n\
                       upstream app {\n    server 127.0.5.11:8083;\n    server 127.0.5.12:8083 max_fails=1;\n}\n";

    #[test]
    fn reads_the_color_and_the_servers_back() {
        let file = UpstreamFile::parse(LAB);
        assert_eq!(file.color.as_deref(), Some("green"));
        assert_eq!(
            file.upstream("app").unwrap().servers,
            ["127.0.5.11:8083", "127.0.5.12:8083 max_fails=1"]
        );
        assert!(file.upstream("other").is_none());
        assert_eq!(UpstreamFile::parse(""), UpstreamFile::default());
    }

    #[test]
    fn what_it_writes_it_reads() {
        let servers = vec!["10.0.0.1:80".to_owned(), "10.0.0.2:80 backup".to_owned()];
        let text = render_upstream("web", &servers, Some("blue"));
        let file = UpstreamFile::parse(&text);
        assert_eq!(file.color.as_deref(), Some("blue"));
        assert_eq!(
            file.upstreams,
            [Upstream {
                name: "web".into(),
                servers
            }]
        );
        assert_eq!(
            UpstreamFile::parse(&render_upstream("web", &[], None)).color,
            None
        );
    }

    #[test]
    fn a_hand_written_file_with_comments_and_other_directives() {
        let text = "# upstream old { server 1.1.1.1:80; }\n\
                    upstream   backend{ server a:80 weight=2; keepalive 8;   # the main pool\n server b:80 down; }\n\
                    upstream other {\n  server c:81;\n}\n\
                    server { listen 80; location / { proxy_pass http://backend; } }\n";
        let file = UpstreamFile::parse(text);
        let names: Vec<&str> = file.upstreams.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["backend", "other"], "the commented one is not read");
        assert_eq!(
            file.upstream("backend").unwrap().servers,
            ["a:80 weight=2", "b:80 down"]
        );
        assert_eq!(
            NGINX.servers_in_rotation(text),
            [
                ("backend/a:80".to_owned(), true),
                ("backend/b:80".to_owned(), false),
                ("other/c:81".to_owned(), true)
            ]
        );
        assert_eq!(NGINX.live_color(LAB).as_deref(), Some("green"));
        assert_eq!(NGINX.live_color(text), None);
    }

    #[test]
    fn endpoints_carry_both_paths_and_the_way_back_restores_the_previous_file() {
        let ep = endpoint("/srv/lab/upstream.conf", "/srv/lab/nginx.conf");
        assert_eq!(
            split_endpoint(&ep),
            ("/srv/lab/upstream.conf", "/srv/lab/nginx.conf")
        );
        assert_eq!(
            split_endpoint("/etc/nginx/conf.d/a.conf"),
            ("/etc/nginx/conf.d/a.conf", DEFAULT_CONF)
        );
        assert_eq!(
            NGINX.restore_command("app/127.0.0.1:8082", Some(&ep)),
            "cp -p /srv/lab/upstream.conf.zdd-previous /srv/lab/upstream.conf \
             && nginx -t -c /srv/lab/nginx.conf && nginx -s reload -c /srv/lab/nginx.conf"
        );
        let script = NGINX.check_script("/tmp/with space/u.conf in /tmp/n.conf");
        assert!(
            script.starts_with("upstream='/tmp/with space/u.conf'\nconf=/tmp/n.conf\n"),
            "{script}"
        );
    }
}
