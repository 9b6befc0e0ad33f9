# `authorized_key`: find a user's authorized_keys file and print it (phase read), or write
# stdin to it with the directory and modes Ansible gives it (phase write).
# shellcheck shell=sh disable=SC2154  # m phase user path manage_dir follow check: set by zdd's quoted prologue
fail() { echo "$*" >&2; exit 1; }
if [ "$check" = 1 ] && [ -n "$path" ]; then
  keys=$path
  [ "$follow" = 1 ] && keys=$(readlink -m -- "$keys")
  entry=$(getent passwd "$user") || entry=
else
  if ! entry=$(getent passwd "$user"); then
    [ "$check" = 1 ] && fail "Either user must exist or you must provide full path to key file in check mode"
    fail "Failed to lookup user $user: \"getpwnam(): name not found: '$user'\""
  fi
fi
home=$(echo "$entry" | cut -d: -f6)
uid=$(echo "$entry" | cut -d: -f3)
gid=$(echo "$entry" | cut -d: -f4)
if [ -n "$path" ]; then sshdir=${path%/*}; keys=$path; else sshdir=$home/.ssh; keys=$sshdir/authorized_keys; fi
if [ "$phase" = read ]; then
  echo "${m}keyfile=$keys"
  [ -f "$keys" ] && { echo "${m}content="; cat -- "$keys"; }
  exit 0
fi
[ "$follow" = 1 ] && keys=$(readlink -m -- "$keys")
echo "${m}filename=$keys"
[ "$check" = 1 ] && exit 0
if [ "$manage_dir" = 1 ]; then
  [ -e "$sshdir" ] || mkdir -m 0700 -- "$sshdir" 2>/dev/null || fail "Failed to create directory $sshdir"
  chown "$uid:$gid" "$sshdir" && chmod 0700 "$sshdir" || exit
fi
if [ ! -e "$keys" ]; then
  mkdir -p -- "${keys%/*}" && : > "$keys" || exit
fi
chown "$uid:$gid" "$keys" 2>/dev/null && chmod 0600 "$keys" 2>/dev/null
tmp=$(mktemp "${keys%/*}/.zdd-authorized_keys.XXXXXX") || exit
if cat > "$tmp" && chown --reference="$keys" "$tmp" && chmod --reference="$keys" "$tmp" && mv -f -- "$tmp" "$keys"; then
  exit 0
fi
rm -f -- "$tmp"
fail "Failed to write $keys"
