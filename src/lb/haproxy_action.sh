# Send one action for $server (backend/server) to HAProxy's runtime API at $sock (a socket
# file, or socat's TCP:ADDR:PORT): exit 0 when HAProxy took it (it answers an empty line),
# else exit 1 with its answer on stderr. socat exits 0 whatever HAProxy answers.
# shellcheck shell=sh disable=SC2154  # sock, action, server: set by zdd's quoted prologue
# A name with `;` or a space would smuggle another command into the API.
case $server in
  */*/* | /* | */ | *[!A-Za-z0-9_.:/-]*) echo "not a HAProxy backend/server name: $server" >&2; exit 2 ;;
  */*) ;;
  *) echo "not a HAProxy backend/server name: $server" >&2; exit 2 ;;
esac
command -v socat >/dev/null 2>&1 || { echo 'socat is not installed' >&2; exit 1; }
case $sock in
  /*) [ -S "$sock" ] || { echo "no HAProxy socket at $sock" >&2; exit 1; }
      addr="unix-connect:$sock" ;;
  *) addr=$sock ;;
esac
api() { printf '%s\n' "$1" | socat -t 5 stdio "$addr" 2>&1; }
case $action in
  disable) cmd="disable server $server" ;;
  drain) cmd="set server $server state drain" ;;
  enable)
    cmd="set server $server state ready"
    stat=$(api 'show stat') || { echo "HAProxy's API at $sock: $stat" >&2; exit 1; }
    # Leaving maintenance with health checks: DOWN until a check passes, not at once.
    how=$(printf '%s\n' "$stat" | awk -F, -v want="$server" '
      /^# / { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
      ($col["pxname"] "/" $col["svname"]) == want { print $col["status"] "," ($col["chkfail"] != "") }')
    case $how in MAINT*,1) cmd="$cmd; set server $server health down" ;; esac ;;
  *) echo "unknown action $action" >&2; exit 2 ;;
esac
out=$(api "$cmd") || { echo "HAProxy's API at $sock: $out" >&2; exit 1; }
out=$(printf '%s' "$out" | tr '\n' ' ' | sed 's/^ *//; s/ *$//')
[ -z "$out" ] || { echo "$out (HAProxy's answer to \`$cmd\`)" >&2; exit 1; }
