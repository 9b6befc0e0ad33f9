# `lineinfile`/`blockinfile`/`replace`: the file's real path and its content (base64, so
# any byte arrives as it is), for zdd to edit; with `create`, its missing parent
# directories are made first (not in check mode), as Ansible makes them. `stat`: its mode
# and owner (those a new file would get), to tell whether `mode`/`owner`/`group` changed them.
# shellcheck shell=sh disable=SC2154  # m path create check: set by zdd's quoted prologue
# shellcheck disable=SC2088  # a literal ~, expanded here as Ansible expands it
case $path in "~") path=$HOME ;; "~/"*) path=$HOME/${path#"~/"} ;; esac
if [ -d "$path" ]; then echo "${m}isdir=1"; exit 0; fi
if [ ! -e "$path" ] && [ "$create" = 1 ] && [ "$check" = 0 ]; then
  case $path in */*) dir=${path%/*} ;; *) dir= ;; esac
  if [ -n "$dir" ] && [ ! -d "$dir" ]; then
    mkdir -p -- "$dir" || { echo "Error creating $dir" >&2; exit 3; }
  fi
fi
real=$(readlink -f -- "$path" 2>/dev/null) || real=
echo "${m}real=${real:-$path}"
if [ -e "$path" ]; then
  echo "${m}stat=$(stat -c '%a %U %G' -- "$path")"
  content=$(base64 -w0 -- "$path") || exit 4
  echo "${m}content=$content"
else
  echo "${m}stat=$(printf %o $(( 0666 & ~0$(umask) ))) $(id -un) $(id -gn)"
fi
exit 0
