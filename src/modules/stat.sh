# `stat`: one (l)stat of $path and what Ansible adds to it, printed as marks for zdd.
# shellcheck shell=sh disable=SC2154  # m, path, follow, algo, mime, attrs: set by zdd's quoted prologue
# shellcheck disable=SC2088  # a literal ~, expanded here as Ansible expands it
case $path in "~") path=$HOME ;; "~/"*) path=$HOME/${path#"~/"} ;; esac
echo "${m}path=$path"
if [ "$follow" = 1 ]; then set -- -L; else set --; fi
fmt="${m}stat=%f %u %g %s %i %d %h %.9X %.9Y %.9Z %b %o %t %T\n${m}pw_name=%U\n${m}gr_name=%G\n"
if ! out=$(stat "$@" --printf "$fmt" -- "$path" 2>&1); then
  case $out in *"No such file or directory") echo "${m}exists=0"; exit 0 ;; esac
  echo "${out##*: }" >&2
  exit 1
fi
echo "$out"
[ -r "$path" ] && echo "${m}readable=1"
[ -w "$path" ] && echo "${m}writeable=1"
[ -x "$path" ] && echo "${m}executable=1"
islnk=0
[ "$follow" != 1 ] && [ -L "$path" ] && islnk=1
if [ $islnk = 1 ]; then
  echo "${m}lnk_source=$(readlink -f -- "$path")"
  echo "${m}lnk_target=$(readlink -- "$path")"
elif [ -n "$algo" ] && [ -f "$path" ] && [ -r "$path" ]; then
  sum=$("${algo}sum" -- "$path") && echo "${m}checksum=${sum%% *}"
fi
if [ "$mime" = 1 ] && command -v file >/dev/null 2>&1; then
  out=$(file --mime-type --mime-encoding -- "$path" 2>/dev/null) && echo "${m}mime=${out##*: }"
fi
if [ "$attrs" = 1 ] && command -v lsattr >/dev/null 2>&1; then
  out=$(lsattr -vd -- "$path" 2>/dev/null) && echo "${m}lsattr=$out"
fi
exit 0
