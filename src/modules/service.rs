//! `service`: start, stop, restart or reload a service, and enable it at boot.
//!
//! systemd when the target booted with it (`/run/systemd/system` exists), else SysV init:
//! `/etc/init.d/NAME`, or `service NAME`. An absolute `name` is taken as the init script
//! itself (handy for services installed outside /etc/init.d, and for tests).

use super::args::{self, check_choice, split_marks, MARK};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
use crate::host::{sh_quote, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Service;

const STATES: &[&str] = &["started", "stopped", "restarted", "reloaded"];
const MANAGERS: &[&str] = &["auto", "systemd", "sysv", "service"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    name: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    enabled: Option<bool>,
    #[serde(default, alias = "daemon-reload", deserialize_with = "args::opt_bool")]
    daemon_reload: Option<bool>,
    #[serde(default, rename = "use")]
    manager: Option<String>,
    /// Extra words for the init script (`args` in Ansible).
    #[serde(default, alias = "args")]
    arguments: Option<String>,
}

impl Args {
    fn check(&self) -> Result<(), ArgError> {
        check_choice("state", self.state.as_deref(), STATES)?;
        check_choice("use", self.manager.as_deref(), MANAGERS)?;
        Ok(())
    }
}

fn script(a: &Args, check_mode: bool) -> String {
    let enabled = match a.enabled {
        Some(true) => "1",
        Some(false) => "0",
        None => "",
    };
    format!(
        r#"name={name}; state={state}; enabled={enabled}; mgr={mgr}; extra={extra}
check={check}; daemon_reload={reload}; changed=0
fail() {{ echo "$*" >&2; exit 1; }}
if [ -z "$mgr" ] || [ "$mgr" = auto ]; then
  case $name in
  /*) mgr=sysv ;;
  *) if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then mgr=systemd; else mgr=sysv; fi ;;
  esac
fi
[ "$mgr" = service ] && mgr=sysv
if [ $mgr = systemd ]; then
  unit=$name
  [ $daemon_reload = 1 ] && [ $check = 0 ] && {{ systemctl daemon-reload >&2 || fail "systemctl daemon-reload failed"; }}
  [ "$(systemctl show -p LoadState --value "$unit" 2>/dev/null)" = not-found ] && fail "Could not find the requested service $name: host"
  running() {{ systemctl is-active --quiet "$unit"; }}
  act() {{ systemctl "$1" "$unit"; }}
  is_enabled() {{ systemctl is-enabled --quiet "$unit" 2>/dev/null; }}
  set_enabled() {{ if [ $1 = 1 ]; then systemctl enable "$unit"; else systemctl disable "$unit"; fi; }}
else
  base=${{name##*/}}
  case $name in
  /*) [ -x "$name" ] || fail "Could not find the requested service $name: not an executable init script"; initd=$name ;;
  *) if [ -x "/etc/init.d/$name" ]; then initd=/etc/init.d/$name
     elif command -v service >/dev/null 2>&1; then initd=
     else fail "Could not find the requested service $name: host"; fi ;;
  esac
  svc() {{ if [ -n "$initd" ]; then "$initd" "$@" $extra; else service "$name" "$@" $extra; fi; }}
  running() {{ svc status >/dev/null 2>&1; }}
  act() {{ if [ "$1" = restart ]; then svc restart || {{ svc stop; svc start; }}; else svc "$1"; fi; }}
  is_enabled() {{ ls /etc/rc[2345].d/S[0-9][0-9]"$base" >/dev/null 2>&1; }}
  set_enabled() {{
    if command -v update-rc.d >/dev/null 2>&1; then
      if [ $1 = 1 ]; then update-rc.d "$base" defaults && update-rc.d "$base" enable; else update-rc.d "$base" disable; fi
    elif command -v chkconfig >/dev/null 2>&1; then
      if [ $1 = 1 ]; then chkconfig "$base" on; else chkconfig "$base" off; fi
    else fail "cannot change whether $name starts at boot: no update-rc.d or chkconfig"; fi
  }}
fi
do_() {{ changed=1; [ $check = 1 ] && return 0; act "$1" >&2 || fail "Unable to $1 service $name"; }}
# What the service is now, when the action says so (asking again costs a status call).
status=
case $state in
started) running || do_ start; status=running ;;
stopped) ! running || do_ stop; status=stopped ;;
restarted) do_ restart; status=running ;;
reloaded) if running; then do_ reload; else do_ start; fi; status=running ;;
esac
[ $check = 1 ] && status=
if [ -n "$enabled" ]; then
  now=0; is_enabled && now=1
  if [ $now != $enabled ]; then
    changed=1
    [ $check = 1 ] || set_enabled $enabled >&2 || fail "Unable to change whether $name starts at boot"
  fi
fi
echo "{m}changed=$changed"
echo "{m}manager=$mgr"
if [ -z "$status" ]; then if running; then status=running; else status=stopped; fi; fi
echo "{m}status=$status"
"#,
        name = sh_quote(&a.name),
        state = sh_quote(a.state.as_deref().unwrap_or("")),
        mgr = sh_quote(a.manager.as_deref().unwrap_or("")),
        extra = sh_quote(a.arguments.as_deref().unwrap_or("")),
        check = if check_mode { "1" } else { "0" },
        reload = if a.daemon_reload == Some(true) { "1" } else { "0" },
        m = MARK,
    )
}

#[async_trait]
impl TypedModule for Service {
    type Args = Args;

    fn name(&self) -> &'static str {
        "service"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["systemd", "sysvinit"]
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        a.check()
    }

    fn check_static(&self, _a: &Args, raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        // Looked up raw: a templated `enabled` is `None` until rendered.
        let given = |k: &str| raw.get(k).is_some_and(|v| !v.is_null());
        if !given("state") && !given("enabled") && !given("daemon_reload") && !given("daemon-reload") {
            return Err(ArgError::new("`service` needs `state` or `enabled`"));
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let cmd = RemoteCommand::new(script(&a, ctx.check_mode)).run_as(ctx.run_as.cloned());
        let out = ctx.host.run(&cmd).await?;
        let (marks, _) = split_marks(&out.stdout);
        let mut r = if out.rc != 0 {
            let mut r = ModuleResult::failed(
                out.stderr
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or("service failed")
                    .to_owned(),
            );
            r.rc = Some(out.rc);
            r.stderr = Some(out.stderr.trim_end().to_owned());
            r
        } else {
            ModuleResult::changed(marks.get("changed").map(String::as_str) == Some("1"))
        };
        r.extra.insert("name".into(), json!(a.name));
        if let Some(state) = &a.state {
            r.extra.insert("state".into(), json!(state));
        }
        if let Some(enabled) = a.enabled {
            r.extra.insert("enabled".into(), json!(enabled));
        }
        for key in ["manager", "status"] {
            if let Some(v) = marks.get(key) {
                r.extra.insert(key.into(), json!(v));
            }
        }
        Ok(r)
    }
}
