# `setup`: the facts zdd gathers, printed as marks; parsed on the controller.
# shellcheck shell=sh disable=SC2154  # m fp: set by zdd's quoted prologue
nl='
'
# shellcheck disable=SC2046  # uname's words, split on purpose
set -- $(uname -snrm)
echo "${m}system=$1"; echo "${m}nodename=$2"; echo "${m}hostname=$2"; echo "${m}kernel=$3"; echo "${m}machine=$4"
if [ -r /proc/sys/kernel/version ]; then read -r v </proc/sys/kernel/version; else v=$(uname -v); fi
echo "${m}kernel_version=$v"
echo "${m}fqdn=$(hostname -f 2>/dev/null || uname -n)"
echo "${m}user_id=$(id -un 2>/dev/null)"
if [ -r /etc/os-release ]; then
  # shellcheck source=/dev/null
  (. /etc/os-release; echo "${m}os_id=${ID-}"; echo "${m}os_id_like=${ID_LIKE-}"; echo "${m}os_version=${VERSION_ID-}"
   echo "${m}os_name=${NAME-}"; echo "${m}os_codename=${VERSION_CODENAME-}")
fi
[ -r /etc/debian_version ] && read -r v </etc/debian_version && echo "${m}debian_version=$v"
[ -r /etc/redhat-release ] && read -r v </etc/redhat-release && echo "${m}redhat_release=$v"
if command -v ip >/dev/null 2>&1; then
  r=$(ip -4 route show default 2>/dev/null)
  # shellcheck disable=SC2086  # the default route's first line, split into words
  set -- ${r%%"$nl"*}
  while [ $# -gt 1 ]; do
    case $1 in via) echo "${m}gateway=$2" ;; dev) echo "${m}interface=$2" ;; esac
    shift
  done
  ip -4 -o addr show 2>/dev/null | while read -r _ dev _ addr _; do echo "${m}addr=$dev $addr"; done
elif [ -r /proc/net/route ]; then
  while read -r dev dst _; do
    [ "$dst" = 00000000 ] && { echo "${m}interface=$dev"; break; }
  done </proc/net/route
fi
for p in apt-get:apt dnf:dnf yum:yum apk:apk zypper:zypper pacman:pacman; do
  if command -v "${p%%:*}" >/dev/null 2>&1; then echo "${m}pkg_mgr=${p#*:}"; break; fi
done
if [ -d /run/systemd/system ]; then echo "${m}service_mgr=systemd"
else
  v=; [ -r /proc/1/comm ] && read -r v </proc/1/comm
  echo "${m}proc_1=$v"
  command -v openrc >/dev/null 2>&1 && echo "${m}openrc=1"
fi
echo "${m}vcpus=$(nproc 2>/dev/null || grep -c ^processor /proc/cpuinfo)"
while read -r k v _; do
  [ "$k" = MemTotal: ] && { echo "${m}memtotal_kb=$v"; break; }
done </proc/meminfo
echo "${m}date=$(date '+%s %Y %m %d %H %M %S %N %Z %z %A %w %W')"
# Local facts (Ansible's facts.d): each *.fact file of $fp, run when it is executable, read
# otherwise. Names and texts travel base64, so every byte arrives as it is; the controller
# parses them (JSON, else INI) as Ansible does.
if [ -d "$fp" ]; then
  for f in "$fp"/*.fact; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    p=$(printf %s "$f" | base64 -w0)
    if [ -x "$f" ] && [ -f "$f" ]; then
      t=$(mktemp -d) || continue
      if "$f" >"$t/out" 2>"$t/err" </dev/null; then rc=0; else rc=$?; fi
      echo "${m}local_exec=$p $rc $(base64 -w0 <"$t/out") $(base64 -w0 <"$t/err")"
      rm -rf "$t"
    elif [ -r "$f" ] && [ -f "$f" ]; then
      echo "${m}local_file=$p $(base64 -w0 <"$f")"
    else
      echo "${m}local_file=$p"
    fi
  done
fi
