# `sysctl`: read the kernel's value of $name and $file (phase read), or write stdin to
# $file, set the value (sysctl -w) and reload the file (sysctl -p), as asked (phase write).
# shellcheck shell=sh disable=SC2154  # m phase name value file set_proc reload ignore check: set by zdd's quoted prologue
fail() { echo "$*" >&2; exit 1; }
export LANG=C LC_ALL=C LC_MESSAGES=C
if [ "$phase" = read ]; then
  if v=$(sysctl -e -n "$name" 2>/dev/null); then echo "${m}proc=$(printf '%s' "$v" | tr '\t\n' '  ')"; fi
  [ -f "$file" ] && { echo "${m}content="; cat -- "$file"; }
  exit 0
fi
real=$(readlink -m -- "$file")
failed() { printf '%s\n' "$1" | grep -Eq '^sysctl: setting key "[^"]+": (Invalid argument|Read-only file system)$'; }
if [ "$write" = 1 ]; then
  tmp=$(mktemp "${real%/*}/.ansible_m_sysctl_XXXXXX.conf") || exit
  if [ -e "$real" ]; then cat > "$tmp" && chown --reference="$real" "$tmp" && chmod --reference="$real" "$tmp"; else cat > "$tmp" && chmod 0644 "$tmp"; fi || { rm -f -- "$tmp"; exit 1; }
  mv -f -- "$tmp" "$real" || exit
fi
e=
[ "$ignore" = 1 ] && e=-e
if [ "$set_proc" = 1 ]; then
  # shellcheck disable=SC2086  # $e: an option or nothing
  if ! out=$(sysctl $e -w "$name=$value" 2>&1) || failed "$out"; then fail "setting $name failed: $out"; fi
fi
if [ "$reload" = 1 ]; then
  # shellcheck disable=SC2086  # $e: an option or nothing
  if ! out=$(sysctl $e -p "$file" 2>&1) || failed "$out"; then fail "Failed to reload sysctl: $out"; fi
fi
exit 0
