#!/usr/bin/env bash
# zdd's local lab: the Ansible workshop's load balancer and web servers, emulated on this
# machine with real processes on loopback addresses only.
#
#   lab.sh start  --hosts N --dir DIR --net 127.0.X [--strict] [--blue-green] [--haproxy-tcp]
#                 [--clusters alfa:4,bravo:2]   (as root)
#   lab.sh status --dir DIR
#   lab.sh stop   --dir DIR
#
# Per host one sshd on 127.0.X.(10+i):2222 (lb is i=0, webI is i=I), one busybox httpd per
# web host on 127.0.X.(10+I):8081 behind a sysv-style init script /etc/init.d/zdd-lab-X-webI,
# and one haproxy on 127.0.X.10:8080 with its runtime API on DIR/haproxy.sock.
#
# Big labs (--hosts above 200, up to 1000): 200 web hosts per /24 on consecutive nets, so
# lb stays 127.0.X.10, web1-200 are 127.0.X.11-210 as above, web201-400 127.0.(X+1).11-210,
# and so on (webI: 127.0.(X + (I-1)/200).(11 + (I-1)%200)); every net is locked and checked.
# One sshd serves 16 hosts' addresses (OpenSSH's MAX_LISTEN_SOCKS: sshd refuses a 17th
# ListenAddress), DIR/sshd_config.groupG, log DIR/log/sshd.groupG.log; haproxy checks every
# server each 2 s instead of 200 ms (every 200 ms while a server is down or changing state),
# or 1000 servers' checks would keep the machine busy forking httpd children.
# DIR/inventory.ini is an Ansible INI inventory for all of it.
# Users (kept between labs, created once): `deploy` logs in with DIR's key, sudo without a
# password; `deploy-pw` (password zdd-lab-pw) logs in with the key or that password, and its
# sudo asks for it (for -K and -k).
#
# haproxy retries a refused connection, or one closed without an answer, and redispatches
# it to another server, as a real setup would. --strict turns that off, so that a web server restarted while still in the
# pool costs failed requests: the probe then sees a deploy that forgot to disable it.
#
# --blue-green adds the blue/green scenario (the "blue/green" block below): nginx on
# 127.0.X.10:8090 in front of two color instances per web host (busybox httpd on :8082 blue,
# :8083 green, init scripts /etc/init.d/zdd-lab-X-webI-blue|green), blue live and green
# stopped, and etcd on 127.0.X.10:2379 holding the live color.
#
# --haproxy-tcp: the "cloud load balancer" of playbooks/cloud-lb-drain.yml: haproxy's runtime
# API also on TCP, 127.0.X.10:9999 (level admin), reached from the controller over the
# network; each web server gets a slow page, /cgi-bin/slow (answers after 3 s, or N s for
# /cgi-bin/slow?N), to hold a request in flight while its node is drained.
#
# --clusters NAME:COUNT,...: the web hosts, in order, belong to these clusters; each gets a
# local fact (Ansible's facts.d) DIR/facts/webI/deploy.fact = {"cluster": NAME} and the
# inventory says where (`lab_fact_path`), for playbooks that discover hosts by a fact.
#
# Exit codes: 0 ok, 1 error, 2 usage, 3 the net is in use (pick another one).
set -euo pipefail

readonly SSH_PORT=2222 HTTP_PORT=8081 LB_PORT=8080 MAX_HOSTS=1000
# Web hosts per /24 (127.0.X.11-210); above it the lab is a big one (see the header).
readonly PER_NET=200
# sshd refuses more ListenAddress sockets than this (MAX_LISTEN_SOCKS in OpenSSH's sshd.c).
readonly SSHD_MAX_LISTEN=16
readonly LOCKS=/run/zdd-lab
readonly SUDOERS=/etc/sudoers.d/zdd-lab-deploy
readonly DEPLOY_USER=deploy
# A second user whose sudo asks for a password, and who may log in with that password
# (for -K and -k). Its password is no secret: the lab only listens on loopback.
readonly PW_USER=deploy-pw PW_USER_PASSWORD=zdd-lab-pw
readonly PW_SUDOERS=/etc/sudoers.d/zdd-lab-deploy-pw

die() { echo "lab.sh: $*" >&2; exit 1; }

usage() {
  sed -n '5,8p' "$0" | sed 's/^#  *//' >&2
  exit 2
}

# The pid's command line mentions DIR: it is one of this lab's processes, whatever
# the pid file says (pids get reused).
ours() {
  local pid=$1 dir=${2:-$DIR} argv=()
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  { mapfile -d "" argv <"/proc/$pid/cmdline"; } 2>/dev/null || return 1
  [[ "${argv[*]}" == *"$dir/"* ]]
}

# The recorded pids of the lab in DIR (or the given directory) that still run.
live_pids() {
  local dir=${1:-$DIR} pid _
  [ -f "$dir/pids" ] || return 0
  while read -r pid _; do
    if ours "$pid" "$dir"; then echo "$pid"; fi
  done <"$dir/pids"
}

parse_args() {
  HOSTS=3 DIR='' NET='' STRICT=0 BLUE_GREEN=0 HAPROXY_TCP=0 CLUSTERS=''
  while [ $# -gt 0 ]; do
    case $1 in
      --strict) STRICT=1; shift ;;
      --blue-green) BLUE_GREEN=1; shift ;;
      --haproxy-tcp) HAPROXY_TCP=1; shift ;;
      --clusters) CLUSTERS=${2:-}; shift 2 ;;
      --hosts) HOSTS=${2:-}; shift 2 ;;
      --dir) DIR=${2:-}; shift 2 ;;
      --net) NET=${2:-}; shift 2 ;;
      -h | --help) usage ;;
      *) echo "lab.sh: unknown argument \`$1\`" >&2; usage ;;
    esac
  done
  [ -n "$DIR" ] || { echo "lab.sh: --dir is required" >&2; usage; }
  DIR=$(realpath -m -- "$DIR")
  # DIR ends up unquoted in ssh arguments and inventory values.
  [[ $DIR =~ ^/[A-Za-z0-9_./-]+$ ]] || die "--dir must be a path of letters, digits, _ . / - (got $DIR)"
}

# --- start --------------------------------------------------------------------------------

check_start_args() {
  [[ $HOSTS =~ ^[0-9]+$ ]] && [ "$HOSTS" -ge 1 ] && [ "$HOSTS" -le $MAX_HOSTS ] ||
    die "--hosts must be between 1 and $MAX_HOSTS (got $HOSTS)"
  [[ $NET =~ ^127\.([0-9]{1,3})\.([0-9]{1,3})$ ]] ||
    die "--net must be 127.A.B, a loopback /24 (got '${NET}')"
  local a=${BASH_REMATCH[1]} b=${BASH_REMATCH[2]}
  [ "$a" -le 255 ] && [ "$b" -le 255 ] || die "--net $NET is not an address"
  # A big lab spreads its web hosts over consecutive nets from NET on.
  local count=$(((HOSTS + PER_NET - 1) / PER_NET)) k
  [ $((b + count - 1)) -le 255 ] ||
    die "--hosts $HOSTS needs $count nets from $NET on, past 127.$a.255"
  NETS=()
  for ((k = 0; k < count; k++)); do NETS+=("127.$a.$((b + k))"); done
  lab_addresses
  # Names of init scripts: zdd-lab-X-webI for 127.0.X.
  if [ "$a" -eq 0 ]; then TAG=$b; else TAG=$a-$b; fi
  [ "$(id -u)" -eq 0 ] || die "start must run as root (it adds a user, sudoers and init scripts)"
  [ -z "$CLUSTERS" ] || check_clusters
}

# The address of every host: HOST_ADDR[0] is lb's, HOST_ADDR[I] webI's (see the header).
lab_addresses() {
  local i
  HOST_ADDR=("$NET.10")
  for ((i = 1; i <= HOSTS; i++)); do
    HOST_ADDR[i]=${NETS[(i - 1) / PER_NET]}.$((11 + (i - 1) % PER_NET))
  done
}

# Each of the lab's nets (one unless the lab is big).
lock_net() {
  local net
  for net in "${NETS[@]}"; do lock_one_net "$net"; done
}

# One lab per net at a time: mkdir is atomic. A lock whose lab has no live process is stale.
lock_one_net() {
  local NET=$1
  mkdir -p "$LOCKS"
  local lock=$LOCKS/$NET
  if ! mkdir "$lock" 2>/dev/null; then
    local owner age
    owner=$(cat "$lock/dir" 2>/dev/null || true)
    age=$(($(date +%s) - $(stat -c %Y "$lock" 2>/dev/null || echo 0)))
    if [ "$owner" != "$DIR" ]; then
      # A lab that is still starting has no owner written or no pids yet: a young lock
      # is taken, whatever it holds. Only an old lock with no live process is stale.
      if [ "$age" -lt 60 ] || { [ -n "$owner" ] && [ -n "$(live_pids "$owner")" ]; }; then
        echo "lab.sh: net $NET is in use by the lab in ${owner:-(starting)}" >&2
        unlock_net
        exit 3
      fi
    fi
    rm -rf "$lock"
    mkdir "$lock" 2>/dev/null || {
      echo "lab.sh: net $NET is being taken by another lab" >&2
      unlock_net
      exit 3
    }
  fi
  echo "$DIR" >"$lock/dir"
}

unlock_net() {
  local lock
  for lock in "$LOCKS"/*/; do
    [ -f "$lock/dir" ] && [ "$(cat "$lock/dir")" = "$DIR" ] && rm -rf "$lock"
  done
  return 0
}

# Someone outside the lab's locks may already listen on one of its nets.
check_net_free() {
  local busy
  busy=$(ss -Hltn | awk -v nets="${NETS[*]}" '
    BEGIN { n = split(nets, net, " ") }
    { for (k = 1; k <= n; k++) if (index($4, net[k] ".") == 1) { print $4; next } }' |
    head -3 | tr '\n' ' ')
  if [ -n "$busy" ]; then
    echo "lab.sh: something already listens on ${NETS[*]/%/.*} ($busy)" >&2
    unlock_net
    exit 3
  fi
}

ensure_deploy_user() {
  mkdir -p /run/sshd && chmod 755 /run/sshd
  (
    flock 9
    if ! id -u "$DEPLOY_USER" >/dev/null 2>&1; then
      useradd --create-home --shell /bin/bash "$DEPLOY_USER"
    fi
    # sshd without PAM refuses a locked account ("!" password) even for keys.
    if getent shadow "$DEPLOY_USER" | cut -d: -f2 | grep -q '^!'; then
      usermod -p '*' "$DEPLOY_USER"
    fi
    if [ ! -f "$SUDOERS" ]; then
      local tmp
      tmp=$(mktemp)
      echo "$DEPLOY_USER ALL=(ALL:ALL) NOPASSWD: ALL" >"$tmp"
      visudo -cqf "$tmp" >/dev/null
      install -m 0440 "$tmp" "$SUDOERS"
      rm -f "$tmp"
    fi
    ensure_password_user
  ) 9>"$LOCKS/user.lock"
}

# deploy-pw: a known password, sudo with that password (no NOPASSWD), no lecture.
ensure_password_user() {
  if ! id -u "$PW_USER" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash "$PW_USER"
  fi
  if ! getent shadow "$PW_USER" | cut -d: -f2 | grep -q '^\$'; then
    echo "$PW_USER:$PW_USER_PASSWORD" | chpasswd
  fi
  if [ ! -f "$PW_SUDOERS" ]; then
    local tmp
    tmp=$(mktemp)
    printf '%s\n' "Defaults:$PW_USER !lecture" "$PW_USER ALL=(ALL:ALL) ALL" >"$tmp"
    visudo -cqf "$tmp" >/dev/null
    install -m 0440 "$tmp" "$PW_SUDOERS"
    rm -f "$tmp"
  fi
}

make_keys() {
  rm -f "$DIR/id_ed25519" "$DIR/id_ed25519.pub" "$DIR/ssh_host_ed25519_key" "$DIR/ssh_host_ed25519_key.pub"
  ssh-keygen -q -t ed25519 -N '' -C "zdd-lab-client" -f "$DIR/id_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C "zdd-lab-host" -f "$DIR/ssh_host_ed25519_key"
  cp "$DIR/id_ed25519.pub" "$DIR/authorized_keys"
  chmod 644 "$DIR/authorized_keys"
  # sshd reads authorized_keys as the user it logs in.
  sudo -n -u "$DEPLOY_USER" test -r "$DIR/authorized_keys" ||
    die "user $DEPLOY_USER cannot read $DIR/authorized_keys: make DIR's parents world-searchable"
  local host_key i
  host_key=$(cut -d' ' -f1,2 "$DIR/ssh_host_ed25519_key.pub")
  for ((i = 0; i <= HOSTS; i++)); do
    echo "[${HOST_ADDR[i]}]:$SSH_PORT $host_key"
  done >"$DIR/known_hosts"
}

# One sshd's configuration: NAME ADDRESS... (a big lab's sshd serves several hosts).
write_sshd_config() {
  local name=$1 address
  shift
  {
    echo "# zdd lab: sshd for $name"
    for address in "$@"; do echo "ListenAddress $address:$SSH_PORT"; done
    if [ $# -gt 1 ]; then
      echo "# Several hosts' connections: as many may log in at once (sshd's default, 10:30:100,"
      echo "# drops some above 10 unauthenticated ones)."
      echo "MaxStartups 256:30:512"
    fi
    cat <<EOF
HostKey $DIR/ssh_host_ed25519_key
AuthorizedKeysFile $DIR/authorized_keys
PidFile none
StrictModes no
UsePAM no
PermitRootLogin no
AllowUsers $DEPLOY_USER $PW_USER
PubkeyAuthentication yes
# Only $PW_USER has a password; $DEPLOY_USER's is "*", which never matches.
PasswordAuthentication yes
KbdInteractiveAuthentication no
X11Forwarding no
PrintMotd no
LogLevel INFO
Subsystem sftp internal-sftp
EOF
  } >"$DIR/sshd_config.$name"
}

write_haproxy_config() {
  {
    cat <<EOF
# zdd lab: the load balancer of the workshop
global
    maxconn 4096
    stats socket $DIR/haproxy.sock mode 660 level admin
    stats timeout 30s

defaults
    mode http
$(if [ "$STRICT" -eq 1 ]; then
      echo "    # --strict: no second chance, so a server that goes away unannounced shows as 503s."
      echo "    retries 0"
    else
      echo "    # A connection refused by a server, or closed without an answer (a server killed"
      echo "    # with the request in its backlog), is retried, then sent to another one."
      echo "    retries 3"
      echo "    retry-on conn-failure empty-response"
      echo "    option redispatch"
    fi)
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout queue 10s
    timeout http-request 10s

frontend www
    bind $NET.10:$LB_PORT
    default_backend loadbalancer

backend loadbalancer
    balance roundrobin
    option httpchk GET /
EOF
    local i check="check inter 200ms fall 2 rise 1"
    # A big lab: see the header.
    [ "$HOSTS" -le $PER_NET ] || check="check inter 2s fastinter 200ms downinter 200ms fall 2 rise 1"
    for ((i = 1; i <= HOSTS; i++)); do
      echo "    server web$i ${HOST_ADDR[i]}:$HTTP_PORT $check"
    done
  } >"$DIR/haproxy.cfg"
}

# The web server's configuration as the lab ships it: the playbook's template replaces it.
write_web_conf() {
  local i=$1
  printf '# busybox httpd configuration of web%s, as the lab shipped it\n' "$i" >"$DIR/conf/web$i.conf"
}

# The writers below fill a variable with `read` and write it with printf, both builtins: a
# `cat` per file would be three processes per host, a good part of a big lab's start time.
# (read -d '' returns 1 at the end of its input, which is where it should stop.)
write_index() {
  local i=$1 text
  IFS= read -r -d '' text <<EOF || true
<!DOCTYPE html>
<html>
<head><title>web$i</title></head>
<body>
<p>host: web$i</p>
<p>version: 1</p>
</body>
</html>
EOF
  printf '%s' "$text" >"$DIR/www/web$i/index.html"
}

# The web server's service: what the playbook's `service` handler restarts.
write_init_script() {
  local i=$1 name text
  name=zdd-lab-$TAG-web$i
  IFS= read -r -d '' text <<EOF || true
#!/bin/sh
### BEGIN INIT INFO
# Provides:          $name
# Required-Start:
# Required-Stop:
# Default-Start:
# Default-Stop:
# Short-Description: zdd lab web server web$i (busybox httpd on ${HOST_ADDR[i]}:$HTTP_PORT)
### END INIT INFO
# Installed by zdd's examples/lab/lab.sh for the lab in $DIR; \`lab.sh stop\` removes it.

NAME=$name
ADDR=${HOST_ADDR[i]}
PORT=$HTTP_PORT
DOCROOT=$DIR/www/web$i
CONF=$DIR/conf/web$i.conf
PIDFILE=$DIR/run/web$i.pid
LOG=$DIR/log/web$i.httpd.log
PIDS=$DIR/pids
EOF
  [ -n "${INIT_BODY:-}" ] || init_script_body
  printf '%s%s' "$text" "$INIT_BODY" >"/etc/init.d/$name"
  echo "/etc/init.d/$name" >>"$DIR/init-scripts"
}

# What every web host's init script runs (its variables come first): INIT_BODY.
init_script_body() {
  IFS= read -r -d '' INIT_BODY <<'EOF' || true

# The pid file's process serves this document root (pids get reused).
running() {
  [ -s "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE")
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-h $DOCROOT "
}

# The started process is still there (not a zombie). Not `running`: until the child has
# exec'd busybox, its command line is this script's, and under load that takes a while.
alive() {
  state=$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

listening() {
  ss -Hltn | awk -v want="$ADDR:$PORT" '$4 == want { found = 1 } END { exit !found }'
}

do_start() {
  if running; then
    return 0
  fi
  # Its own session, no terminal, no inherited pipes: it outlives the caller's ssh session.
  setsid busybox httpd -f -p "$ADDR:$PORT" -h "$DOCROOT" -c "$CONF" </dev/null >>"$LOG" 2>&1 &
  pid=$!
  echo "$pid" >"$PIDFILE"
  echo "$pid $NAME" >>"$PIDS"
  # Return only once the port accepts connections: the load balancer must never be
  # told about a server that is not there yet.
  tries=0
  while ! listening; do
    if ! alive; then
      echo "$NAME: httpd exited, see $LOG" >&2
      return 1
    fi
    tries=$((tries + 1))
    if [ "$tries" -gt 250 ]; then
      echo "$NAME: httpd not listening on $ADDR:$PORT after 5s" >&2
      return 1
    fi
    sleep 0.02
  done
}

do_stop() {
  if running; then
    kill "$pid" 2>/dev/null || true
    tries=0
    # Not `kill -0`: a killed httpd stays a zombie until init reaps it, which can take a
    # while; a zombie has no command line, so `running` is false at once.
    while running; do
      tries=$((tries + 1))
      if [ "$tries" -gt 250 ]; then
        kill -9 "$pid" 2>/dev/null || true
      fi
      sleep 0.02
    done
  fi
  # The command line goes away before the kernel closes the listening socket: a start right
  # now could lose the port to the dying httpd (and `listening` would see the old socket).
  tries=0
  while listening && [ "$tries" -lt 250 ]; do
    tries=$((tries + 1))
    sleep 0.02
  done
  rm -f "$PIDFILE"
}

case "$1" in
  start) do_start ;;
  stop) do_stop ;;
  restart | force-reload) do_stop && do_start ;;
  status)
    if running && listening; then
      echo "$NAME is running (pid $pid)"
    else
      echo "$NAME is not running"
      exit 3
    fi
    ;;
  *)
    echo "usage: $0 start|stop|restart|status" >&2
    exit 2
    ;;
esac
EOF
}

write_inventory() {
  local i
  {
    echo "# zdd lab in $DIR (lab.sh start --hosts $HOSTS --net $NET)"
    echo "[loadbalancers]"
    echo "lb ansible_host=$NET.10"
    echo
    echo "[webappservers]"
    for ((i = 1; i <= HOSTS; i++)); do
      echo "web$i ansible_host=${HOST_ADDR[i]} doc_root=$DIR/www/web$i web_conf=$DIR/conf/web$i.conf web_service=zdd-lab-$TAG-web$i http_port=$HTTP_PORT"
    done
    echo
    echo "[all:vars]"
    echo "ansible_port=$SSH_PORT"
    echo "ansible_user=$DEPLOY_USER"
    echo "ansible_ssh_private_key_file=$DIR/id_ed25519"
    echo "ansible_ssh_common_args='-o UserKnownHostsFile=$DIR/known_hosts'"
    echo "haproxy_socket=$DIR/haproxy.sock"
    echo "haproxy_backend=loadbalancer"
  } >"$DIR/inventory.ini"
}

# --- --clusters ---------------------------------------------------------------------------

# NAME:COUNT,... with names fit for a group (cluster_NAME) and counts adding up to at most
# the web hosts.
check_clusters() {
  local spec total=0
  for spec in ${CLUSTERS//,/ }; do
    [[ $spec =~ ^([A-Za-z][A-Za-z0-9_]*):([0-9]+)$ ]] && [ "${BASH_REMATCH[2]}" -ge 1 ] ||
      die "--clusters takes NAME:COUNT,... (letters, digits, _; COUNT >= 1), not '$spec'"
    total=$((total + BASH_REMATCH[2]))
  done
  [ "$total" -le "$HOSTS" ] || die "--clusters $CLUSTERS needs $total web hosts, --hosts is $HOSTS"
}

# Each web host's facts.d: web1.. in the order of --clusters. All lab hosts share this
# machine, so each has its own directory and the inventory names it (`lab_fact_path`, for
# `setup`'s `fact_path`); a real host would use /etc/ansible/facts.d.
write_clusters() {
  local spec name count i=1 n
  {
    echo
    echo "# --clusters $CLUSTERS: each web host's local facts (deploy.fact says its cluster)"
    echo "[clustered]"
  } >>"$DIR/inventory.ini"
  for spec in ${CLUSTERS//,/ }; do
    name=${spec%%:*} count=${spec#*:}
    for ((n = 0; n < count; n++, i++)); do
      mkdir -p "$DIR/facts/web$i"
      printf '{"cluster": "%s"}\n' "$name" >"$DIR/facts/web$i/deploy.fact"
      chmod 755 "$DIR/facts" "$DIR/facts/web$i"
      chmod 644 "$DIR/facts/web$i/deploy.fact"
      echo "web$i lab_fact_path=$DIR/facts/web$i" >>"$DIR/inventory.ini"
    done
  done
}

# Daemons get their own session and no pipes of ours, so they outlive this script and
# whoever runs it (a test harness reading our output) sees end-of-file when we exit.
spawn() {
  local name=$1 log=$2
  shift 2
  setsid "$@" </dev/null >>"$log" 2>&1 &
  SPAWNED=$!
  echo "$SPAWNED $name" >>"$DIR/pids"
}

wait_listening() {
  local want=$DIR/run/listeners deadline=$((SECONDS + 20 + HOSTS / 10)) count total
  total=$(wc -l <"$want")
  while :; do
    count=$(ss -Hltn | awk 'NR == FNR { want[$1]; next } ($4 in want) { n++ } END { print n + 0 }' "$want" -)
    [ "$count" -ge "$total" ] && return 0
    local pid name
    while read -r pid name; do
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "lab.sh: $name (pid $pid) exited" >&2
        # Another process took one of our addresses between check_net_free and now:
        # the caller should pick another net (exit 3; the EXIT trap cleans up).
        if grep -qs -e "Address already in use" -e "Cannot bind" "$DIR"/log/*; then
          echo "lab.sh: an address of $NET.* is in use" >&2
          exit 3
        fi
        return 1
      fi
    done <"$DIR/pids"
    [ $SECONDS -lt $deadline ] || { echo "lab.sh: only $count of $total ports listening" >&2; return 1; }
    sleep 0.05
  done
}

# Until haproxy's first health checks have passed, its servers are not really UP.
wait_servers_up() {
  local deadline=$((SECONDS + 10 + HOSTS / 10)) up
  while :; do
    up=$(echo "show stat" | socat stdio "UNIX-CONNECT:$DIR/haproxy.sock" 2>/dev/null |
      awk -F, '$1 == "loadbalancer" && $2 != "BACKEND" && $18 == "UP" { n++ } END { print n + 0 }')
    [ "$up" -ge "$HOSTS" ] && return 0
    [ $SECONDS -lt $deadline ] || { echo "lab.sh: haproxy reports $up of $HOSTS servers UP" >&2; return 1; }
    sleep 0.05
  done
}

start() {
  check_start_args
  [ -z "$(live_pids)" ] || die "a lab is already running in $DIR (lab.sh stop --dir $DIR)"
  lock_net
  check_net_free
  STARTED=0
  trap 'if [ "$STARTED" -eq 0 ]; then echo "lab.sh: start failed, cleaning up" >&2; stop >/dev/null 2>&1 || true; fi' EXIT
  mkdir -p "$DIR/www" "$DIR/run" "$DIR/log" "$DIR/conf"
  chmod 755 "$DIR" "$DIR/www" "$DIR/conf"
  rm -f "$DIR/pids" "$DIR/init-scripts" "$DIR/run/"*
  # PER_NET: a big lab's webI is on net (I-1)/PER_NET after NET (see the header).
  echo "NET=$NET HOSTS=$HOSTS TAG=$TAG PER_NET=$PER_NET" >"$DIR/lab.env"
  ensure_deploy_user
  make_keys

  local i name
  : >"$DIR/run/listeners"
  if [ "$HOSTS" -le $PER_NET ]; then
    for ((i = 0; i <= HOSTS; i++)); do
      if [ "$i" -eq 0 ]; then name=lb; else name=web$i; fi
      write_sshd_config "$name" "${HOST_ADDR[i]}"
      echo "${HOST_ADDR[i]}:$SSH_PORT" >>"$DIR/run/listeners"
    done
    /usr/sbin/sshd -t -f "$DIR/sshd_config.lb" || die "sshd rejects $DIR/sshd_config.lb"
  else
    write_sshd_group_configs
  fi
  local docroots=()
  for ((i = 1; i <= HOSTS; i++)); do docroots+=("$DIR/www/web$i"); done
  mkdir -p "${docroots[@]}"
  for ((i = 1; i <= HOSTS; i++)); do
    write_index "$i"
    write_web_conf "$i"
    write_init_script "$i"
    echo "${HOST_ADDR[i]}:$HTTP_PORT" >>"$DIR/run/listeners"
  done
  xargs chmod 755 <"$DIR/init-scripts"
  write_haproxy_config
  if [ "$HAPROXY_TCP" -eq 1 ]; then tcp_api_haproxy_config && tcp_api_slow_pages; fi
  haproxy -c -q -f "$DIR/haproxy.cfg" || die "haproxy rejects $DIR/haproxy.cfg"

  if [ "$HOSTS" -le $PER_NET ]; then
    for ((i = 0; i <= HOSTS; i++)); do
      if [ "$i" -eq 0 ]; then name=lb; else name=web$i; fi
      # sshd re-executes itself, so it needs its absolute path.
      spawn "sshd-$name" "$DIR/log/sshd.$name.log" /usr/sbin/sshd -D -e -f "$DIR/sshd_config.$name"
    done
  else
    start_sshd_groups
  fi
  # The same command as the init script's start, launched all at once and waited for below.
  for ((i = 1; i <= HOSTS; i++)); do
    spawn "zdd-lab-$TAG-web$i" "$DIR/log/web$i.httpd.log" \
      busybox httpd -f -p "${HOST_ADDR[i]}:$HTTP_PORT" -h "$DIR/www/web$i" -c "$DIR/conf/web$i.conf"
    echo "$SPAWNED" >"$DIR/run/web$i.pid"
  done
  wait_listening || false
  # Only now, so that its first health checks find every web server up.
  spawn haproxy "$DIR/log/haproxy.log" haproxy -db -f "$DIR/haproxy.cfg"
  echo "$NET.10:$LB_PORT" >>"$DIR/run/listeners"
  wait_listening || false
  wait_servers_up || false
  if [ "$BLUE_GREEN" -eq 1 ]; then start_blue_green; fi
  write_inventory
  if [ "$BLUE_GREEN" -eq 1 ]; then write_blue_green_inventory; fi
  if [ "$HAPROXY_TCP" -eq 1 ]; then wait_tcp_api && tcp_api_inventory; fi
  # Last: it starts a section of its own, after the others' [all:vars] lines.
  [ -z "$CLUSTERS" ] || write_clusters
  STARTED=1
  echo "lab: $HOSTS web hosts behind http://$NET.10:$LB_PORT/ (inventory $DIR/inventory.ini)"
}

# --- big labs (--hosts above 200) --------------------------------------------------------
# One sshd per SSHD_MAX_LISTEN hosts (lb and web1-15, web16-31, ...): sshd_config.groupG.

write_sshd_group_configs() {
  local g i addresses
  for ((g = 0; g * SSHD_MAX_LISTEN <= HOSTS; g++)); do
    addresses=()
    for ((i = g * SSHD_MAX_LISTEN; i < (g + 1) * SSHD_MAX_LISTEN && i <= HOSTS; i++)); do
      addresses+=("${HOST_ADDR[i]}")
      echo "${HOST_ADDR[i]}:$SSH_PORT" >>"$DIR/run/listeners"
    done
    write_sshd_config "group$g" "${addresses[@]}"
  done
  /usr/sbin/sshd -t -f "$DIR/sshd_config.group0" || die "sshd rejects $DIR/sshd_config.group0"
}

start_sshd_groups() {
  local g
  # Room for 1000 hosts' connections, haproxy's sockets and checks (a daemon keeps the
  # limit it is started with; haproxy as root raises its own as far as this hard limit).
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  for ((g = 0; g * SSHD_MAX_LISTEN <= HOSTS; g++)); do
    spawn "sshd-group$g" "$DIR/log/sshd.group$g.log" /usr/sbin/sshd -D -e -f "$DIR/sshd_config.group$g"
  done
}

# --- blue/green (--blue-green) ------------------------------------------------------------
# nginx on the lb address in front of one upstream file (DIR/nginx/upstream.conf, the file
# the `nginx_upstream` module switches), two color instances per web host with their own
# ports, document roots and init scripts, and etcd holding the live color under
# $BG_COLOR_KEY (v3 JSON gateway: /v3/kv/put, /v3/kv/range, base64 keys and values).

readonly BG_NGINX_PORT=8090 BG_BLUE_PORT=8082 BG_GREEN_PORT=8083 BG_ETCD_PORT=2379 BG_ETCD_PEER_PORT=2380
readonly BG_COLOR_KEY=/zdd-lab/app/color BG_UPSTREAM=app

bg_port() { if [ "$1" = blue ]; then echo $BG_BLUE_PORT; else echo $BG_GREEN_PORT; fi; }

bg_write_index() {
  local i=$1 color=$2
  cat >"$DIR/www/web$i-$color/index.html" <<EOF
<!DOCTYPE html>
<html>
<head><title>web$i $color</title></head>
<body>
<p>host: web$i</p>
<p>color: $color</p>
<p>version: 1</p>
</body>
</html>
EOF
}

# The color instance's service: the web host's own init script with its name, port,
# document root, configuration, pid file and log of its own.
bg_write_init_script() {
  local i=$1 color=$2 base name
  base=/etc/init.d/zdd-lab-$TAG-web$i
  name=zdd-lab-$TAG-web$i-$color
  {
    sed -n '1,/^### END INIT INFO/p' "$base" |
      sed "s/zdd-lab-$TAG-web$i\$/$name/; s/web server web$i (busybox httpd on [^)]*)/web$i $color (busybox httpd on ${HOST_ADDR[i]}:$(bg_port "$color"))/"
    cat <<EOF
# Installed by zdd's examples/lab/lab.sh for the lab in $DIR; \`lab.sh stop\` removes it.

NAME=$name
ADDR=${HOST_ADDR[i]}
PORT=$(bg_port "$color")
DOCROOT=$DIR/www/web$i-$color
CONF=$DIR/conf/web$i-$color.conf
PIDFILE=$DIR/run/web$i-$color.pid
LOG=$DIR/log/web$i-$color.httpd.log
PIDS=$DIR/pids

EOF
    sed -n '/^# The pid file.s process serves this document root/,$p' "$base"
  } >"/etc/init.d/$name"
  chmod 755 "/etc/init.d/$name"
  echo "/etc/init.d/$name" >>"$DIR/init-scripts"
}

bg_write_upstream() {
  local i
  {
    echo "# Written by zdd's lab.sh; the nginx_upstream module replaces it."
    echo "# zdd-color: blue"
    echo "upstream $BG_UPSTREAM {"
    for ((i = 1; i <= HOSTS; i++)); do
      echo "    server ${HOST_ADDR[i]}:$BG_BLUE_PORT;"
    done
    echo "}"
  } >"$DIR/nginx/upstream.conf"
}

bg_write_nginx_config() {
  cat >"$DIR/nginx/nginx.conf" <<EOF
# zdd lab: nginx in front of the blue/green web servers
worker_processes 1;
pid $DIR/run/nginx.pid;
error_log $DIR/log/nginx.error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $DIR/nginx/tmp/body;
    proxy_temp_path $DIR/nginx/tmp/proxy;
    fastcgi_temp_path $DIR/nginx/tmp/fastcgi;
    uwsgi_temp_path $DIR/nginx/tmp/uwsgi;
    scgi_temp_path $DIR/nginx/tmp/scgi;
    include $DIR/nginx/upstream.conf;
    server {
        listen $NET.10:$BG_NGINX_PORT;
        location / {
            proxy_pass http://$BG_UPSTREAM;
            proxy_next_upstream error timeout http_502 http_503;
        }
    }
}
EOF
}

# Until every address in "$@" accepts connections (or 20 s).
bg_wait_listening() {
  local deadline=$((SECONDS + 20)) missing addr
  while :; do
    missing=
    for addr in "$@"; do
      ss -Hltn | awk -v want="$addr" '$4 == want { f = 1 } END { exit !f }' || missing="$missing $addr"
    done
    [ -z "$missing" ] && return 0
    [ $SECONDS -lt $deadline ] || { echo "lab.sh: not listening:$missing" >&2; return 1; }
    sleep 0.05
  done
}

bg_etcd_put() {
  local key value
  key=$(printf '%s' "$1" | base64 -w0)
  value=$(printf '%s' "$2" | base64 -w0)
  curl -fsS --max-time 2 -X POST "http://$NET.10:$BG_ETCD_PORT/v3/kv/put" \
    -d "{\"key\": \"$key\", \"value\": \"$value\"}" >/dev/null
}

start_blue_green() {
  local i color listeners=()
  mkdir -p "$DIR/nginx/tmp" "$DIR/etcd"
  chmod 700 "$DIR/etcd"
  for ((i = 1; i <= HOSTS; i++)); do
    for color in blue green; do
      mkdir -p "$DIR/www/web$i-$color"
      bg_write_index "$i" "$color"
      printf '# busybox httpd configuration of web%s %s\n' "$i" "$color" >"$DIR/conf/web$i-$color.conf"
      bg_write_init_script "$i" "$color"
    done
    spawn "zdd-lab-$TAG-web$i-blue" "$DIR/log/web$i-blue.httpd.log" \
      busybox httpd -f -p "${HOST_ADDR[i]}:$BG_BLUE_PORT" -h "$DIR/www/web$i-blue" -c "$DIR/conf/web$i-blue.conf"
    echo "$SPAWNED" >"$DIR/run/web$i-blue.pid"
    listeners+=("${HOST_ADDR[i]}:$BG_BLUE_PORT")
  done
  bg_write_upstream
  bg_write_nginx_config
  nginx -t -q -c "$DIR/nginx/nginx.conf" -e "$DIR/log/nginx.error.log" || die "nginx rejects $DIR/nginx/nginx.conf"
  spawn nginx "$DIR/log/nginx.log" nginx -c "$DIR/nginx/nginx.conf" -e "$DIR/log/nginx.error.log" -g 'daemon off;'
  spawn etcd "$DIR/log/etcd.log" etcd --name zdd-lab --data-dir "$DIR/etcd" \
    --listen-client-urls "http://$NET.10:$BG_ETCD_PORT" --advertise-client-urls "http://$NET.10:$BG_ETCD_PORT" \
    --listen-peer-urls "http://$NET.10:$BG_ETCD_PEER_PORT" --initial-advertise-peer-urls "http://$NET.10:$BG_ETCD_PEER_PORT" \
    --initial-cluster "zdd-lab=http://$NET.10:$BG_ETCD_PEER_PORT"
  listeners+=("$NET.10:$BG_NGINX_PORT" "$NET.10:$BG_ETCD_PORT")
  bg_wait_listening "${listeners[@]}"
  local deadline=$((SECONDS + 20))
  until bg_etcd_put "$BG_COLOR_KEY" blue 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "etcd at $NET.10:$BG_ETCD_PORT does not take writes (see $DIR/log/etcd.log)"
    sleep 0.1
  done
}

# New variables only, under [all:vars] (the last section of the inventory).
write_blue_green_inventory() {
  {
    echo "# --blue-green"
    echo "nginx_conf=$DIR/nginx/nginx.conf"
    echo "nginx_upstream_file=$DIR/nginx/upstream.conf"
    echo "nginx_upstream_name=$BG_UPSTREAM"
    echo "nginx_url=http://$NET.10:$BG_NGINX_PORT"
    echo "etcd_url=http://$NET.10:$BG_ETCD_PORT"
    echo "color_key=$BG_COLOR_KEY"
    echo "blue_port=$BG_BLUE_PORT"
    echo "green_port=$BG_GREEN_PORT"
    echo "color_doc_root_base=$DIR/www"
  } >>"$DIR/inventory.ini"
}

# --- --haproxy-tcp: the load balancer's API over the network ----------------------------

readonly TCP_API_PORT=9999 SLOW_SECONDS=3

# A second `global` section (haproxy merges them): the runtime API on TCP as well.
tcp_api_haproxy_config() {
  cat >>"$DIR/haproxy.cfg" <<EOF

global
    # --haproxy-tcp: the runtime API over the network, as a cloud load balancer's API
    stats socket ipv4@$NET.10:$TCP_API_PORT level admin
EOF
}

# A CGI that answers after a few seconds: a long request in flight on the node.
tcp_api_slow_pages() {
  local i
  for ((i = 1; i <= HOSTS; i++)); do
    mkdir -p "$DIR/www/web$i/cgi-bin"
    cat >"$DIR/www/web$i/cgi-bin/slow" <<EOF
#!/bin/sh
# /cgi-bin/slow answers after $SLOW_SECONDS s; /cgi-bin/slow?N after N s.
case \$QUERY_STRING in '' | *[!0-9]*) seconds=$SLOW_SECONDS ;; *) seconds=\$QUERY_STRING ;; esac
sleep "\$seconds"
printf 'Content-Type: text/plain\\r\\n\\r\\nslow request served by web$i\\n'
EOF
    chmod 755 "$DIR/www/web$i/cgi-bin" "$DIR/www/web$i/cgi-bin/slow"
  done
}

# New variables only: where the controller reaches the API.
tcp_api_inventory() {
  {
    echo "# --haproxy-tcp"
    echo "haproxy_api=$NET.10:$TCP_API_PORT"
  } >>"$DIR/inventory.ini"
}

wait_tcp_api() {
  local deadline=$((SECONDS + 10))
  until echo "show info" | socat -t 2 stdio "TCP:$NET.10:$TCP_API_PORT" 2>/dev/null | grep -q '^Name:'; do
    [ $SECONDS -lt $deadline ] || { echo "lab.sh: haproxy's API does not answer on $NET.10:$TCP_API_PORT" >&2; return 1; }
    sleep 0.05
  done
}

# --- stop / status ------------------------------------------------------------------------

stop() {
  [ "$(id -u)" -eq 0 ] || die "stop must run as root"
  local pids pid children
  pids=$(live_pids)
  if [ -n "$pids" ]; then
    # sshd's per-connection children are the lab's too; their command line does not say so.
    children=$(ps -eo pid=,ppid= | awk -v ours=" ${pids//$'\n'/ } " 'index(ours, " " $2 " ") { print $1 }')
    # shellcheck disable=SC2086 # lists of pids
    kill $children $pids 2>/dev/null || true
  fi
  local deadline=$((SECONDS + 5))
  while [ -n "$pids" ]; do
    pids=$(for pid in $pids; do ours "$pid" && echo "$pid"; done || true)
    [ -n "$pids" ] || break
    if [ $SECONDS -ge $deadline ]; then
      for pid in $pids; do kill -9 "$pid" 2>/dev/null || true; done
    fi
    sleep 0.05
  done
  if [ -f "$DIR/init-scripts" ]; then
    local scripts=() script
    while read -r script; do
      if [ -f "$script" ]; then scripts+=("$script"); fi
    done <"$DIR/init-scripts"
    # Only scripts that still say they belong to this lab (one grep for all of them).
    if [ ${#scripts[@]} -gt 0 ]; then
      { grep -lZF -- "for the lab in $DIR;" "${scripts[@]}" || true; } | xargs -0r rm -f --
    fi
    rm -f "$DIR/init-scripts"
  fi
  rm -f "$DIR/haproxy.sock"
  unlock_net
  echo "lab: stopped ($DIR)"
}

status() {
  [ -f "$DIR/pids" ] || { echo "lab: not started in $DIR"; exit 3; }
  local pid name down=0
  while read -r pid name; do
    if ours "$pid"; then
      echo "$name pid $pid running"
    elif [[ $name == sshd-* || $name == haproxy ]]; then
      echo "$name pid $pid gone"
      down=1
    fi
  done <"$DIR/pids"
  if [ -S "$DIR/haproxy.sock" ]; then
    echo "show stat" | socat stdio "UNIX-CONNECT:$DIR/haproxy.sock" |
      awk -F, '$1 == "loadbalancer" && $2 != "BACKEND" { print "haproxy " $1 "/" $2 " " $18 }'
  fi
  [ "$down" -eq 0 ] || exit 3
}

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case $cmd in
    start) parse_args "$@"; start ;;
    stop) parse_args "$@"; stop ;;
    status) parse_args "$@"; status ;;
    *) usage ;;
  esac
}

main "$@"
