# `script`: the local script arrives on stdin; it is staged in a private directory (under
# ~/.zdd/tmp, 0700, as Ansible's ~/.ansible/tmp), made executable, and run by the task's
# command line, in which zdd put "$zdd_script" for the script's name. The staging
# directory goes when the script ends.
# shellcheck shell=sh disable=SC2154  # zdd_m zdd_creates zdd_removes zdd_chdir zdd_size zdd_cmdline: set by zdd's quoted prologue
if [ -n "$zdd_creates" ] && [ -e "$zdd_creates" ]; then cat >/dev/null; echo "${zdd_m}skipped=creates"; exit 0; fi
if [ -n "$zdd_removes" ] && [ ! -e "$zdd_removes" ]; then cat >/dev/null; echo "${zdd_m}skipped=removes"; exit 0; fi
if [ "$zdd_check" = 1 ]; then cat >/dev/null; echo "${zdd_m}skipped=check"; exit 0; fi
zdd_root=${HOME:-/nonexistent}/.zdd/tmp
if ! { mkdir -p "$zdd_root" 2>/dev/null && zdd_dir=$(mktemp -d "$zdd_root/script.XXXXXX" 2>/dev/null); }; then
  zdd_dir=$(mktemp -d) || exit 1
fi
trap 'rm -rf "$zdd_dir"' EXIT
trap 'exit 1' HUP INT TERM PIPE
zdd_script=$zdd_dir/$zdd_name
cat >"$zdd_script" || exit 1
[ "$(stat -c %s "$zdd_script")" = "$zdd_size" ] || { echo "the script arrived incomplete: nothing was run" >&2; exit 1; }
chmod 0700 "$zdd_script" || exit 1
if [ -n "$zdd_chdir" ]; then cd "$zdd_chdir" || exit 1; fi
unset zdd_creates zdd_removes zdd_chdir zdd_size zdd_check zdd_root
eval "$zdd_cmdline" </dev/null
