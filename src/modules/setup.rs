//! `setup`: gather facts (`gather_facts: true`) in one command: names, OS, kernel,
//! addresses, package and service manager. Returned both as `ansible_*` variables and
//! under `ansible_facts` without the prefix, as Ansible does.

use super::args::{fresh_mark, mark_lines};
use super::setup_local::{local_facts, FactFile};
use super::{Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use crate::vars::VarMap;
use async_trait::async_trait;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub struct Setup;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct Args {
    /// Accepted for compatibility: the same small set is always gathered.
    #[serde(default)]
    gather_subset: Option<Value>,
    #[serde(default)]
    gather_timeout: Option<Value>,
    #[serde(default)]
    filter: Option<Value>,
    /// The directory of `*.fact` files that become `ansible_local`.
    #[serde(default, deserialize_with = "super::args::opt_text")]
    fact_path: Option<String>,
}

/// Prints `{mark}key=value` lines; everything is parsed on the controller.
///
/// It runs once per host and batch, so it starts as few programs as it can (uname,
/// hostname -f, id, ip twice, nproc, date): files are read with the shell's `read`, and
/// the UTC time is worked out from the epoch on the controller.
pub fn script(mark: &str, fact_path: &str) -> String {
    sh_script(&[("m", mark), ("fp", fact_path)], include_str!("setup.sh"))
}

/// Where Ansible looks for local facts unless `fact_path` says otherwise.
pub const DEFAULT_FACT_PATH: &str = "/etc/ansible/facts.d";

/// `2024-05-01T12:00:00Z` for seconds since the epoch (days to civil date after
/// Howard Hinnant's algorithm).
fn iso8601_utc(epoch: i64) -> String {
    let (days, secs) = (epoch.div_euclid(86_400), epoch.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `debian` -> `Debian`, as Ansible names distributions.
fn distribution(id: &str) -> String {
    let known = [
        ("debian", "Debian"),
        ("ubuntu", "Ubuntu"),
        ("centos", "CentOS"),
        ("rhel", "RedHat"),
        ("fedora", "Fedora"),
        ("rocky", "Rocky"),
        ("almalinux", "AlmaLinux"),
        ("ol", "OracleLinux"),
        ("amzn", "Amazon"),
        ("alpine", "Alpine"),
        ("arch", "Archlinux"),
        ("manjaro", "Manjaro"),
        ("sles", "SLES"),
        ("opensuse-leap", "openSUSE Leap"),
        ("opensuse-tumbleweed", "openSUSE Tumbleweed"),
        ("linuxmint", "Linux Mint"),
        ("raspbian", "Debian"),
        ("kali", "Kali"),
        ("devuan", "Devuan"),
        ("gentoo", "Gentoo"),
    ];
    match known.iter().find(|(k, _)| *k == id) {
        Some((_, name)) => (*name).to_owned(),
        None => {
            let mut c = id.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    }
}

/// Ansible's OS family: from the distribution, else from `ID_LIKE`.
fn os_family(id: &str, id_like: &str) -> Option<&'static str> {
    let family = |word: &str| match word {
        "rhel" | "centos" | "fedora" | "rocky" | "almalinux" | "ol" | "amzn" | "scientific"
        | "cloudlinux" => Some("RedHat"),
        "debian" | "ubuntu" | "linuxmint" | "raspbian" | "kali" | "devuan" | "pop" => Some("Debian"),
        "sles" | "opensuse" | "opensuse-leap" | "opensuse-tumbleweed" | "suse" => Some("Suse"),
        "alpine" => Some("Alpine"),
        "arch" | "manjaro" => Some("Archlinux"),
        "gentoo" => Some("Gentoo"),
        _ => None,
    };
    std::iter::once(id)
        .chain(id_like.split_whitespace())
        .find_map(family)
}

/// The facts, without the `ansible_` prefix, from the script's output.
pub fn parse_facts(stdout: &str, mark: &str) -> Map<String, Value> {
    let lines = mark_lines(stdout, mark, &mut String::new());
    let marks: indexmap::IndexMap<&str, &str> = lines.iter().copied().collect();
    let get = |k: &str| marks.get(k).copied().unwrap_or("");
    let mut addrs: Vec<(String, String)> = Vec::new();
    for line in lines.iter().filter(|(k, _)| *k == "addr").map(|(_, v)| v) {
        if let Some((dev, cidr)) = line.split_once(' ') {
            addrs.push((dev.to_owned(), cidr.to_owned()));
        }
    }
    let mut f = Map::new();
    let hostname = get("hostname");
    f.insert(
        "hostname".into(),
        json!(hostname.split('.').next().unwrap_or(hostname)),
    );
    let fqdn = get("fqdn");
    f.insert("fqdn".into(), json!(fqdn));
    f.insert(
        "domain".into(),
        json!(fqdn.split_once('.').map(|(_, d)| d).unwrap_or("")),
    );
    f.insert("nodename".into(), json!(get("nodename")));
    let id = get("os_id");
    let dist = if id.is_empty() {
        if !get("redhat_release").is_empty() {
            "RedHat".to_owned()
        } else if !get("debian_version").is_empty() {
            "Debian".to_owned()
        } else {
            get("system").to_owned()
        }
    } else {
        distribution(id)
    };
    let family = os_family(id, get("os_id_like"))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            if !get("redhat_release").is_empty() {
                "RedHat".into()
            } else if !get("debian_version").is_empty() {
                "Debian".into()
            } else {
                dist.clone()
            }
        });
    // Debian's point release lives in /etc/debian_version (12.5), os-release says 12.
    let debian_point = get("debian_version");
    let version = if id == "debian" && debian_point.starts_with(|c: char| c.is_ascii_digit()) {
        debian_point
    } else {
        get("os_version")
    };
    f.insert("distribution".into(), json!(dist));
    f.insert("os_family".into(), json!(family));
    f.insert("distribution_version".into(), json!(version));
    f.insert(
        "distribution_major_version".into(),
        json!(version.split('.').next().unwrap_or(version)),
    );
    f.insert("distribution_release".into(), json!(get("os_codename")));
    f.insert("architecture".into(), json!(get("machine")));
    f.insert("machine".into(), json!(get("machine")));
    f.insert("kernel".into(), json!(get("kernel")));
    f.insert("kernel_version".into(), json!(get("kernel_version")));
    f.insert("system".into(), json!(get("system")));
    f.insert("user_id".into(), json!(get("user_id")));
    let iface = get("interface");
    let default_addr = addrs
        .iter()
        .find(|(dev, _)| dev == iface)
        .map(|(_, c)| c.as_str())
        .unwrap_or("");
    let (address, prefix) = default_addr.split_once('/').unwrap_or((default_addr, ""));
    let mut default = Map::new();
    if !iface.is_empty() {
        default.insert("interface".into(), json!(iface));
        default.insert("alias".into(), json!(iface));
        default.insert("address".into(), json!(address));
        if let Ok(bits) = prefix.parse::<u32>() {
            let mask = u32::MAX.checked_shl(32 - bits.min(32)).unwrap_or(0);
            default.insert(
                "netmask".into(),
                json!(std::net::Ipv4Addr::from(mask).to_string()),
            );
            if let Ok(ip) = address.parse::<std::net::Ipv4Addr>() {
                let net = u32::from(ip) & mask;
                default.insert("network".into(), json!(std::net::Ipv4Addr::from(net).to_string()));
            }
            default.insert("prefix".into(), json!(prefix));
        }
        if !get("gateway").is_empty() {
            default.insert("gateway".into(), json!(get("gateway")));
        }
    }
    f.insert("default_ipv4".into(), Value::Object(default));
    let all: Vec<&str> = addrs
        .iter()
        .map(|(_, c)| c.split('/').next().unwrap_or(c))
        .filter(|a| !a.starts_with("127."))
        .collect();
    f.insert("all_ipv4_addresses".into(), json!(all));
    f.insert(
        "pkg_mgr".into(),
        json!(marks.get("pkg_mgr").copied().unwrap_or("unknown")),
    );
    let service_mgr = match (get("service_mgr"), get("proc_1")) {
        ("systemd", _) => "systemd",
        (_, _) if !get("openrc").is_empty() => "openrc",
        (_, "init") => "sysvinit",
        (_, p) if p.starts_with("runit") => "runit",
        _ => "service",
    };
    f.insert("service_mgr".into(), json!(service_mgr));
    let vcpus: u64 = get("vcpus").trim().parse().unwrap_or(1);
    f.insert("processor_vcpus".into(), json!(vcpus));
    f.insert("processor_nproc".into(), json!(vcpus));
    if let Ok(kb) = get("memtotal_kb").parse::<u64>() {
        f.insert("memtotal_mb".into(), json!(kb / 1024));
    }
    let d: Vec<&str> = get("date").split(' ').collect();
    if let [epoch, y, mo, day, h, mi, s, nanos, tz, tz_offset, weekday, weekday_number, weeknumber] = d[..] {
        let micros = nanos.get(..6).unwrap_or("000000");
        let utc = epoch.parse::<i64>().map(iso8601_utc).unwrap_or_default();
        f.insert(
            "date_time".into(),
            json!({
                "year": y, "month": mo, "weekday": weekday, "weekday_number": weekday_number,
                "weeknumber": weeknumber, "day": day, "hour": h, "minute": mi, "second": s,
                "epoch": epoch, "epoch_int": epoch,
                "date": format!("{y}-{mo}-{day}"), "time": format!("{h}:{mi}:{s}"),
                "iso8601_micro": utc.replace('Z', &format!(".{micros}Z")),
                "iso8601": utc,
                "iso8601_basic": format!("{y}{mo}{day}T{h}{mi}{s}{micros}"),
                "iso8601_basic_short": format!("{y}{mo}{day}T{h}{mi}{s}"),
                "tz": tz, "tz_offset": tz_offset,
            }),
        );
    }
    f
}

/// `ansible_local`: the `local_file`/`local_exec` marks of the script, parsed.
fn local_facts_of(stdout: &str, mark: &str) -> (Map<String, Value>, Vec<String>) {
    let files = mark_lines(stdout, mark, &mut String::new())
        .into_iter()
        .filter_map(|(k, v)| FactFile::from_mark(k, v))
        .collect();
    local_facts(files)
}

/// `ansible_facts` and each fact as `ansible_NAME` (`ansible_local` keeps its name in
/// both, as in Ansible).
pub fn as_vars(facts: Map<String, Value>) -> VarMap {
    let mut vars: VarMap = IndexMap::new();
    for (k, v) in &facts {
        let name = if k.starts_with("ansible_") {
            k.clone()
        } else {
            format!("ansible_{k}")
        };
        vars.insert(name, v.clone());
    }
    vars.insert("ansible_facts".into(), Value::Object(facts));
    vars
}

#[async_trait]
impl TypedModule for Setup {
    type Args = Args;

    fn name(&self) -> &'static str {
        "setup"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["gather_facts"]
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let mark = fresh_mark();
        let fact_path = a.fact_path.as_deref().unwrap_or(DEFAULT_FACT_PATH);
        let cmd = RemoteCommand::new(script(&mark, fact_path)).run_as(ctx.run_as.cloned());
        let out = ctx.host.run(&cmd).await?;
        if out.rc != 0 && !out.stdout.contains(&mark) {
            let mut r = ModuleResult::failed(format!("gathering facts failed: {}", out.stderr.trim()));
            r.rc = Some(out.rc);
            return Ok(r);
        }
        let mut facts = parse_facts(&out.stdout, &mark);
        let (local, warnings) = local_facts_of(&out.stdout, &mark);
        facts.insert("ansible_local".into(), Value::Object(local));
        let mut r = ModuleResult::ok();
        if !warnings.is_empty() {
            r.extra.insert("warnings".into(), json!(warnings));
        }
        r.extra
            .insert("ansible_facts".into(), Value::Object(facts.clone()));
        r.facts = as_vars(facts);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args::MARK;

    fn sample(os: &str) -> String {
        format!(
            "{m}hostname=web1.example.com\n{m}fqdn=web1.example.com\n{m}machine=x86_64\n{os}\
             {m}interface=eth0\n{m}gateway=10.0.0.1\n{m}addr=lo 127.0.0.1/8\n{m}addr=eth0 10.0.0.5/24\n\
             {m}pkg_mgr=dnf\n{m}proc_1=init\n{m}vcpus=2\n",
            m = MARK
        )
    }

    #[test]
    fn families_from_id_and_id_like() {
        let f = parse_facts(
            &sample(&format!(
                "{MARK}os_id=rocky\n{MARK}os_id_like=rhel centos fedora\n{MARK}os_version=9.3\n"
            )),
            MARK,
        );
        assert_eq!(f["distribution"], "Rocky");
        assert_eq!(f["os_family"], "RedHat");
        assert_eq!(f["distribution_major_version"], "9");
        let f = parse_facts(
            &sample(&format!("{MARK}os_id=pop\n{MARK}os_id_like=ubuntu debian\n")),
            MARK,
        );
        assert_eq!(f["os_family"], "Debian");
        assert_eq!(f["hostname"], "web1");
        assert_eq!(f["domain"], "example.com");
        assert_eq!(f["service_mgr"], "sysvinit");
    }

    #[test]
    fn iso8601_from_the_epoch() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00Z");
        // `date -u -d @1709251199 +%Y-%m-%dT%H:%M:%SZ` (a leap day)
        assert_eq!(iso8601_utc(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(iso8601_utc(951_868_800), "2000-03-01T00:00:00Z");
        assert_eq!(iso8601_utc(4_102_444_800), "2100-01-01T00:00:00Z");
    }

    #[test]
    fn default_ipv4_and_all_addresses() {
        let f = parse_facts(&sample(""), MARK);
        assert_eq!(
            f["default_ipv4"],
            json!({"interface": "eth0", "alias": "eth0", "address": "10.0.0.5", "netmask": "255.255.255.0",
                   "network": "10.0.0.0", "prefix": "24", "gateway": "10.0.0.1"})
        );
        assert_eq!(f["all_ipv4_addresses"], json!(["10.0.0.5"]));
        let vars = as_vars(f);
        assert_eq!(vars["ansible_pkg_mgr"], "dnf");
        assert_eq!(vars["ansible_facts"]["pkg_mgr"], "dnf");
    }
}
