# `uri`: one request with curl from the target; the status, final URL, redirect count and
# time (-w), the headers (-D) and the body (-o) are printed back between marker lines.
# shellcheck shell=sh disable=SC2154  # method max_time follow insecure headers has_body credentials url meta headers_mark body_mark: set by zdd's quoted prologue
command -v curl >/dev/null 2>&1 || { echo "the uri module needs curl on this host" >&2; exit 127; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
set -- -sS -X "$method" --max-time "$max_time"
[ "$follow" = 1 ] && set -- "$@" -L
[ "$insecure" = 1 ] && set -- "$@" -k
[ "$method" = HEAD ] && set -- "$@" -I
while IFS= read -r header; do
  [ -z "$header" ] || set -- "$@" -H "$header"
done <<HEADERS
$headers
HEADERS
[ "$has_body" = 1 ] && set -- "$@" --data-binary @-
[ -n "$credentials" ] && set -- "$@" -u "$credentials"
# The request body, when there is one, is this script's standard input.
[ "$has_body" = 1 ] || exec </dev/null
curl "$@" -o "$tmp/body" -D "$tmp/headers" \
  -w '%{http_code}\n%{url_effective}\n%{num_redirects}\n%{time_total}\n' -- "$url" >"$tmp/meta" 2>"$tmp/err"
rc=$?
echo "$meta"
echo "$rc"
cat "$tmp/meta"
echo "$headers_mark"
cat "$tmp/headers" 2>/dev/null
echo "$body_mark"
cat "$tmp/body" 2>/dev/null
cat "$tmp/err" >&2
exit 0
