#!/usr/bin/env bash
# The zero-downtime demo on the local lab: four web servers behind haproxy, a probe
# sending requests through haproxy the whole time, and a rolling upgrade to version 2.
# Exits non-zero if a single request failed or a host does not serve version 2.
#
#   examples/lab/demo.sh                      # zdd (built with cargo build --release)
#   ZDD_RUNNER=ansible examples/lab/demo.sh   # ansible-playbook, for comparison
#   examples/lab/demo.sh --scenario blue-green   # or rolling (default), cloud-lb, cluster, self-healing
#
# A scenario other than `rolling` lives in examples/lab/demo-NAME.sh, which defines
# scenario_lab_args (extra `lab.sh start` flags, one per line), scenario_probe_url,
# scenario_run (the zdd command; returns its exit code) and scenario_check (the end state).
#
# Environment: ZDD_RUNNER (zdd | ansible), ZDD_DEMO_HOSTS (4), ZDD_DEMO_NET (127.0.99),
# ZDD_DEMO_STRICT=1 (haproxy without retries: see lab.sh --strict),
# ANSIBLE_PLAYBOOK (path of ansible-playbook; default /work/venv-ansible/bin/ansible-playbook
# or the one on PATH). Run as root. A zdd rollout writes its HTML report (`--report`) to
# /tmp/zdd-demo-report.XXXXXX.html with its own probe's traffic (`--probe`); the demo prints
# its path (scenarios may pass "$report" too).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
runner=${ZDD_RUNNER:-zdd}
hosts=${ZDD_DEMO_HOSTS:-4}
net=${ZDD_DEMO_NET:-127.0.99}
strict=()
if [ "${ZDD_DEMO_STRICT:-0}" = 1 ]; then strict=(--strict); fi
version=2
scenario=rolling
while [ $# -gt 0 ]; do
  case $1 in
    --scenario) [ $# -ge 2 ] || { echo "demo: --scenario needs a name" >&2; exit 2; }; scenario=$2; shift 2 ;;
    --scenario=*) scenario=${1#*=}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done

say() { echo "demo: $*"; }

# The rolling scenario: the workshop's playbook behind haproxy.
scenario_lab_args() { :; }
scenario_probe_url() { echo "http://$net.10:8080/"; }
scenario_run() { run_upgrade; }
scenario_check() { every_host_serves_the_version; }

# Helpers for the scenarios' checks.
every_host_serves_the_version() {
  local i stale=0
  for ((i = 1; i <= hosts; i++)); do
    if ! curl -fsS "http://$net.$((10 + i)):8081/" | grep -qF "version: $version<"; then
      echo "demo: web$i does not serve version $version" >&2
      stale=1
    fi
  done
  return "$stale"
}

# The state haproxy gives server NAME of the lab's backend: UP, MAINT, DOWN...
haproxy_state() {
  echo "show stat" | socat -t 5 stdio "UNIX-CONNECT:$dir/haproxy.sock" |
    awk -F, -v s="$1" '$1 == "loadbalancer" && $2 == s { print $18 }'
}

install_missing() {
  local missing=() cmd pkg
  for pair in sshd:openssh-server haproxy:haproxy socat:socat sudo:sudo busybox:busybox curl:curl; do
    cmd=${pair%%:*} pkg=${pair#*:}
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

run_upgrade() {
  case $runner in
    zdd)
      "$zdd" apply "$here/zero-downtime.yml" -i "$dir/inventory.ini" -e "version=$version" \
        --probe "$(scenario_probe_url)" --report "$report"
      ;;
    ansible)
      local playbook=${ANSIBLE_PLAYBOOK:-}
      if [ -z "$playbook" ]; then
        if [ -x /work/venv-ansible/bin/ansible-playbook ]; then
          playbook=/work/venv-ansible/bin/ansible-playbook
        else
          playbook=$(command -v ansible-playbook) || {
            echo "demo: no ansible-playbook (python3 -m venv /work/venv-ansible && /work/venv-ansible/bin/pip install ansible-core)" >&2
            return 1
          }
        fi
      fi
      ANSIBLE_PYTHON_INTERPRETER=auto_silent "$playbook" "$here/zero-downtime.yml" \
        -i "$dir/inventory.ini" -e "version=$version"
      ;;
    *)
      echo "demo: ZDD_RUNNER must be zdd or ansible, not $runner" >&2
      return 1
      ;;
  esac
}

if [ "$scenario" != rolling ]; then
  [ -f "$here/demo-$scenario.sh" ] || {
    known=rolling
    for f in "$here"/demo-*.sh; do [ -e "$f" ] && known="$known ${f##*/demo-}"; done
    echo "demo: no scenario $scenario (known: ${known//.sh/})" >&2
    exit 2
  }
  [ "$runner" = zdd ] || { echo "demo: ZDD_RUNNER=$runner is for the rolling scenario only" >&2; exit 2; }
  # shellcheck source=/dev/null
  . "$here/demo-$scenario.sh"
fi
zdd=$repo/target/release/zdd

[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (the lab adds a user and init scripts)" >&2; exit 1; }
install_missing
if [ "$runner" = zdd ]; then
  # rustup installs cargo in ~/.cargo/bin, which `sudo` leaves out of PATH.
  [ -x "$HOME/.cargo/bin/cargo" ] && PATH="$HOME/.cargo/bin:$PATH"
  command -v cargo >/dev/null || { echo "demo: cargo not found: install the Rust toolchain (https://rustup.rs)" >&2; exit 1; }
  say "building zdd"
  (cd "$repo" && cargo build --release --quiet)
fi

dir=$(mktemp -d /tmp/zdd-demo.XXXXXX)
# The HTML report of the rollout (zdd's runs), kept after the lab is gone.
report=$(mktemp --suffix=.html /tmp/zdd-demo-report.XXXXXX)
# Readable by the user who opens it in a browser (the demo runs as root).
chmod 644 "$report"
probe_pid=
cleanup() {
  if [ -n "$probe_pid" ]; then kill "$probe_pid" 2>/dev/null || true; fi
  "$here/lab.sh" stop --dir "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mapfile -t lab_args < <(scenario_lab_args)
"$here/lab.sh" start --hosts "$hosts" --dir "$dir" --net "$net" "${strict[@]}" "${lab_args[@]}"

"$here/probe" --url "$(scenario_probe_url)" --concurrency 4 --duration 1800 \
  --stop-file "$dir/probe.stop" >"$dir/probe.out" 2>"$dir/probe.err" &
probe_pid=$!
sleep 0.5

say "$scenario: upgrading $hosts hosts to version $version with $runner"
start=$EPOCHREALTIME
status=0
scenario_run || status=$?
elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')

touch "$dir/probe.stop"
wait "$probe_pid" || true
probe_pid=
cat "$dir/probe.err" >&2
result=$(head -n1 "$dir/probe.out")
say "$result"
say "$(sed -n 2p "$dir/probe.out")"
say "$runner took ${elapsed}s (exit $status)"
[ -s "$report" ] || { rm -f "$report"; report=; }

stale=0
scenario_check || stale=1

failed=$(echo "$result" | sed -n 's/.*failed=\([0-9]*\).*/\1/p')
if [ "$status" -ne 0 ] || [ "$stale" -ne 0 ] || [ "${failed:-1}" -ne 0 ]; then
  say "FAILED"
  [ -z "$report" ] || say "report: $report"
  exit 1
fi
say "zero downtime: every host serves version $version, no request failed"
[ -z "$report" ] || say "report: $report"
