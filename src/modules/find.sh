# `find`, first pass: every entry under each of $paths (newline-separated), as GNU find's
# -printf fields (lstat's, so a link is a link), NUL-terminated, after a mark naming the
# path; zdd filters them and orders them as Python's os.walk would. `now`: the target's
# clock, for `age`.
# shellcheck shell=sh disable=SC2154  # m paths follow maxdepth: set by zdd's quoted prologue
# shellcheck disable=SC2088  # a literal ~, expanded here as Ansible expands it
echo "${m}now=$(date +%s.%N)"
if [ "$follow" = 1 ]; then set -- -L; else set --; fi
nl='
'
IFS=$nl
for p in $paths; do
  case $p in "~") p=$HOME ;; "~/"*) p=$HOME/${p#"~/"} ;; esac
  printf '%s\n' "${m}root=$p"
  if [ ! -d "$p" ]; then printf '%s\n' "${m}notdir=1"; continue; fi
  LC_ALL=C find "$@" "$p" -mindepth 1 ${maxdepth:+-maxdepth} ${maxdepth:+"$maxdepth"} -printf '%y %Y %m %U %G %s %i %D %n %A@ %T@ %C@ %u %g %P\0' 2>&1 >&3 | sed -n "s/^find: '\(.*\)': Permission denied\$/${m}denied=\1/p" >&2
  echo
done 3>&1
exit 0
