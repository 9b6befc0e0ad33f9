# `hostname`: the current and permanent names by $use's strategy (systemd: hostnamectl;
# file: /etc/hostname, alpine: the same then `hostname -F`; sles: /etc/HOSTNAME); set to
# $name where they differ (not in check mode); then the FQDN as Python's socket.getfqdn()
# finds it (the name's address looked up back; the first name with a dot, else the first).
# shellcheck shell=sh disable=SC2154  # m name use check: set by zdd's quoted prologue
export LANG=C LC_ALL=C
fail() { echo "$*" >&2; exit 1; }
if [ -z "$use" ]; then
  if [ -d /run/systemd/system ] || [ -d /dev/.run/systemd ] || [ -d /dev/.systemd ]; then use=systemd
  elif [ -f /etc/alpine-release ]; then use=alpine
  else use="file"; fi
fi
file=/etc/hostname
[ "$use" = sles ] && file=/etc/HOSTNAME
case $use in
  systemd|debian)
    ctl() { out=$(hostnamectl "$@" 2>&1) || fail "Command failed rc=$?, out=$out, err="; printf '%s\n' "$out"; }
    current=$(ctl --transient status) || exit
    permanent=$(ctl --static status) || exit ;;
  *)
    permanent=
    [ -f "$file" ] && { permanent=$(cat -- "$file") || fail "failed to read hostname"; }
    permanent=$(printf '%s' "$permanent" | sed 's/^[[:space:]]*//;s/[[:space:]]*$//')
    current=$permanent ;;
esac
printf '%scurrent=%s\n%spermanent=%s\n' "$m" "$current" "$m" "$permanent"
if [ "$check" = 0 ]; then
  case $use in
    systemd|debian)
      if [ "$permanent" != "$name" ]; then ctl --pretty --static set-hostname "$name" >/dev/null || exit; fi
      if [ "$current" != "$name" ]; then ctl --transient set-hostname "$name" >/dev/null || exit; fi ;;
    *)
      if [ "$permanent" != "$name" ]; then printf '%s\n' "$name" > "$file" || fail "failed to update hostname"; fi
      if [ "$use" = alpine ] && [ "$current" != "$name" ]; then
        out=$(hostname -F "$file" 2>&1) || fail "Command failed rc=$?, out=$out, err="
      fi ;;
  esac
fi
h=$(hostname)
ip=$(getent hosts "$h" | awk '{print $1; exit}')
names=
[ -n "$ip" ] && names=$(getent hosts "$ip" | awk '{for (i = 2; i <= NF; i++) print $i; exit}')
fqdn=$(printf '%s\n' "$names" | grep -m1 '\.') || fqdn=$(printf '%s\n' "$names" | head -n1)
echo "${m}fqdn=${fqdn:-$h}"
exit 0
