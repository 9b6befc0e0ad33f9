#!/usr/bin/env bash
# The plain-ssh floor of scripts/bench: the remote commands the lab's zero-downtime playbook
# needs, one `ssh` process per command over OpenSSH masters that are already open, nothing
# else (no facts, no change detection, no templating engine, no output).
#
#   floor.sh open  --lab DIR --ctl CTLDIR            open a master per host (before the timer)
#   floor.sh run   --lab DIR --ctl CTLDIR --version V --batch B [--forks F] [--cold]
#   floor.sh close --lab DIR --ctl CTLDIR
#
# `run` follows the playbook's linear strategy: batches of B web hosts one after the other;
# within a batch each step runs on every host of the batch (at most F at a time, at most 8
# at a time on the load balancer, as zdd does) before the next step starts:
#   disable in haproxy (on lb) -> write the config -> rm index.html -> write index.html
#   -> restart (the handler) -> wait for the port -> enable in haproxy (on lb).
# Everything runs under `sudo -n`, as the play's `become: yes` does. Exits non-zero when a
# command fails.
#
# --cold does the remote work zdd does that the plain floor leaves out: it opens the masters
# itself (all at once, before the first batch, inside its run) and gathers facts on each host
# at the start of its batch (one command per host, as `gather_facts` does).
set -euo pipefail

LB_SESSIONS=8

die() { echo "floor.sh: $*" >&2; exit 1; }

CMD=${1:-}
[ $# -gt 0 ] && shift
LAB='' CTL='' VERSION='' BATCH='' FORKS=20 COLD=0
while [ $# -gt 0 ]; do
  case $1 in
    --lab) LAB=$2; shift 2 ;;
    --ctl) CTL=$2; shift 2 ;;
    --version) VERSION=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --forks) FORKS=$2; shift 2 ;;
    --cold) COLD=1; shift ;;
    *) die "unknown argument $1" ;;
  esac
done
[ -n "$LAB" ] && [ -n "$CTL" ] || die "--lab and --ctl are required"
# shellcheck source=/dev/null # NET=127.0.X HOSTS=N TAG=X, written by lab.sh
. "$LAB/lab.env"
: "${NET:?}" "${HOSTS:?}" "${TAG:?}"
SOCK=$LAB/haproxy.sock

# Each host's address, from the lab's inventory (a lab of more than 200 hosts spreads over
# several nets).
declare -A ADDRESS
while read -r name rest; do
  [[ $rest =~ (^|[[:space:]])ansible_host=([^[:space:]]+) ]] && ADDRESS[$name]=${BASH_REMATCH[2]}
done <"$LAB/inventory.ini"
address() { # lb | webI
  echo "${ADDRESS[$1]:?no address for $1 in $LAB/inventory.ini}"
}

# One ssh process: the command over the host's master (opened by `open`). FLOOR_SSH_ARGS
# (scripts/bench --ssh-args) only matters when the master is opened.
on() {
  local host=$1
  shift
  # shellcheck disable=SC2086 # options, split like the inventory's
  ssh ${FLOOR_SSH_ARGS:-} -o ControlMaster=auto -o "ControlPath=$CTL/$host" -o ControlPersist=60 \
    -o BatchMode=yes -o "UserKnownHostsFile=$LAB/known_hosts" \
    -i "$LAB/id_ed25519" -p 2222 -l deploy "$(address "$host")" "$@"
}

# Run FN HOST for every host, at most N at a time; fails (naming the hosts) if any failed.
par() {
  local n=$1 fn=$2 running=0 host failed=$CTL/failed.$1
  shift 2
  rm -f "$failed"
  for host in "$@"; do
    if [ "$running" -ge "$n" ]; then
      wait -n || true
      running=$((running - 1))
    fi
    { "$fn" "$host" || echo "$host" >>"$failed"; } &
    running=$((running + 1))
  done
  wait
  if [ -s "$failed" ]; then
    echo "floor.sh: $fn failed on $(tr '\n' ' ' <"$failed")" >&2
    return 1
  fi
}

haproxy_cmd() { # disable|enable HOST
  local out
  out=$(on lb "sudo -n sh -c 'echo \"$1 server loadbalancer/$2\" | socat stdio $SOCK'")
  [ -z "${out//[[:space:]]/}" ] || { echo "floor.sh: $1 $2: $out" >&2; return 1; }
}
disable() { haproxy_cmd disable "$1"; }
enable() { haproxy_cmd enable "$1"; }

# The rendered templates (the floor knows the answer; zdd and ansible render Jinja).
conf_content() {
  printf '# busybox httpd configuration of %s, written by zdd.\n# Serve the pages as UTF-8 HTML.\n.html:text/html; charset=utf-8\n' "$1"
}
index_content() {
  printf '<!DOCTYPE html>\n<html>\n<head><title>%s</title></head>\n<body>\n<p>host: %s</p>\n<p>version: %s</p>\n</body>\n</html>\n' "$1" "$1" "$VERSION"
}

put() { # HOST DEST, content on stdin
  on "$1" "sudo -n sh -c 'cat >$2.zdd-floor && chmod 0644 $2.zdd-floor && mv $2.zdd-floor $2'"
}
write_conf() { conf_content "$1" | put "$1" "$LAB/conf/$1.conf"; }
remove_index() { on "$1" "sudo -n rm -f $LAB/www/$1/index.html"; }
write_index() { index_content "$1" | put "$1" "$LAB/www/$1/index.html"; }
restart() { on "$1" "sudo -n /etc/init.d/zdd-lab-$TAG-$1 restart" >/dev/null; }
wait_port() {
  local a
  a=$(address "$1")
  on "$1" "sudo -n sh -c 'end=\$((\$(date +%s) + 10)); until timeout 5 bash -c \"exec 3<>/dev/tcp/$a/8081\" 2>/dev/null; do [ \$(date +%s) -lt \$end ] || exit 1; sleep 1; done'"
}

# One command per host for the facts `gather_facts` collects (hostname, OS, kernel, address).
facts() {
  on "$1" 'hostname; hostname -f 2>/dev/null; uname -srm; cat /etc/os-release; ip -4 route show default 2>/dev/null' >/dev/null
}

open_one() {
  # A master that stays up for ControlPersist after this first command.
  on "$1" true
}
close_one() {
  ssh -o "ControlPath=$CTL/$1" -O exit "$(address "$1")" 2>/dev/null || true
}

all_hosts() {
  echo lb
  local i
  for ((i = 1; i <= HOSTS; i++)); do echo "web$i"; done
}

case $CMD in
  open)
    mkdir -p "$CTL"
    mapfile -t hosts < <(all_hosts)
    par 64 open_one "${hosts[@]}"
    ;;
  close)
    mapfile -t hosts < <(all_hosts)
    par 64 close_one "${hosts[@]}"
    ;;
  run)
    [ -n "$VERSION" ] && [ -n "$BATCH" ] || die "run needs --version and --batch"
    lb_forks=$((FORKS < LB_SESSIONS ? FORKS : LB_SESSIONS))
    if [ "$COLD" = 1 ]; then
      mkdir -p "$CTL"
      mapfile -t hosts < <(all_hosts)
      par 64 open_one "${hosts[@]}"
    fi
    for ((first = 1; first <= HOSTS; first += BATCH)); do
      batch=()
      for ((i = first; i < first + BATCH && i <= HOSTS; i++)); do batch+=("web$i"); done
      if [ "$COLD" = 1 ]; then par "$FORKS" facts "${batch[@]}"; fi
      par "$lb_forks" disable "${batch[@]}"
      par "$FORKS" write_conf "${batch[@]}"
      par "$FORKS" remove_index "${batch[@]}"
      par "$FORKS" write_index "${batch[@]}"
      par "$FORKS" restart "${batch[@]}"
      par "$FORKS" wait_port "${batch[@]}"
      par "$lb_forks" enable "${batch[@]}"
    done
    ;;
  *) die "usage: floor.sh open|run|close --lab DIR --ctl CTLDIR [--version V --batch B --forks F]" ;;
esac
