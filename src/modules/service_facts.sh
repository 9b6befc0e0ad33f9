# `service_facts`: the services SysV init (`service --status-all`) and systemd (when it
# runs) know, one mark line each: name, state, status, source. Later sources win.
# shellcheck shell=sh disable=SC2154  # m: set by zdd's quoted prologue
# The sbin directories, which a login user's PATH may lack (as Ansible's get_bin_path adds them).
PATH=$PATH:/sbin:/usr/sbin:/usr/local/sbin
LANG=C LC_ALL=C
export LANG LC_ALL
if command -v service >/dev/null 2>&1 && ! command -v chkconfig >/dev/null 2>&1 && ! command -v rc-status >/dev/null 2>&1; then
  out=$(service --status-all 2>/dev/null)
  printf '%s\n' "$out" | awk -v m="$m" '
    /^[ \t]*\[ [+-] \][ \t]+/ {
      state = ($0 ~ /\[ \+ \]/) ? "running" : "stopped"
      name = $0; sub(/^[ \t]*\[ [+-] \][ \t]+/, "", name)
      print m "svc=" name "\t" state "\t\tsysv"
    }'
fi
systemd=0
if command -v systemctl >/dev/null 2>&1; then
  for canary in /run/systemd/system/ /dev/.run/systemd/ /dev/.systemd/; do [ -e "$canary" ] && systemd=1; done
  [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && systemd=1
fi
if [ "$systemd" = 1 ]; then
  if units=$(systemctl list-units --no-pager --type service --all --plain 2>&1); then
    printf '%s\n' "$units" | awk -v m="$m" '
      /\.service/ {
        status = $3
        for (i = 1; i < NF; i++) if ($i == "not-found" || $i == "masked" || $i == "failed") { status = $i; break }
        print m "svc=" $1 "\t" ($4 == "running" ? "running" : "stopped") "\t" status "\tsystemd"
      }'
  else
    echo "${m}warning=Could not list units from systemd: $units"
  fi
  seen=$(printf '%s\n' "$units" | awk '/\.service/ { print $1 }')
  if files=$(systemctl list-unit-files --no-pager --type service --all 2>&1); then
    printf '%s\n' "$files" | awk '/\.service/ { print $1, $2 }' | while read -r name status; do
      if printf '%s\n' "$seen" | grep -qxF "$name"; then
        echo "${m}file=$name	$status"
      else
        state=$(systemctl show "$name" --property=ActiveState 2>/dev/null) || state=
        state=${state#ActiveState=}
        echo "${m}svc=$name	${state:-unknown}	$status	systemd"
      fi
    done
  else
    echo "${m}warning=Could not get unit files data from systemd: $files"
  fi
fi
echo "${m}done=1"
