# shellcheck shell=bash disable=SC2154  # repo, dir, net, hosts, zdd, version: set by demo.sh
# The blue/green scenario for `demo.sh --scenario blue-green` (sourced): nginx in front of
# a blue and a green instance per web host, etcd holding the live color. The run deploys
# version 2 to green (blue is live), tests it directly, switches nginx, records the color
# and stops blue; the probe goes through nginx the whole time.
# Uses demo.sh's variables: $repo, $dir, $net, $hosts, $zdd.

scenario_lab_args() {
  echo --blue-green
}

scenario_probe_url() {
  echo "http://$net.10:8090/"
}

scenario_run() {
  "$zdd" apply "$repo/playbooks/blue-green.yml" -i "$dir/inventory.ini" -e "version=$version"
}

scenario_check() {
  local key value color i page
  key=$(printf '%s' /zdd-lab/app/color | base64 -w0)
  value=$(curl -fsS -X POST "http://$net.10:2379/v3/kv/range" -d "{\"key\": \"$key\"}" |
    sed -n 's/.*"value":"\([^"]*\)".*/\1/p')
  color=$(printf '%s' "$value" | base64 -d)
  [ "$color" = green ] || { echo "etcd says the live color is '$color', not green" >&2; return 1; }
  grep -qx '# zdd-color: green' "$dir/nginx/upstream.conf" ||
    { echo "nginx's upstream is not green:" >&2; cat "$dir/nginx/upstream.conf" >&2; return 1; }
  for ((i = 1; i <= hosts * 2; i++)); do
    page=$(curl -fsS "http://$net.10:8090/") || { echo "nginx does not answer" >&2; return 1; }
    case $page in
      *"color: green"*"version: $version<"*) ;;
      *) echo "nginx serves something else than green version $version: $page" >&2; return 1 ;;
    esac
  done
  for ((i = 1; i <= hosts; i++)); do
    if curl -fsS -o /dev/null --max-time 2 "http://$net.$((10 + i)):8082/" 2>/dev/null; then
      echo "web$i's blue instance still runs" >&2
      return 1
    fi
  done
}
