# `tempfile`: a new file (0600) or directory (0700) with a random name, as Python's
# mkstemp/mkdtemp make them, in $path or the system's temporary directory.
# shellcheck shell=sh disable=SC2154  # m path state prefix suffix: set by zdd's quoted prologue
# shellcheck disable=SC2088  # a literal ~, expanded here as Ansible expands it
case $path in "~") path=$HOME ;; "~/"*) path=$HOME/${path#"~/"} ;; esac
dir=${path:-${TMPDIR:-${TEMP:-${TMP:-/tmp}}}}
if [ "$state" = directory ]; then set -- -d; else set --; fi
made=$(umask 077 && mktemp "$@" --suffix="$suffix" -- "${dir%/}/${prefix}XXXXXXXX") || exit 3
echo "${m}path=$made"
