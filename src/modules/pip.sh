# `pip`: create the virtualenv if it has no bin/activate, find pip, then either report
# what check mode would do (`pip list --format=freeze`) or run pip.
# shellcheck shell=sh disable=SC2154  # m env venv_cmd venv_python site_packages executable chdir umask check args pkgs: set by zdd's quoted prologue
PATH=$PATH:/sbin:/usr/sbin:/usr/local/sbin
[ -n "$umask" ] && umask "$umask"
cd "${chdir:-${TMPDIR:-/tmp}}" || exit 1
nl='
'
created=0
if [ -n "$env" ] && [ ! -e "$env/bin/activate" ]; then
  [ "$check" = 1 ] && { echo "${m}venv_check=1"; exit 0; }
  old_ifs=$IFS; IFS=$nl
  # shellcheck disable=SC2086  # one word per line
  set -- $venv_cmd
  IFS=$old_ifs
  case "$*" in *pyvenv* | *"-m venv"*) ;; *)
    if [ -n "$venv_python" ]; then set -- "$@" "-p$venv_python"; else set -- "$@" "-p$(command -v python3)"; fi ;;
  esac
  [ "$site_packages" = 1 ] && set -- "$@" --system-site-packages
  out=$("$@" "$env" 2>/tmp/.zdd-pip-err.$$); rc=$?
  err=$(cat /tmp/.zdd-pip-err.$$); rm -f /tmp/.zdd-pip-err.$$
  printf '%s\n' "$out"
  [ "$rc" = 0 ] || { echo "${m}cmd=$* $env"; printf '%s\n' "$err" >&2; exit 3; }
  created=1
fi
echo "${m}created=$created"
if [ -n "$env" ]; then
  if [ -x "$env/bin/pip3" ]; then pip=$env/bin/pip3
  elif [ -x "$env/bin/pip" ]; then pip=$env/bin/pip
  else echo "Unable to find pip in the virtualenv, $env, under any of these names: pip3, pip. Make sure pip is present in the virtualenv." >&2; exit 2; fi
elif [ -n "$executable" ]; then
  case $executable in /*) pip=$executable ;; *) pip=$(command -v "$executable") || { echo "Unable to find any of $executable to use.  pip needs to be installed." >&2; exit 2; } ;; esac
elif python3 -c 'import pip' >/dev/null 2>&1; then pip="$(command -v python3)${nl}-m${nl}pip"
else pip=$(command -v pip3) || { echo "Unable to find any of pip3 to use.  pip needs to be installed." >&2; exit 2; }
fi
old_ifs=$IFS; IFS=$nl
# shellcheck disable=SC2086  # one word per line
if [ "$check" = 1 ]; then set -- $pip list --format=freeze; else set -- $pip $args; fi
IFS=$old_ifs
for a in "$@"; do echo "${m}argv=$a"; done
if [ "$check" = 1 ]; then
  LANG=C LC_ALL=C "$@" 2>/dev/null | awk -v m="$m" '{ print m "frozen=" $0 }'
  exit 0
fi
[ -n "$env" ] && PATH=$env/bin:$PATH
"$@"
