# shellcheck shell=bash disable=SC2154  # repo, dir, net, hosts, zdd: set by demo.sh
# demo.sh --scenario cloud-lb: playbooks/cloud-lb-drain.yml on the lab started with
# --haproxy-tcp: the load balancer is driven over its API from the controller (HAProxy's
# runtime API on TCP), its nodes discovered from it and upgraded two at a time (drain, wait
# for the sessions to close, disable, deploy, verify, enable). One 3 s request per node is
# sent through the load balancer as the run starts: the drains wait for them, and every one
# answers 200.
# Sourced by demo.sh, which sets $repo, $here, $dir, $net, $hosts and $zdd.

cloud_lb_version=2

scenario_lab_args() {
  echo --haproxy-tcp
}

scenario_probe_url() {
  echo "http://$net.10:8080/"
}

scenario_run() {
  # Long requests, through the load balancer (round robin spreads them), before the rollout.
  local i rc=0 pids=()
  for ((i = 1; i <= hosts; i++)); do
    curl -s -o "$dir/slow.$i.body" -w '%{http_code}' "http://$net.10:8080/cgi-bin/slow" >"$dir/slow.$i.code" &
    pids+=($!)
  done
  sleep 0.2
  "$zdd" apply "$repo/playbooks/cloud-lb-drain.yml" -i "$dir/inventory.ini" -e "version=$cloud_lb_version" || rc=$?
  wait "${pids[@]}" || true
  return "$rc"
}

scenario_check() {
  local i page state bad=0
  for ((i = 1; i <= hosts; i++)); do
    page=$(curl -s "http://$net.$((10 + i)):8081/")
    case $page in
      *"<p>version: $cloud_lb_version</p>"*) ;;
      *) echo "demo: web$i does not serve version $cloud_lb_version" >&2; bad=1 ;;
    esac
    state=$(echo "show stat" | socat -t 5 stdio "TCP:$net.10:9999" | awk -F, -v s="web$i" '$1 == "loadbalancer" && $2 == s { print $18 }')
    if [ "$state" != UP ]; then
      echo "demo: web$i is ${state:-missing} in the load balancer, not UP" >&2
      bad=1
    fi
  done
  for ((i = 1; i <= hosts; i++)); do
    if [ "$(cat "$dir/slow.$i.code" 2>/dev/null)" != 200 ]; then
      echo "demo: a request in flight during the drains got $(cat "$dir/slow.$i.code" 2>/dev/null || echo nothing), not 200" >&2
      bad=1
    else
      echo "demo: a request in flight during the drains answered 200 ($(cat "$dir/slow.$i.body"))"
    fi
  done
  return "$bad"
}
