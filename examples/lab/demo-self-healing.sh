# shellcheck shell=bash disable=SC2154  # repo here dir net hosts zdd version: set by demo.sh; helpers too
# `demo.sh --scenario self-healing`: examples/lab/self-healing.yml deploys version 2, then
# `zdd watch` checks every web server each second; web2's web server is stopped behind its
# back, and the watch takes web2 out of haproxy, redeploys it and puts it back, all under
# the probe. The watch is stopped with SIGINT once web2 is healed (exit 130 expected).
# Sourced by demo.sh, which sets repo, here, dir, net, hosts, version and zdd.

scenario_lab_args() { :; }

scenario_probe_url() {
  echo "http://$net.10:8080/"
}

scenario_run() {
  local playbook=$here/self-healing.yml inventory=$dir/inventory.ini
  local log=$dir/watch.out watch_pid code waited=0
  "$zdd" apply "$playbook" -i "$inventory" -e "version=$version" --no-progress >"$dir/apply.out" 2>&1 || {
    cat "$dir/apply.out"
    return 1
  }
  echo "demo: version $version deployed; zdd watch checks each web server every second"
  "$zdd" watch "$playbook" -i "$inventory" -e "version=$version" \
    --interval 1s --failures 2 >"$log" 2>&1 &
  watch_pid=$!
  sleep 3
  echo "demo: $(date -u +%H:%M:%S) stopping web2's web server behind zdd's back"
  "/etc/init.d/zdd-lab-${net##*.}-web2" stop >/dev/null
  until grep -q '^web2: healed' "$log"; do
    if ! kill -0 "$watch_pid" 2>/dev/null || [ "$waited" -ge 600 ]; then
      echo "demo: web2 was not healed within 60s" >&2
      kill -INT "$watch_pid" 2>/dev/null || true
      wait "$watch_pid" || true
      cat "$log"
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  kill -INT "$watch_pid"
  code=0
  wait "$watch_pid" || code=$?
  # What the watch said, without the redeploy's own task lines.
  grep -E '^(WATCH|web[0-9]+:|PROBE|OUT OF|\[WARNING\])' "$log" || true
  [ "$code" -eq 130 ] || { echo "demo: zdd watch exited $code, not 130 (SIGINT)" >&2; return 1; }
}

# Every web host serves the version and haproxy has every server UP.
scenario_check() {
  local i bad=0
  every_host_serves_the_version || bad=1
  for ((i = 1; i <= hosts; i++)); do
    if [ "$(haproxy_state "web$i")" != UP ]; then
      echo "demo-self-healing: web$i is '$(haproxy_state "web$i")' in haproxy, not UP" >&2
      bad=1
    fi
  done
  return "$bad"
}
