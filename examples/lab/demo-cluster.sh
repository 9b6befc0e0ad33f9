# shellcheck shell=bash disable=SC2154  # repo here dir net hosts zdd: set by demo.sh
# `demo.sh --scenario cluster`: playbooks/cluster-upgrade.yml on the lab. All web hosts but
# the last two are cluster alfa, the last two bravo (ZDD_DEMO_HOSTS=6 gives the 4-node alfa
# of the story); alfa is upgraded to revision 10 two at a time while bravo serves, under
# the probe. Sourced by demo.sh, which sets repo, here, dir, net, hosts and zdd.

cluster_alfa_size() { echo $((hosts - 2)); }

scenario_lab_args() {
  if [ "$hosts" -lt 3 ]; then
    echo "demo-cluster: needs at least 3 hosts (ZDD_DEMO_HOSTS), got $hosts" >&2
    return 1
  fi
  echo --clusters
  echo "alfa:$(cluster_alfa_size),bravo:2"
}

scenario_probe_url() {
  echo "http://$net.10:8080/"
}

scenario_run() {
  "$zdd" apply "$repo/playbooks/cluster-upgrade.yml" -i "$dir/inventory.ini" \
    -e cluster=alfa -e revision=10
}

# alfa serves revision 10, bravo still 1, and haproxy has every server UP again.
scenario_check() {
  local i want page state bad=0
  for ((i = 1; i <= hosts; i++)); do
    if [ "$i" -le "$(cluster_alfa_size)" ]; then want=10; else want=1; fi
    page=$(curl -fsS "http://$net.$((10 + i)):8081/" 2>/dev/null || true)
    if [[ $page != *"<p>version: $want</p>"* ]]; then
      echo "demo-cluster: web$i does not serve version $want" >&2
      bad=1
    fi
    state=$(haproxy_state "web$i")
    if [ "$state" != UP ]; then
      echo "demo-cluster: web$i is '$state' in haproxy, not UP" >&2
      bad=1
    fi
  done
  return "$bad"
}
