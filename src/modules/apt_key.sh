# `apt_key`: what Ansible's apt_key runs on the target, one phase at a time.
# Phase id: the first key of $file, of the data on stdin, or of $url (downloaded; its body
# printed back in base64), as `gpg --with-colons` lists it. Phase list: the keyring's keys
# (`apt-key adv --list-public-keys`). Phase write: $action (add a file, stdin, the URL's
# body, a key from $keyserver; del $short_id), then the keys listed again.
# Marks first (`${m}key=value`), then `${m}out=` and a command's output as it is.
# shellcheck shell=sh disable=SC2154  # m phase keyring file url validate keyserver key_id short_id action: set by zdd's quoted prologue
export LANG=C LC_ALL=C LC_MESSAGES=C LANGUAGE=C
need() {
  if command -v "$1" >/dev/null 2>&1; then echo "${m}bin_$1=$(command -v "$1")"; return; fi
  echo "${m}msg=Failed to find required executable \"$1\" in paths: $PATH$2"
  exit 3
}
need apt-key ". Apt-key has been deprecated. See the deb822_repository as an alternative."
need gpg
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM PIPE
# Ansible's `path` arguments: a leading ~ is the home of the user the module runs as.
expand() {
  case $1 in
    \~) printf '%s' "$HOME" ;;
    \~/*) printf '%s/%s' "$HOME" "${1#\~/}" ;;
    *) printf '%s' "$1" ;;
  esac
}
[ -n "$keyring" ] && keyring=$(expand "$keyring")
[ -n "$file" ] && file=$(expand "$file")
ak() { if [ -n "$keyring" ]; then apt-key --keyring "$keyring" "$@"; else apt-key "$@"; fi; }
# fetch URL: its body to $tmp/body, or the reason it failed as a mark and exit 3. The URL
# goes to curl (wget) on stdin, never on a command line.
fetch() {
  : >"$tmp/body"; : >"$tmp/err"; : >"$tmp/headers"
  if command -v curl >/dev/null 2>&1; then
    k=; [ "$validate" = 1 ] || k=--insecure
    esc=$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')
    # shellcheck disable=SC2086  # $k: an option or nothing
    code=$(printf 'url = "%s"\n' "$esc" | curl -K - -sS -L $k -D "$tmp/headers" -o "$tmp/body" -w '%{http_code}' 2>"$tmp/err")
  elif command -v wget >/dev/null 2>&1; then
    k=; [ "$validate" = 1 ] || k=--no-check-certificate
    # shellcheck disable=SC2086
    printf '%s\n' "$1" | wget -q -S $k -O "$tmp/body" -i - 2>"$tmp/headers"
    code=$(sed -n 's/^ *HTTP\/[0-9.]* \([0-9]*\).*/\1/p' "$tmp/headers" | tail -n 1)
    [ -n "$code" ] || cp "$tmp/headers" "$tmp/err"
  else
    echo "${m}fetch_error=Request failed: <urlopen error apt_key needs curl or wget on the host>"; exit 3
  fi
  [ "$code" = 200 ] && return 0
  if [ -n "$code" ] && [ "$code" != 000 ]; then
    echo "${m}fetch_error=HTTP Error $code: $(sed -n 's/^ *HTTP\/[0-9.]* [0-9]* *\(.*\)/\1/p' "$tmp/headers" | tail -n 1 | tr -d '\r')"
  else
    echo "${m}fetch_error=Request failed: <urlopen error $(tr '\n' ' ' <"$tmp/err" | sed 's/ *$//')>"
  fi
  exit 3
}
list() {
  ak adv --list-public-keys --keyid-format=long >"$tmp/list"
  echo "${m}list_rc=$?"
  echo "${m}out="
  cat "$tmp/list"
}
case $phase in
  id)
    if [ -n "$url" ]; then
      fetch "$url"
      echo "${m}body=$(base64 -w0 <"$tmp/body")"
      [ -s "$tmp/body" ] || exit 0
      gpg --with-colons - <"$tmp/body" >"$tmp/out"
    elif [ -n "$file" ]; then
      gpg --with-colons "$file" </dev/null >"$tmp/out"
    else
      gpg --with-colons - >"$tmp/out"
    fi
    echo "${m}rc=$?"
    echo "${m}out="
    cat "$tmp/out"
    ;;
  list) list ;;
  write)
    [ "$action" = url ] && fetch "$url"
    : >"$tmp/act"; : >"$tmp/acterr"
    case $action in
      file) ak add "$file" >"$tmp/act" 2>"$tmp/acterr"; rc=$? ;;
      data) ak add - >"$tmp/act" 2>"$tmp/acterr"; rc=$? ;;
      url) ak add - <"$tmp/body" >"$tmp/act" 2>"$tmp/acterr"; rc=$? ;;
      del) ak del "$short_id" >"$tmp/act" 2>"$tmp/acterr"; rc=$? ;;
      keyserver)
        # As Ansible: the first proxy variable set, and five tries.
        proxy=${HTTPS_PROXY:-${https_proxy:-${HTTP_PROXY:-${http_proxy:-}}}}
        [ -n "$proxy" ] && echo "${m}proxy=$proxy"
        n=0
        while :; do
          if [ -n "$proxy" ]; then
            ak adv --no-tty --keyserver "$keyserver" --keyserver-options "http-proxy=$proxy" --recv "$key_id"
          else
            ak adv --no-tty --keyserver "$keyserver" --recv "$key_id"
          fi >"$tmp/act" 2>"$tmp/acterr"
          rc=$?
          n=$((n + 1))
          if [ $rc = 0 ] || [ $n -ge 5 ]; then break; fi
        done
        ;;
      *) echo "unknown action $action" >&2; exit 2 ;;
    esac
    cat "$tmp/acterr" >&2
    echo "${m}rc=$rc"
    echo "${m}act_out=$(base64 -w0 <"$tmp/act")"
    [ "$rc" = 0 ] || exit 0
    list
    ;;
esac
exit 0
