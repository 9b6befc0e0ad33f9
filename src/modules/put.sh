# `template`/`copy`: the content on stdin into a temp file beside $dest, given the wanted
# mode and owner, compared with $dest, and renamed into place only when it differs.
# shellcheck shell=sh disable=SC2154  # m dest name mode owner group check diff force backup fmt limit before validate validate_shown: set by zdd's quoted prologue
nl='
'
if [ -n "$name" ] && [ -d "$dest" ]; then dest="${dest%/}/$name"; fi
case $dest in */*) dir=${dest%/*}; dir=${dir:-/} ;; *) dir=. ;; esac
[ -d "$dir" ] || { echo "Destination directory $dir does not exist" >&2; exit 3; }
[ -d "$dest" ] && { echo "Destination $dest is a directory" >&2; exit 3; }
exists=0; [ -e "$dest" ] && exists=1
if [ $exists = 1 ] && [ "$force" = 0 ]; then
  cat >/dev/null; echo "${m}changed=0"; echo "${m}dest=$dest"; exit 0
fi
if [ "$check" = 1 ]; then tmp=$(mktemp); else tmp=$(mktemp "$dir/.zdd.XXXXXX"); fi || exit 4
trap 'rm -f "$tmp"' EXIT
cat >"$tmp" || exit 4
# The new file starts with the old one's mode and owner (as Ansible's do): one `stat`.
if [ $exists = 1 ]; then
  old=$(stat -c '%a %u:%g' "$dest")
  [ -n "$mode" ] || chmod "${old% *}" "$tmp"
  chown "${old#* }" "$tmp" 2>/dev/null
elif [ -z "$mode" ]; then
  chmod "$(printf %o $(( 0666 & ~0$(umask) )))" "$tmp"
fi
if [ -n "$mode" ]; then chmod "$mode" "$tmp" || exit 5; fi
if [ -n "$owner" ]; then chown "$owner" "$tmp" || exit 5; fi
if [ -n "$group" ]; then chgrp "$group" "$tmp" || exit 5; fi
content=1; attrs=1
if [ $exists = 1 ]; then
  cmp -s "$tmp" "$dest" && content=0
  both=$(stat -c "$fmt" "$tmp" "$dest")
  [ "${both%%"$nl"*}" = "${both#*"$nl"}" ] && attrs=0
fi
echo "${m}dest=$dest"
echo "${m}stat=$(stat -c '%a %U %G' "$tmp")"
if [ $content = 0 ] && [ $attrs = 0 ]; then
  echo "${m}changed=0"; exit 0
fi
echo "${m}changed=1"
echo "${m}content_changed=$content"
if [ "$diff" = 1 ] && [ $content = 1 ] && [ $exists = 1 ]; then
  size=$(stat -c %s "$dest")
  if [ "$size" -le "$limit" ]; then echo "${m}${before}$size"; cat "$dest"; fi
fi
if [ "$check" = 0 ]; then
  if [ -n "$validate" ]; then
    # The task's command as quoted words (split on the controller), "$tmp" for %s.
    ( eval "$validate" ) 1>&2 || { echo "failed to validate: $validate_shown" >&2; exit 6; }
  fi
  if [ "$backup" = 1 ] && [ $exists = 1 ]; then
    b="$dest.$(date +%Y-%m-%d@%H:%M:%S)~"
    cp -p "$dest" "$b" || exit 7
    echo "${m}backup_file=$b"
  fi
  mv -f "$tmp" "$dest" || exit 7
  trap - EXIT
fi
exit 0
