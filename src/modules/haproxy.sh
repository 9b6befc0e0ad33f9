# `haproxy`: plan (haproxy_plan.awk over `show stat`), change, drain and wait, talking to
# HAProxy's runtime API on $sock; see haproxy.rs for the lines it prints and its exit codes.
# shellcheck shell=sh disable=SC2154  # every lower-case variable not set here: set by zdd's quoted prologue
# Every line printed is `word<TAB>fields`; text from elsewhere (HAProxy's answers, error
# messages) is flattened to one line without tabs first, so it cannot print lines of its own.
flat() { printf '%s' "$1" | tr '\t\n\r' '   ' | sed 's/ *$//'; }
fail() { printf 'error\t%s\n' "$(flat "$*")"; exit "$e_error"; }
if command -v socat >/dev/null 2>&1; then client=socat
elif command -v nc >/dev/null 2>&1 && nc -h 2>&1 | grep -q -- '-U'; then client=nc
elif command -v ncat >/dev/null 2>&1; then client=ncat
else fail "no client for HAProxy's socket on this host (socat, nc -U or ncat): install socat"; fi
printf 'client\t%s\n' "$client"
# One session: the command line in, HAProxy's answer out (it closes after answering).
hap() {
  case $client in
  socat) printf '%s\n' "$1" | socat -t 30 - "UNIX-CONNECT:$sock" ;;
  nc) printf '%s\n' "$1" | nc -U "$sock" ;;
  ncat) printf '%s\n' "$1" | ncat -U "$sock" ;;
  esac
}
# A group of commands in one session: each answers an empty line when it worked.
send() {
  answer=$(hap "$1" 2>&1); rc=$?
  answer=$(flat "$answer")
  printf 'answer\t%s\t%s\n' "$1" "$answer"
  [ "$rc" -eq 0 ] && [ -z "$answer" ]
}
show_stat() {
  out=$(hap 'show stat' 2>&1) || fail "cannot talk to HAProxy at $sock: $out"
  case $out in "# pxname"*) ;; *) fail "HAProxy at $sock answered show stat with: $out" ;; esac
  printf '%s\n' "$out"
}
# Until the answer is `done`, or give up after N polls (the last answer stays printed).
poll() {
  p_mode=$1 p_pairs=$2 p_limit=$3 i=0
  while :; do
    now=$(show_stat) || { printf '%s\n' "$now"; exit "$e_error"; }
    now=$(printf '%s\n' "$now" | awk -v pairs="$p_pairs" -v mode="$p_mode" "$poll_awk")
    case $now in *done) printf '%s\n' "$now" | grep -v '^done'; return 0 ;; esac
    i=$((i + 1))
    if [ "$i" -ge "$p_limit" ]; then printf '%s\n' "$now" | grep -v '^pending'; return 1; fi
    sleep "$poll"
  done
}
[ -S "$sock" ] || fail "no HAProxy socket at $sock (set \`socket\`)"
[ -w "$sock" ] || fail "$(id -un) may not write to $sock (become: true?)"
# Concurrent calls for one load balancer (the hosts of a batch) take turns to read and
# change, so that each one's capacity guard sees the others' servers leave.
lockdir=$(dirname "$sock")
if command -v flock >/dev/null 2>&1 && [ -r "$lockdir" ] && [ -x "$lockdir" ]; then
  exec 9<"$lockdir"; flock -w 60 9 || true
fi
before=$(show_stat) || { printf '%s\n' "$before"; exit "$e_error"; }
plan=$(printf '%s\n' "$before" | awk -v servers="$servers" -v backend="$backend" -v want="$want" \
  -v min_up="$min_up" -v weight="$weight" -v shutdown="$shutdown" -v drain="$drain" \
  -v agent="$agent" -v health="$health" "$plan_awk") || fail "cannot read HAProxy's show stat"
printf '%s\n' "$plan"
if printf '%s\n' "$plan" | grep -q '^refuse'; then exit "$e_refused"; fi
if [ "$fail_missing" = 1 ] && printf '%s\n' "$plan" | grep -q '^missing'; then exit "$e_missing"; fi
[ "$check" = 1 ] && exit 0
cmds=$(printf '%s\n' "$plan" | awk -F '\t' '$1 == "cmd" || $1 == "extra" { print $4 }')
while IFS= read -r c; do
  [ -n "$c" ] || continue
  send "$c" || exit "$e_answer"
done <<EOF
$cmds
EOF
exec 9<&-
pairs=$(printf '%s\n' "$plan" | awk -F '\t' '$1 == "pair" { printf "%s/%s ", $2, $3 }')
draining=$(printf '%s\n' "$plan" | awk -F '\t' '$1 == "drainwait" { printf "%s/%s ", $2, $3 }')
if [ -n "$draining" ]; then
  poll drained "$draining" "$drain_polls" || { printf 'timeout\tdrain\n'; exit "$e_drain"; }
  printf 'drained\n'
  for p in $draining; do send "disable server $p" || exit "$e_answer"; done
fi
if [ "$wait" = 1 ] && [ -n "$pairs" ]; then
  poll "$wait_mode" "$pairs" "$wait_polls" || { printf 'timeout\twait\n'; exit "$e_wait"; }
elif [ -n "$pairs" ]; then
  poll any "$pairs" 1 || true
fi
