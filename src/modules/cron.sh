# `cron`: print a user's crontab or a cron file (phase read), or write stdin as the new
# crontab or file, remove an emptied cron file, and keep a backup of the old text (phase
# write).
# shellcheck shell=sh disable=SC2154  # m phase user file remove backup backup_text: set by zdd's quoted prologue
fail() { echo "$*" >&2; exit 1; }
command -v crontab >/dev/null 2>&1 || fail 'Failed to find required executable "crontab" in paths: '"$PATH"
# Ansible passes -u only when the user is not the one the module runs as.
u=
if [ -n "$user" ] && [ "$(id -un)" != "$user" ]; then u=$user; fi
if [ "$phase" = read ]; then
  echo "${m}content="
  if [ -n "$file" ]; then
    rc=0
    [ -f "$file" ] && cat -- "$file"
  else
    crontab ${u:+-u "$u"} -l 2>/dev/null
    rc=$?
  fi
  printf '\n%sread_rc=%s\n' "$m" "$rc"
  exit 0
fi
umask 022
if [ "$backup" = 1 ]; then
  b=$(mktemp /tmp/crontabXXXXXXXX) || exit
  printf '%s' "$backup_text" > "$b" || exit
  echo "${m}backup_file=$b"
fi
if [ -n "$file" ]; then
  if [ "$remove" = 1 ]; then
    rm -f -- "$file" || exit
  else
    cat > "$file" || exit
  fi
  exit 0
fi
if ! err=$(crontab ${u:+-u "$u"} - 2>&1); then
  fail "$err"
fi
exit 0
