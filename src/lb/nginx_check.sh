# Preflight: nginx runs (its pid file's process lives), its configuration is valid, and
# the upstream file can be replaced (written in place, or renamed over from its directory).
# shellcheck shell=sh disable=SC2154  # upstream, conf: set by zdd's quoted prologue
command -v nginx >/dev/null 2>&1 || { echo 'nginx is not installed' >&2; exit 1; }
[ -r "$conf" ] || { echo "no nginx configuration at $conf" >&2; exit 1; }
out=$(nginx -t -q -c "$conf" 2>&1) || { echo "nginx -t -c $conf fails: $out" >&2; exit 1; }
# The pid file nginx writes: the configuration's `pid` directive, or Debian's default.
pidfile=$(nginx -T -q -c "$conf" 2>/dev/null | awk '$1 == "pid" { sub(/;$/, "", $2); print $2; exit }')
[ -n "$pidfile" ] || pidfile=/run/nginx.pid
pid=$(cat "$pidfile" 2>/dev/null) || { echo "nginx is not running: no pid file $pidfile" >&2; exit 1; }
case $pid in '' | *[!0-9]*) echo "nginx is not running: $pidfile holds '$pid'" >&2; exit 1 ;; esac
[ -d "/proc/$pid" ] || { echo "nginx is not running: pid $pid (from $pidfile) is gone" >&2; exit 1; }
dir=$(dirname -- "$upstream")
if [ ! -d "$dir" ] || [ ! -w "$dir" ]; then
  echo "cannot replace $upstream: $dir is not a writable directory" >&2
  exit 1
fi
[ ! -e "$upstream" ] || [ -w "$upstream" ] || { echo "cannot write $upstream" >&2; exit 1; }
