# `template`/`copy`: the content on stdin into a private staging file (under ~/.zdd/tmp,
# 0700, as Ansible's ~/.ansible/tmp), checked to be complete, given the wanted mode and
# owner, compared with $dest, and only when it differs put beside $dest (a hard link, or a
# local copy made at mode 0600) and renamed into place. A transfer cut short (zdd killed)
# never reaches $dest's directory, so a web server there never serves half a file.
# shellcheck shell=sh disable=SC2154  # m dest name mode owner group check diff force backup fmt limit before validate validate_shown size age: set by zdd's quoted prologue
nl='
'
umask_was=$(umask)
umask 077
if [ -n "$name" ] && [ -d "$dest" ]; then dest="${dest%/}/$name"; fi
case $dest in */*) dir=${dest%/*}; dir=${dir:-/} ;; *) dir=. ;; esac
[ -d "$dir" ] || { echo "Destination directory $dir does not exist" >&2; exit 3; }
[ -d "$dest" ] && { echo "Destination $dest is a directory" >&2; exit 3; }
exists=0; [ -e "$dest" ] && exists=1
if [ $exists = 1 ] && [ "$force" = 0 ]; then
  cat >/dev/null; echo "${m}changed=0"; echo "${m}dest=$dest"; exit 0
fi
# Leftovers of writes killed earlier (a crash of the target): the staging names zdd uses,
# untouched since before this run began and for 10 minutes. A write still going on, of this
# run or of another zdd writing as the same user on this host, is newer.
now=$(date +%s)
run_began=$(( now - age ))
cutoff=$(( run_began < now - 600 ? run_began : now - 600 ))
stale() { [ "$(stat -c %Y -- "$@" 2>/dev/null | sort -n | tail -n 1)" -lt "$cutoff" ] 2>/dev/null; }
for f in "$dir"/.zdd.??????; do
  if [ -f "$f" ] && [ ! -L "$f" ] && stale "$f"; then rm -f -- "$f"; fi
done
root=${HOME:-/nonexistent}/.zdd/tmp
if mkdir -p "$root" 2>/dev/null && stage=$(mktemp -d "$root/put.XXXXXX" 2>/dev/null); then
  # One `find` for the candidates: the staging dirs of other writes in progress (a batch's
  # hosts sharing a home, as on a lab) are many, and cost nothing here.
  find "$root" -maxdepth 1 -name 'put.??????' -type d -mmin +10 2>/dev/null | while IFS= read -r d; do
    if [ "$d" != "$stage" ] && stale "$d" "$d"/*; then rm -rf -- "$d"; fi
  done
else
  stage=$(mktemp -d) || exit 4
fi
final=
trap 'rm -rf "$stage"; [ -z "$final" ] || rm -f "$final"' EXIT
trap 'exit 1' HUP INT TERM PIPE
tmp=$stage/content
cat >"$tmp" || exit 4
got=$(stat -c %s "$tmp") || exit 4
[ "$got" = "$size" ] || { echo "the content arrived incomplete ($got of $size bytes): nothing was changed" >&2; exit 4; }
# The new file starts with the old one's mode and owner (as Ansible's do): one `stat`.
if [ $exists = 1 ]; then
  old=$(stat -c '%a %u:%g' "$dest")
  [ -n "$mode" ] || chmod "${old% *}" "$tmp"
  chown "${old#* }" "$tmp" 2>/dev/null
elif [ -z "$mode" ]; then
  chmod "$(printf %o $(( 0666 & ~0$umask_was )))" "$tmp"
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
  old_size=$(stat -c %s "$dest")
  if [ "$old_size" -le "$limit" ]; then echo "${m}${before}$old_size"; cat "$dest"; fi
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
  # Beside $dest so that the rename is atomic: the whole file at once (a link), or a copy
  # that stays 0600 until it is complete and given the staged file's mode and owner.
  final=$(mktemp "$dir/.zdd.XXXXXX") || exit 7
  if ! ln -f "$tmp" "$final" 2>/dev/null; then
    cat "$tmp" >"$final" || exit 7
    attrs=$(stat -c '%a %u:%g' "$tmp")
    chown "${attrs#* }" "$final" 2>/dev/null
    chmod "${attrs% *}" "$final" || exit 7
  fi
  mv -f "$final" "$dest" || exit 7
  final=
fi
exit 0
