# `package`: install or remove packages with apt-get, dnf or yum; what is installed is
# checked first (dpkg-query, rpm) and left alone.
# shellcheck shell=sh disable=SC2154,SC2086  # m names state mgr check update apt_opts enablerepo disablerepo nogpgcheck: set by zdd's quoted prologue; SC2086: see set -f
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
# Names come one a line; nothing below is globbed, and names hold no blanks (zdd checks),
# so the lists of names ($names, $new, $upgrade, $gone) and $apt_opts are split on purpose.
set -f
nl='
'
IFS=$nl
set -- $names
unset IFS
fail() { echo "$*" >&2; exit 1; }
if [ -z "$mgr" ] || [ "$mgr" = auto ]; then
  if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then mgr=apt
  elif command -v dnf >/dev/null 2>&1; then mgr=dnf
  elif command -v yum >/dev/null 2>&1; then mgr=yum
  else fail "no supported package manager on this host (looked for apt-get, dnf, yum)"; fi
fi
echo "${m}pkg_mgr=$mgr"
# dnf/yum with the task's repository options first, then the arguments given.
pm() {
  n=$#
  IFS=$nl
  for r in $enablerepo; do set -- "$@" "--enablerepo=$r"; done
  for r in $disablerepo; do set -- "$@" "--disablerepo=$r"; done
  unset IFS
  [ "$nogpgcheck" = 1 ] && set -- "$@" --nogpgcheck
  while [ "$n" -gt 0 ]; do set -- "$@" "$1"; shift; n=$((n - 1)); done
  "$mgr" "$@"
}
installed() {
  if [ "$mgr" = apt ]; then dpkg-query -W -f='${Status}\n' "${1%%=*}" 2>/dev/null | grep -q ' installed$'
  else rpm -q --quiet --whatprovides "$1" 2>/dev/null; fi
}
upgradable() {
  if [ "$mgr" = apt ]; then apt-get -s -q install "$1" 2>/dev/null | grep -q '^Inst '
  else pm -q check-update "$1" >/dev/null 2>&1; [ $? = 100 ]; fi
}
if [ "$update" = 1 ] && [ "$check" = 0 ]; then
  if [ "$mgr" = apt ]; then apt-get update -q >&2 || fail "apt-get update failed"
  else pm -q makecache >&2 || fail "$mgr makecache failed"; fi
fi
new=; upgrade=; gone=
for p in "$@"; do
  case $state in
  present) installed "$p" || new="$new $p" ;;
  latest) if ! installed "$p"; then new="$new $p"; elif upgradable "$p"; then upgrade="$upgrade $p"; fi ;;
  absent) ! installed "$p" || gone="$gone $p" ;;
  esac
done
echo "${m}install=${new# }"
echo "${m}upgrade=${upgrade# }"
echo "${m}remove=${gone# }"
[ -z "$new$upgrade$gone" ] && { echo "${m}changed=0"; exit 0; }
echo "${m}changed=1"
[ "$check" = 1 ] && exit 0
apt() { apt-get -y -q -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"; }
rc=0
if [ -n "$new$upgrade" ]; then
  case $mgr in
  apt) apt install $apt_opts $new $upgrade || rc=$? ;;
  *) if [ -n "$new" ]; then pm -y install $new || rc=$?; fi
     if [ -n "$upgrade" ]; then pm -y upgrade $upgrade || rc=$?; fi ;;
  esac
  missing=
  for p in $new; do installed "$p" || missing="$missing $p"; done
  echo "${m}missing=${missing# }"
  [ -n "$missing" ] && [ $rc = 0 ] && rc=1
fi
if [ -n "$gone" ]; then
  case $mgr in
  apt) apt remove $gone || rc=$? ;;
  *) "$mgr" -y remove $gone || rc=$? ;;
  esac
fi
exit $rc
