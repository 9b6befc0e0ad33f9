# `service`: start/stop/restart/reload $name and enable it at boot, with systemd or SysV init.
# shellcheck shell=sh disable=SC2154  # m name state enabled mgr extra check daemon_reload: set by zdd's quoted prologue
changed=0
fail() { echo "$*" >&2; exit 1; }
if [ -z "$mgr" ] || [ "$mgr" = auto ]; then
  case $name in
  /*) mgr=sysv ;;
  *) if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then mgr=systemd; else mgr=sysv; fi ;;
  esac
fi
[ "$mgr" = service ] && mgr=sysv
if [ "$mgr" = systemd ]; then
  unit=$name
  [ "$daemon_reload" = 1 ] && [ "$check" = 0 ] && { systemctl daemon-reload >&2 || fail "systemctl daemon-reload failed"; }
  [ "$(systemctl show -p LoadState --value "$unit" 2>/dev/null)" = not-found ] && fail "Could not find the requested service $name: host"
  running() { systemctl is-active --quiet "$unit"; }
  act() { systemctl "$1" "$unit"; }
  is_enabled() { systemctl is-enabled --quiet "$unit" 2>/dev/null; }
  set_enabled() { if [ "$1" = 1 ]; then systemctl enable "$unit"; else systemctl disable "$unit"; fi; }
else
  base=${name##*/}
  case $name in
  /*) [ -x "$name" ] || fail "Could not find the requested service $name: not an executable init script"; initd=$name ;;
  *) if [ -x "/etc/init.d/$name" ]; then initd=/etc/init.d/$name
     elif command -v service >/dev/null 2>&1; then initd=
     else fail "Could not find the requested service $name: host"; fi ;;
  esac
  # shellcheck disable=SC2086  # $extra: the init script's own words, split on purpose
  svc() { if [ -n "$initd" ]; then "$initd" "$@" $extra; else service "$name" "$@" $extra; fi; }
  running() { svc status >/dev/null 2>&1; }
  act() { if [ "$1" = restart ]; then svc restart || { svc stop; svc start; }; else svc "$1"; fi; }
  is_enabled() { ls /etc/rc[2345].d/S[0-9][0-9]"$base" >/dev/null 2>&1; }
  set_enabled() {
    if command -v update-rc.d >/dev/null 2>&1; then
      if [ "$1" = 1 ]; then update-rc.d "$base" defaults && update-rc.d "$base" enable; else update-rc.d "$base" disable; fi
    elif command -v chkconfig >/dev/null 2>&1; then
      if [ "$1" = 1 ]; then chkconfig "$base" on; else chkconfig "$base" off; fi
    else fail "cannot change whether $name starts at boot: no update-rc.d or chkconfig"; fi
  }
fi
do_() { changed=1; [ "$check" = 1 ] && return 0; act "$1" >&2 || fail "Unable to $1 service $name"; }
# What the service is now, when the action says so (asking again costs a status call).
status=
case $state in
started) running || do_ start; status=running ;;
stopped) ! running || do_ stop; status=stopped ;;
restarted) do_ restart; status=running ;;
reloaded) if running; then do_ reload; else do_ start; fi; status=running ;;
esac
[ "$check" = 1 ] && status=
if [ -n "$enabled" ]; then
  now=0; is_enabled && now=1
  if [ $now != "$enabled" ]; then
    changed=1
    [ "$check" = 1 ] || set_enabled "$enabled" >&2 || fail "Unable to change whether $name starts at boot"
  fi
fi
echo "${m}changed=$changed"
echo "${m}manager=$mgr"
if [ -z "$status" ]; then if running; then status=running; else status=stopped; fi; fi
echo "${m}status=$status"
