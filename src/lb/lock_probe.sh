# Whether a run holds zdd's rollout lock (lock.sh) on one load balancer, without taking it
# for longer than the look: `free`, `busy: HOLDER`, or `unsupported: ...`.
# shellcheck shell=sh disable=SC2154  # lock: set by zdd's quoted prologue
command -v flock >/dev/null 2>&1 || { echo "unsupported: flock is not installed"; exit 0; }
[ -r "$lock" ] || { echo free; exit 0; }
exec 9<"$lock" || { echo free; exit 0; }
if flock -n 9; then
  echo free
else
  echo "busy: $(cat "$lock")"
fi
