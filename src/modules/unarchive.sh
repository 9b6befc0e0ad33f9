# `unarchive`: unpack $src (pushed on stdin, already on the host, or downloaded here) into
# $dest, only when $dest does not already hold the same files (type, size, content, mode,
# modification time), as Ansible decides; prints marks for zdd.
# shellcheck shell=sh disable=SC2154  # m src dest pushed size check list_files keep_newer mode owner group name: set by zdd's quoted prologue; extra members excl_zip excl_tar: words quoted by zdd, for eval
root=${HOME:-/nonexistent}/.zdd/tmp
umask_was=$(umask)
umask 077
if ! { mkdir -p "$root" 2>/dev/null && stage=$(mktemp -d "$root/unarchive.XXXXXX" 2>/dev/null); }; then
  stage=$(mktemp -d) || exit 1
fi
trap 'rm -rf "$stage"' EXIT
trap 'exit 1' HUP INT TERM PIPE
fail() { echo "${m}msg=$*"; exit 3; }
if [ "$pushed" = 1 ]; then
  src=$stage/$name
  cat >"$src" || exit 1
  [ "$(stat -c %s "$src")" = "$size" ] || fail "Source '$name' failed to transfer"
else
  case $src in
    *://*)
      got=$stage/${src##*/}
      curl -fsSL -o "$got" -- "$src" 2>"$stage/err" || wget -q -O "$got" -- "$src" 2>>"$stage/err" ||
        fail "Failure downloading $src, $(tr '\n' ' ' <"$stage/err")"
      src=$got ;;
    *) [ -e "$src" ] || fail "Source '$src' does not exist" ;;
  esac
  [ -r "$src" ] || fail "Source '$src' not readable"
fi
[ -s "$src" ] || fail "Invalid archive '$src', the file is 0 bytes"
[ -d "$dest" ] || fail "Destination '$dest' is not a directory"
echo "${m}src=$src"
# The handler, tried in Ansible's order, by what the file is rather than its name.
if unzip -Z1 "$src" >"$stage/list" 2>/dev/null; then handler=ZipArchive; zflag=
elif tar -tzf "$src" >"$stage/list" 2>/dev/null; then handler=TgzArchive; zflag=-z
elif tar -tf "$src" >"$stage/list" 2>/dev/null; then handler=TarArchive; zflag=
elif tar -tjf "$src" >"$stage/list" 2>/dev/null; then handler=TarBzipArchive; zflag=-j
elif tar -tJf "$src" >"$stage/list" 2>/dev/null; then handler=TarXzArchive; zflag=-J
else fail "Failed to find handler for \"$src\". Make sure the required command to extract the file is installed."; fi
echo "${m}handler=$handler"
# As Ansible: only zip archives are compared in check mode; tar ones skip the task.
if [ "$check" = 1 ] && [ $handler != ZipArchive ]; then echo "${m}skipped=gtar"; exit 0; fi
# extract DIR: the archive (its members, less the excluded) into DIR.
extract() {
  if [ $handler = ZipArchive ]; then
    eval "unzip -o -q $extra \"\$src\" $members $excl_zip -d \"\$1\""
  else
    eval "tar -x $zflag $extra $keep_newer_flag -f \"\$src\" -C \"\$1\" $excl_tar $members"
  fi
}
keep_newer_flag=
[ "$keep_newer" = 1 ] && [ $handler != ZipArchive ] && keep_newer_flag=--keep-newer-files
mkdir "$stage/x" || exit 1
umask "$umask_was"
extract "$stage/x" >"$stage/out" 2>"$stage/err" || fail "failed to unpack $src to $dest: $(cat "$stage/err")"
(cd "$stage/x" && find . -mindepth 1 | sed 's|^\./||' | sort) >"$stage/files"
# The staged files get the task's attributes too, so they compare with what a run left.
if [ -n "$mode" ] || [ -n "$owner" ] || [ -n "$group" ]; then
  while IFS= read -r f; do
    p=$stage/x/$f
    [ -L "$p" ] && continue
    [ -z "$mode" ] || chmod "$mode" "$p" 2>/dev/null
    [ -z "$owner" ] || chown "$owner" "$p" 2>/dev/null
    [ -z "$group" ] || chgrp "$group" "$p" 2>/dev/null
  done <"$stage/files"
  chmod u+rwx "$stage/x"
fi
# Same files already there? Type, size, content, mode and modification time.
same=1
while IFS= read -r f; do
  a=$stage/x/$f; b=$dest/$f
  [ -e "$b" ] || [ -L "$b" ] || { same=0; break; }
  if [ -d "$a" ] && [ ! -L "$a" ]; then
    [ -d "$b" ] || { same=0; break; }
    [ "$(stat -c %a "$a")" = "$(stat -c %a "$b")" ] || { same=0; break; }
    continue
  fi
  [ "$(stat -c '%F %a %s %Y' "$a")" = "$(stat -c '%F %a %s %Y' "$b")" ] || {
    [ "$keep_newer" = 1 ] && [ "$(stat -c %Y "$b")" -gt "$(stat -c %Y "$a")" ] && continue
    same=0; break; }
  if [ -f "$a" ] && ! cmp -s "$a" "$b"; then same=0; break; fi
done <"$stage/files"
# The archive's own list of members, as Ansible's `files`.
if [ "$list_files" = 1 ]; then
  while IFS= read -r f; do echo "${m}file=$f"; done <"$stage/list"
fi
changed=0
if [ $same = 0 ]; then
  changed=1
  if [ "$check" = 0 ]; then
    extract "$dest" >"$stage/out" 2>"$stage/err"
    rc=$?
    echo "${m}extract_rc=$rc"
    [ $rc = 0 ] || fail "failed to unpack $src to $dest"
  fi
fi
# The task's mode, owner and group on every unpacked file.
if [ "$check" = 0 ] && { [ -n "$mode" ] || [ -n "$owner" ] || [ -n "$group" ]; }; then
  while IFS= read -r f; do
    p=$dest/$f
    [ -L "$p" ] && continue
    was=$(stat -c '%a %u %g' "$p")
    [ -z "$mode" ] || chmod "$mode" "$p" || exit 5
    [ -z "$owner" ] || chown "$owner" "$p" || exit 5
    [ -z "$group" ] || chgrp "$group" "$p" || exit 5
    [ "$(stat -c '%a %u %g' "$p")" = "$was" ] || changed=1
  done <"$stage/files"
fi
echo "${m}changed=$changed"
echo "${m}stat=$(stat -c '%a %u %g %s %U %G' "$dest")"
