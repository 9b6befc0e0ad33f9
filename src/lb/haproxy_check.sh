# Preflight: succeeds only when HAProxy answers `show info` on the socket.
# shellcheck shell=sh disable=SC2154  # sock: set by zdd's quoted prologue
[ -S "$sock" ] || { echo "no HAProxy socket at $sock" >&2; exit 1; }
command -v socat >/dev/null || { echo 'socat is not installed' >&2; exit 1; }
out=$(printf 'show info\n' | socat -t 5 stdio "unix-connect:$sock" 2>&1) || { echo "$out" >&2; exit 1; }
case "$out" in *Name:*) ;; *) echo "HAProxy did not answer on $sock: $out" >&2; exit 1 ;; esac
