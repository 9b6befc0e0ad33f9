# `group`: add, change or delete the group $name with groupadd/groupmod/groupdel.
# shellcheck shell=sh disable=SC2154  # m name state gid system non_unique force local gid_min gid_max check: set by zdd's quoted prologue
fail() { echo "$*" >&2; exit 1; }
info() { getent group "$name"; }
if [ "$local" = 1 ]; then
  for tool in lgroupadd lgroupmod lgroupdel; do
    command -v $tool >/dev/null 2>&1 || fail "Failed to find required executable \"$tool\" in paths: $PATH"
  done
  l=l
  # `local`: only a line of the local file counts, not a group from the directory.
  exists() { grep -q "^$name:" /etc/group; }
else
  l=
  exists() { info >/dev/null 2>&1; }
fi
run() { echo "${m}ran=1"; [ "$check" = 1 ] && { echo "${m}early=1"; exit 0; }; "$@"; }
if [ "$state" = absent ]; then
  if exists; then
    set -- "${l}groupdel"
    [ "$force" = 1 ] && set -- "$@" -f
    run "$@" "$name" || exit
  fi
elif ! exists; then
  set -- "${l}groupadd"
  [ -n "$gid" ] && { set -- "$@" -g "$gid"; [ "$non_unique" = 1 ] && set -- "$@" -o; }
  [ "$system" = 1 ] && set -- "$@" -r
  [ -n "$gid_min" ] && set -- "$@" -K "GID_MIN=$gid_min"
  [ -n "$gid_max" ] && set -- "$@" -K "GID_MAX=$gid_max"
  run "$@" "$name" || exit
elif [ -n "$gid" ] && [ "$(info | cut -d: -f3)" != "$gid" ]; then
  set -- "${l}groupmod" -g "$gid"
  [ "$non_unique" = 1 ] && set -- "$@" -o
  echo "${m}ran=1"
  if [ "$check" != 1 ]; then "$@" "$name" || exit; fi
fi
exists && echo "${m}gid=$(info | cut -d: -f3)"
exit 0
