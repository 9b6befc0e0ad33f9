# `uri`: one request with curl from the target; the status, final URL, redirect count and
# time (-w), the headers (-D) and the body (-o) are printed back between marker lines.
# The URL, the headers and the credentials go to curl in a config file (-K) written by the
# shell's own printf into a 0700 directory: never on curl's command line, where any local
# user could read them in `ps`. The request body, when there is one, is standard input.
# shellcheck shell=sh disable=SC2154  # method max_time follow insecure has_body config meta headers_mark body_mark: set by zdd's quoted prologue
command -v curl >/dev/null 2>&1 || { echo "the uri module needs curl on this host" >&2; exit 127; }
umask 077
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
printf '%s' "$config" >"$tmp/config" || exit 1
set -- -sS -X "$method" --max-time "$max_time" -K "$tmp/config"
[ "$follow" = 1 ] && set -- "$@" -L
[ "$insecure" = 1 ] && set -- "$@" -k
[ "$method" = HEAD ] && set -- "$@" -I
[ "$has_body" = 1 ] && set -- "$@" --data-binary @-
[ "$has_body" = 1 ] || exec </dev/null
curl "$@" -o "$tmp/body" -D "$tmp/headers" \
  -w '%{http_code}\n%{url_effective}\n%{num_redirects}\n%{time_total}\n' >"$tmp/meta" 2>"$tmp/err"
rc=$?
rm -f "$tmp/config"
echo "$meta"
echo "$rc"
cat "$tmp/meta"
echo "$headers_mark"
cat "$tmp/headers" 2>/dev/null
echo "$body_mark"
cat "$tmp/body" 2>/dev/null
cat "$tmp/err" >&2
exit 0
