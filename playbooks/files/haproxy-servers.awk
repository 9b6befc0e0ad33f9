# HAProxy's `show stat` (CSV) as JSON for one backend, the shape of a cloud load balancer's
# API answer: {"backend", "status", "nodes": [{"name", "address", "port", "status",
# "sessions"}]}. Columns are found by name in the header. Used by cloud-lb-drain.yml:
#   echo "show stat" | socat stdio TCP:LB:PORT | awk -F, -v backend=NAME -f haproxy-servers.awk
NR == 1 {
  sub(/^# /, "")
  for (i = 1; i <= NF; i++) col[$i] = i
  next
}
$col["pxname"] != backend { next }
$col["svname"] == "BACKEND" { status = $col["status"]; next }
$col["svname"] == "FRONTEND" { next }
{
  addr = $col["addr"]; port = addr
  sub(/:[0-9]+$/, "", addr); sub(/^.*:/, "", port)
  nodes = nodes sep sprintf("{\"name\": \"%s\", \"address\": \"%s\", \"port\": %d, \"status\": \"%s\", \"sessions\": %d}",
    $col["svname"], addr, port, $col["status"], $col["scur"])
  sep = ", "
}
END { printf "{\"backend\": \"%s\", \"status\": \"%s\", \"nodes\": [%s]}\n", backend, status, nodes }
