# `shell`/`command`: the `creates`/`removes` guard, run before the task's command (which
# zdd appends). The paths are globs matched against the file system, as Ansible's
# `glob.glob`: expanded unquoted with IFS empty, so they are never split into words and
# nothing in them (newlines, tabs, `;`, `$(...)`) is ever run as shell.
# shellcheck shell=sh disable=SC2154  # zdd_m zdd_creates zdd_removes: set by zdd's quoted prologue
zdd_found() { (IFS=; set +f; for f in $1; do [ -e "$f" ] && exit 0; done; exit 1); }
if [ -n "$zdd_creates" ] && zdd_found "$zdd_creates"; then echo "${zdd_m}skipped=creates"; exit 0; fi
if [ -n "$zdd_removes" ] && ! zdd_found "$zdd_removes"; then echo "${zdd_m}skipped=removes"; exit 0; fi
unset zdd_m zdd_creates zdd_removes
unset -f zdd_found
