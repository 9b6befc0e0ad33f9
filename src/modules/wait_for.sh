# `wait_for`: poll until a port opens, closes or drains, or a file appears (holding a
# pattern) or goes; exit 3 on timeout.
# shellcheck shell=sh disable=SC2154  # m host port path regex ct pause delay timeout check: set by zdd's quoted prologue
# Probing a port with what the target has: nc (openbsd, traditional and nmap's all take
# -z -w), else bash's /dev/tcp (under `timeout` when present), else busybox nc.
port_open() {
  if command -v nc >/dev/null 2>&1; then nc -z -w "$ct" "$host" "$port" </dev/null >/dev/null 2>&1
  elif command -v bash >/dev/null 2>&1; then
    if command -v timeout >/dev/null 2>&1; then to="timeout $ct"; else to=; fi
    # shellcheck disable=SC2086,SC2016  # $to: `timeout N`, split on purpose; $0 $1: bash's
    $to bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
  elif command -v busybox >/dev/null 2>&1; then busybox nc -z -w "$ct" "$host" "$port" </dev/null >/dev/null 2>&1
  else echo "cannot probe ports on this host: no nc, bash or busybox" >&2; exit 2; fi
}
# bash reads line by line and stops at the first match; `nc | grep` would hold the
# connection open until nc's idle timeout when the server keeps talking (or keeps quiet).
port_matches() {
  if command -v bash >/dev/null 2>&1; then
    bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1
      while IFS= read -r -t "$3" line <&3 || [ -n "$line" ]; do [[ $line =~ $2 ]] && exit 0; line=; done
      exit 1' "$host" "$port" "$regex" "$ct" 2>/dev/null
  else nc -w "$ct" "$host" "$port" </dev/null 2>/dev/null | grep -Eq -- "$regex"; fi
}
# ESTABLISHED (state 01) connections whose local port is ours, from the kernel's tables.
conns() {
  awk -v p="$(printf ':%04X' "$port")" 'substr($2, length($2) - 4) == p && $4 == "01" { n++ } END { print n + 0 }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
# Whether what the task waits for holds now.
holds() {
  case $check in
  port_closed) ! port_open ;;
  drained) [ "$(conns)" = 0 ] ;;
  port_matches) port_matches ;;
  port_open) port_open ;;
  path_absent) [ ! -e "$path" ] ;;
  path_matches) [ -f "$path" ] && grep -Eq -- "$regex" "$path" ;;
  path_present) [ -e "$path" ] ;;
  # Neither port nor path: Ansible just sleeps for `timeout`.
  *) [ "$(date +%s)" -ge "$end" ] ;;
  esac
}
# No `sleep 0`: every program started costs a fork and an exec.
[ -z "$delay" ] || sleep "$delay"
start=$(date +%s); end=$((start + timeout))
while :; do
  if holds; then echo "${m}elapsed=$(( $(date +%s) - start ))"; exit 0; fi
  [ "$(date +%s)" -ge "$end" ] && break
  sleep "$pause"
done
echo "${m}elapsed=$(( $(date +%s) - start ))"
exit 3
