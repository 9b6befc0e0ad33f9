# zdd's rollout lock on one load balancer, held until zdd closes standard input (or dies):
# two rollouts from different controllers must not change the same load balancer at once.
# shellcheck shell=sh disable=SC2154  # lock, holder: set by zdd's quoted prologue
command -v flock >/dev/null 2>&1 || { echo "unsupported: flock is not installed"; exit 0; }
umask 000
exec 9>>"$lock" || { echo "error: cannot open $lock"; exit 1; }
if ! flock -n 9; then
  echo "busy: $(cat "$lock")"
  exit 75
fi
printf '%s\n' "$holder" >"$lock"
echo locked
cat >/dev/null
