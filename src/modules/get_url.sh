# `get_url`: download $url with the host's curl (else wget) into a private staging file,
# check it, and move it to $dest only when its content differs. Headers and credentials
# arrive on stdin as curl's (then wget's) config file, never on a command line.
# shellcheck shell=sh disable=SC2154  # m url dest algo sum sum_url url_name force backup check timeout insecure tmp_dest mode owner group curl_size: set by zdd's quoted prologue
umask_was=$(umask)
umask 077
root=${HOME:-/nonexistent}/.zdd/tmp
if [ -n "$tmp_dest" ]; then
  stage=$(mktemp -d "${tmp_dest%/}/get_url.XXXXXX") || exit 1
elif ! { mkdir -p "$root" 2>/dev/null && stage=$(mktemp -d "$root/get_url.XXXXXX" 2>/dev/null); }; then
  stage=$(mktemp -d) || exit 1
fi
trap 'rm -rf "$stage"' EXIT
trap 'exit 1' HUP INT TERM PIPE
head -c "$curl_size" >"$stage/curlrc"
cat >"$stage/wgetrc"
now() { date +%s; }
start=$(now)
if command -v curl >/dev/null 2>&1; then tool=curl
elif command -v wget >/dev/null 2>&1; then tool=wget
else echo "get_url needs curl or wget on the host" >&2; exit 2; fi
# fetch URL OUT [HEAD] [SINCE]: the body to OUT, the headers to $stage/headers, the status
# code printed.
fetch() {
  if [ $tool = curl ]; then
    set -- "$1" "$2" "${3:-}" "${4:-}"
    [ -n "$3" ] && head_opt=-I || head_opt=
    # The header itself, not curl's -z: curl would call a 200 for an older file a 304.
    since_hdr=
    [ -n "$4" ] && since_hdr="If-Modified-Since: $(TZ=UTC LC_ALL=C date -r "$4" '+%a, %d %b %Y %H:%M:%S GMT')"
    # shellcheck disable=SC2086  # the empty option goes away
    curl -K "$stage/curlrc" -sS -L $head_opt ${since_hdr:+-H "$since_hdr"} --max-time "$timeout" \
      -D "$stage/headers" -o "$2" -w '%{http_code}' -- "$1"
  else
    [ -n "${3:-}" ] && spider=--spider || spider=
    # shellcheck disable=SC2086
    wget --config="$stage/wgetrc" -q -S $spider -T "$timeout" -O "$2" -- "$1" 2>"$stage/headers"
    sed -n 's/^ *HTTP\/[0-9.]* \([0-9]*\).*/\1/p' "$stage/headers" | tail -n 1
  fi
}
status_text() { sed -n 's/^ *HTTP\/[0-9.]* [0-9]* *\(.*\)/\1/p' "$stage/headers" | tail -n 1 | tr -d '\r'; }
header() { sed -n "s/^ *$1: *//Ip" "$stage/headers" | tail -n 1 | tr -d '\r'; }
digest() { "${1}sum" <"$2" | cut -d' ' -f1; }
# The task's mode, owner and group on $dest (in check mode only compared), then what
# Ansible reports of the file.
attrs() {
  was=$(stat -c '%a %u %g' "$dest")
  if [ "$check" = 1 ]; then
    probe=$stage/probe; : >"$probe"; chmod "${was%% *}" "$probe"; [ -z "$mode" ] || chmod "$mode" "$probe"
    [ "$(stat -c %a "$probe")" = "${was%% *}" ] || echo "${m}attrs_changed=1"
    [ -z "$owner" ] || [ "$(id -u "$owner" 2>/dev/null || echo "$owner")" = "$(echo "$was" | cut -d' ' -f2)" ] || echo "${m}attrs_changed=1"
  else
    [ -z "$mode" ] || chmod "$mode" "$dest" || exit 5
    [ -z "$owner" ] || chown "$owner" "$dest" || exit 5
    [ -z "$group" ] || chgrp "$group" "$dest" || exit 5
    [ "$(stat -c '%a %u %g' "$dest")" = "$was" ] || echo "${m}attrs_changed=1"
  fi
  echo "${m}stat=$(stat -c '%a %u %g %s %U %G' "$dest")"
}

if [ -n "$sum_url" ]; then
  code=$(fetch "$sum_url" "$stage/sums") || { echo "${m}msg=Request failed: $sum_url"; exit 3; }
  sum=$(awk -v f="$url_name" 'NF == 1 && NR == 1 { one = $1 }
    NF >= 2 { n = $2; sub(/^\*/, "", n); sub(/^\.\//, "", n); if (n == f) { print $1; exit } }
    END { if (NR == 1 && one != "") print one }' "$stage/sums" | head -n 1)
  [ -n "$sum" ] || { echo "${m}msg=Unable to find a checksum for file '$url_name' in '$sum_url'"; exit 3; }
  sum=$(printf %s "$sum" | tr -cd '[:alnum:]' | tr '[:upper:]' '[:lower:]')
  case $sum in *[!0-9a-f]*|"") echo "${m}msg=The checksum format is invalid"; exit 3 ;; esac
fi

since=
if [ ! -d "$dest" ] && [ -e "$dest" ]; then
  if [ "$force" = 0 ] && [ -n "$sum" ]; then
    if [ "$(digest "$algo" "$dest")" = "$sum" ]; then
      echo "${m}dest=$dest"; echo "${m}msg=file already exists"; echo "${m}exists=1"; attrs; exit 0
    fi
    force=1
  fi
  [ "$force" = 0 ] && since=$dest
fi
out=$stage/body
: >"$out"
code=$(fetch "$url" "$out" "$([ "$check" = 1 ] && echo head)" "$since")
rc=$?
echo "${m}elapsed=$(( $(now) - start ))"
if [ "$code" = 304 ]; then
  echo "${m}status_code=304"; echo "${m}msg=HTTP Error 304: Not Modified"; echo "${m}not_modified=1"; exit 0
fi
if [ $rc != 0 ] || [ "$code" != 200 ]; then
  echo "${m}dest=$dest"
  echo "${m}status_code=${code:--1}"
  if [ -n "$code" ] && [ "$code" != 000 ]; then
    echo "${m}response=HTTP Error $code: $(status_text)"
  else
    echo "${m}response=Request failed: <urlopen error $(tr '\n' ' ' <"$stage/headers" 2>/dev/null)>"
  fi
  echo "${m}msg=Request failed"; exit 3
fi
if [ -d "$dest" ]; then
  name=$(header Content-Disposition | sed -n 's/.*filename="\{0,1\}\([^";]*\)"\{0,1\}.*/\1/p')
  name=${name##*/}
  [ -n "$name" ] || name=$url_name
  dest=${dest%/}/$name
fi
echo "${m}dest=$dest"
echo "${m}status_code=$code"
len=$(header Content-Length)
echo "${m}msg=OK (${len:-unknown} bytes)"
echo "${m}src=$out"
echo "${m}checksum_src=$(digest sha1 "$out")"
dir=${dest%/*}; [ "$dir" = "$dest" ] && dir=.; dir=${dir:-/}
if [ -e "$dest" ]; then
  [ -w "$dest" ] || { echo "${m}msg=Destination $dest is not writable"; exit 3; }
  echo "${m}checksum_dest=$(digest sha1 "$dest")"
else
  [ -d "$dir" ] || { echo "${m}msg=Destination $dir does not exist"; exit 3; }
  [ -w "$dir" ] || { echo "${m}msg=Destination $dir is not writable"; exit 3; }
fi
[ "$check" = 1 ] && exit 0
if [ -n "$sum" ]; then
  got=$(digest "$algo" "$out")
  [ "$got" = "$sum" ] || { echo "${m}msg=The checksum for $out did not match $sum; it was $got."; exit 3; }
fi
if ! { [ -e "$dest" ] && cmp -s "$out" "$dest"; }; then
  if [ "$backup" = 1 ] && [ -e "$dest" ]; then
    b="$dest.$(date +%Y-%m-%d@%H:%M:%S)~"
    cp -p "$dest" "$b" || exit 4
    echo "${m}backup_file=$b"
  fi
  # The old file's mode and owner, else the umask's mode, as Ansible's atomic move.
  if [ -e "$dest" ]; then
    old=$(stat -c '%a %u:%g' "$dest")
    chmod "${old% *}" "$out"; chown "${old#* }" "$out" 2>/dev/null
  else
    chmod "$(printf %o $(( 0666 & ~0$umask_was )))" "$out"
  fi
  final=$(mktemp "$dir/.zdd.XXXXXX") || exit 4
  if ! cat "$out" >"$final" || ! chmod "$(stat -c %a "$out")" "$final" || ! mv -f "$final" "$dest"; then
    rm -f "$final"; echo "${m}msg=failed to copy $out to $dest"; exit 4
  fi
  chown "$(stat -c %u:%g "$out")" "$dest" 2>/dev/null
  echo "${m}content_changed=1"
fi
attrs
echo "${m}md5sum=$(digest md5 "$dest")"
