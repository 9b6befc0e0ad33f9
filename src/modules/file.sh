# `file`: make $p what $state says, with $mode/$owner/$group; print what changed as marks.
# shellcheck shell=sh disable=SC2154  # m p state mode owner group src recurse force check: set by zdd's quoted prologue
changed=0
cur=absent
if [ -L "$p" ]; then cur='link'; elif [ -d "$p" ]; then cur=directory; elif [ -e "$p" ]; then cur='file'; fi
if [ -z "$state" ]; then if [ $cur = absent ]; then state='file'; else state=$cur; fi; fi
act() { changed=1; [ "$check" = 1 ] || "$@" || exit 1; }
case $state in
absent) [ $cur = absent ] || act rm -rf -- "$p" ;;
directory)
  case $cur in
  absent) act mkdir -p -- "$p" ;;
  directory) ;;
  *) echo "there is a $cur in the way: $p is not a directory" >&2; exit 1 ;;
  esac ;;
file)
  [ $cur = absent ] && { echo "file ($p) is absent, cannot continue" >&2; exit 1; }
  [ $cur = directory ] && { echo "file ($p) is a directory, cannot continue" >&2; exit 1; } ;;
touch)
  if [ $cur = absent ]; then act touch -- "$p"; elif [ "$check" = 0 ]; then touch -c -- "$p"; fi ;;
link)
  if [ $cur = link ] && [ "$(readlink -- "$p")" = "$src" ]; then :
  elif [ $cur = directory ]; then echo "refusing to replace the directory $p with a link" >&2; exit 1
  elif [ $cur = file ] && [ "$force" = 0 ]; then echo "refusing to convert from file to symlink for $p (use force: yes)" >&2; exit 1
  else
    if [ "$force" = 0 ] && ! (cd "$(dirname -- "$p")" && [ -e "$src" ]); then
      echo "src file $src does not exist, use force=yes if you really want to create the link: $p" >&2; exit 1
    fi
    act ln -sfn -- "$src" "$p"
  fi ;;
hard)
  # shellcheck disable=SC3013  # dash, bash and busybox sh all have -ef
  if [ -e "$p" ] && [ "$p" -ef "$src" ]; then :
  elif [ $cur = directory ]; then echo "refusing to replace the directory $p with a hard link" >&2; exit 1
  else act ln -f -- "$src" "$p"; fi ;;
esac
case $state in absent|link|hard) ;; *)
  if [ -e "$p" ] && [ -n "$mode$owner$group" ]; then
    if [ "$check" = 1 ]; then
      [ -z "$mode" ] || case $mode in *[!0-7]*) changed=1 ;; *)
        [ "$(printf %o 0"$mode")" = "$(stat -c %a -- "$p")" ] || changed=1 ;; esac
      [ -z "$owner" ] || [ "$owner" = "$(stat -c %U -- "$p")" ] || [ "$owner" = "$(stat -c %u -- "$p")" ] || changed=1
      [ -z "$group" ] || [ "$group" = "$(stat -c %G -- "$p")" ] || [ "$group" = "$(stat -c %g -- "$p")" ] || changed=1
    else
      R=; [ "$recurse" = 1 ] && [ -d "$p" ] && R=-R
      snap() { if [ -n "$R" ]; then find "$p" -exec stat -c '%a %u %g' {} + | cksum; else stat -c '%a %u %g' -- "$p"; fi; }
      before=$(snap)
      [ -z "$owner" ] || chown $R -- "$owner" "$p" || exit 1
      [ -z "$group" ] || chgrp $R -- "$group" "$p" || exit 1
      [ -z "$mode" ] || chmod $R -- "$mode" "$p" || exit 1
      [ "$before" = "$(snap)" ] || changed=1
    fi
  fi ;;
esac
echo "${m}changed=$changed"
echo "${m}state=$state"
echo "${m}before=$cur"
if [ -e "$p" ] || [ -L "$p" ]; then echo "${m}stat=$(stat -c '%a %U %G' -- "$p")"; fi
