# Preflight: succeeds only when HAProxy answers `show info` at $sock: a socket file, or
# socat's TCP address (TCP:ADDR:PORT) for an API reached over the network.
# shellcheck shell=sh disable=SC2154  # sock: set by zdd's quoted prologue
command -v socat >/dev/null || { echo 'socat is not installed' >&2; exit 1; }
case $sock in
  /*) [ -S "$sock" ] || { echo "no HAProxy socket at $sock" >&2; exit 1; }
      addr="unix-connect:$sock" ;;
  *) addr=$sock ;;
esac
out=$(printf 'show info\n' | socat -t 5 stdio "$addr" 2>&1) || { echo "HAProxy's API at $sock: $out" >&2; exit 1; }
case "$out" in *Name:*) ;; *) echo "HAProxy did not answer on $sock: $out" >&2; exit 1 ;; esac
