# `nginx_upstream`: read the upstream file, switch it (atomically, `nginx -t`, reload,
# verify through nginx, and put the previous file back on any failure), or only verify.
# Exit codes of `switch`: 0 switched and verified; 3 failed and switched back (nginx runs
# the previous file again); 5 failed before the file was replaced (nothing changed);
# anything else: failed and the way back failed too.
# shellcheck shell=sh disable=SC2154  # m, mode, path, conf, content, previous, verify_url, verify_contains, retries, delay: set by zdd's quoted prologue

# One GET of the verify URL: its body on stdout, non-zero unless 2xx.
get() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time 5 -- "$verify_url"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -T 5 -O - -- "$verify_url"
  else
    busybox wget -q -T 5 -O - "$verify_url"
  fi
}

# Until the URL answers 2xx (with the expected text), at most $retries tries; $why says
# what went wrong.
verify() {
  [ -n "$verify_url" ] || return 0
  try=1
  while :; do
    if body=$(get 2>&1); then
      case $body in *"$verify_contains"*) return 0 ;; esac
      why="$verify_url answered without \"$verify_contains\""
    else
      why="GET $verify_url failed: $(printf '%s' "$body" | tail -n 1)"
    fi
    [ "$try" -lt "$retries" ] || break
    try=$((try + 1))
    sleep "$delay"
  done
  why="verification through nginx failed after $retries tries: $why"
  return 1
}

# nginx's worker pids (children of the master in the pid file nginx's configuration names),
# one line; empty when they cannot be listed.
workers() {
  [ -n "$master" ] && command -v pgrep >/dev/null 2>&1 && pgrep -P "$master" | tr '\n' ' '
}

# A reload is asynchronous: the new configuration serves new connections once the master
# has started a new worker. Wait for one (at most 5 s), so that the verification cannot be
# answered by a worker still running the old configuration.
wait_new_worker() {
  [ -n "$master" ] && command -v pgrep >/dev/null 2>&1 || return 0
  n=0
  while [ "$n" -lt 100 ]; do
    for pid in $(workers); do
      case " $before " in *" $pid "*) ;; *) return 0 ;; esac
    done
    n=$((n + 1))
    sleep 0.05
  done
}

# After a reload the old workers finish their requests in flight (to the previous upstream)
# and exit. Until they have, the previous upstream still takes traffic: stopping it then
# costs failed requests. Wait for them (at most 20 s: a longer request keeps its worker).
wait_old_workers_gone() {
  [ -n "$master" ] && command -v pgrep >/dev/null 2>&1 || return 0
  n=0
  while [ "$n" -lt 400 ]; do
    left=
    now=" $(workers) "
    for pid in $before; do
      case $now in *" $pid "*) left=1 ;; esac
    done
    [ -n "$left" ] || return 0
    n=$((n + 1))
    sleep 0.05
  done
}

reload() {
  nginx -t -q -c "$conf" 2>&1 && nginx -s reload -c "$conf" 2>&1
}

# Put the previous file (or no file) back and reload; exit 3 when nginx runs it again.
restore() {
  echo "$1" >&2
  if [ "$had" = 1 ]; then
    cp -p -- "$previous" "$tmp" && mv -f -- "$tmp" "$path" || exit 4
  else
    rm -f -- "$path" || exit 4
  fi
  # Never reloaded: nginx still runs the previous file.
  [ "$reloaded" = 1 ] || exit 3
  before=$(workers)
  if out=$(reload); then
    wait_new_worker
    wait_old_workers_gone
    exit 3
  fi
  echo "reloading nginx with the previous file failed too: $out" >&2
  exit 4
}

case $mode in
  read)
    if [ -e "$path" ]; then
      cat -- "$path"
    else
      echo "${m}missing=1"
    fi
    ;;
  verify)
    verify || { echo "$why" >&2; exit 1; }
    ;;
  switch)
    dir=$(dirname -- "$path")
    had=0 reloaded=0
    if [ -e "$path" ]; then
      had=1
      cp -p -- "$path" "$previous" || exit 5
    fi
    tmp=$(mktemp "$dir/.zdd-upstream.XXXXXX") || exit 5
    printf '%s' "$content" >"$tmp" || { rm -f -- "$tmp"; exit 5; }
    if [ "$had" = 1 ]; then
      chmod --reference="$path" -- "$tmp" 2>/dev/null
      chown --reference="$path" -- "$tmp" 2>/dev/null
    else
      chmod 644 -- "$tmp"
    fi
    mv -f -- "$tmp" "$path" || { rm -f -- "$tmp"; exit 5; }
    out=$(nginx -t -q -c "$conf" 2>&1) || restore "nginx -t rejects the new upstream: $out"
    pidfile=$(nginx -T -q -c "$conf" 2>/dev/null | awk '$1 == "pid" { sub(/;$/, "", $2); print $2; exit }')
    master=$(cat "${pidfile:-/run/nginx.pid}" 2>/dev/null) || master=
    before=$(workers)
    out=$(nginx -s reload -c "$conf" 2>&1) || restore "nginx -s reload failed: $out"
    reloaded=1
    wait_new_worker
    verify || restore "$why"
    wait_old_workers_gone
    ;;
esac
