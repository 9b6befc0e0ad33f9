# `systemd_service`: daemon-reload/-reexec, mask, enable and start/stop a unit with
# systemctl, in the order and with the checks and messages of Ansible's module.
# shellcheck shell=sh disable=SC2154  # m unit state enabled masked daemon_reload daemon_reexec scope no_block force check: set by zdd's quoted prologue
# The sbin directories, which a login user's PATH may lack (as Ansible's get_bin_path adds them).
PATH=$PATH:/sbin:/usr/sbin:/usr/local/sbin
t=$(mktemp) || exit 1
trap 'rm -f "$t"' EXIT
# A failure: its message is all of stderr.
fail() { printf '%s' "$*" >&2; exit 3; }
sc=$(command -v systemctl) || fail "Failed to find required executable \"systemctl\" in paths: $PATH"
[ "$scope" = system ] || sc="$sc --$scope"
[ "$no_block" = 1 ] && sc="$sc --no-block"
[ "$force" = 1 ] && sc="$sc --force"
: "${XDG_RUNTIME_DIR:=/run/user/$(id -u)}"
export XDG_RUNTIME_DIR
changed=0
# run CMD...: its stdout in $out, stderr in $err, status in $rc.
run() { out=$("$@" 2>"$t"); rc=$?; err=$(cat "$t"); }
chroot_or_offline() {
  [ "${SYSTEMD_OFFLINE:-}" = 1 ] && return 0
  [ -n "${debian_chroot:-}" ] && return 0
  if pid1=$(stat -c %d:%i /proc/1/root/. 2>/dev/null); then
    [ "$(stat -c %d:%i /)" != "$pid1" ]
  else
    root_ino=2
    case $(stat -f -c %T / 2>/dev/null) in btrfs) root_ino=256 ;; xfs) root_ino=128 ;; esac
    [ "$(stat -c %i /)" != "$root_ino" ]
  fi
}
for what in reload reexec; do
  eval "wanted=\$daemon_$what"
  if [ "$wanted" != 1 ] || [ "$check" = 1 ]; then continue; fi
  # shellcheck disable=SC2086  # $sc: systemctl and its options
  run $sc "daemon-$what"
  if [ "$rc" != 0 ]; then
    if chroot_or_offline; then
      echo "${m}warning=daemon-$what failed, but target is a chroot or systemd is offline. Continuing. Error was: $rc / $err"
    else
      fail "failure $rc during daemon-$what: $err
"
    fi
  fi
done
[ -n "$unit" ] || { echo "${m}changed=0"; exit 0; }
ignored() { case $1 in *=*) return 1 ;; *"ignoring request"* | *"ignoring command"*) return 0 ;; esac; return 1; }
field() { printf '%s\n' "$show" | sed -n "s/^$1=//p" | head -n 1; }
is_initd=0
case $unit in /*) initd=$unit ;; *) initd=/etc/init.d/$unit ;; esac
[ -e "$initd" ] && is_initd=1
is_systemd=0 show='' active=''
# shellcheck disable=SC2086
run $sc show "$unit"
if [ "$rc" = 0 ] && ! ignored "$out" && ! ignored "$err"; then
  if [ -n "$out" ]; then
    show=$out
    load=$(field LoadState)
    if [ -n "$load" ] && [ "$load" != not-found ]; then
      is_systemd=1
      loaderr=$(field LoadError)
      if [ "$load" != masked ] && printf '%s\n' "$show" | grep -q '^LoadError='; then
        fail "Error loading unit file '$unit': $loaderr"
      fi
    fi
    printf '%s\n' "$show" | grep -q '^ActiveState=' && active=$(field ActiveState) && have_active=1
  fi
elif [ -n "$err" ] && [ "$rc" = 1 ] && case $err in *"Failed to parse bus message"*) true ;; *) false ;; esac; then
  show=$out
  search="${unit%%@*}"
  case $unit in *@*) search="$search@" ;; esac
  # shellcheck disable=SC2086
  run $sc list-unit-files "$search*"
  case $out in *"$search"*) is_systemd=1 ;; esac
  # shellcheck disable=SC2086
  run $sc is-active "$unit"
  active=$out have_active=1
  echo "${m}active=$active"
else
  # shellcheck disable=SC2086
  run $sc is-enabled "$unit"
  case $(printf '%s' "$out" | tr -d '[:space:]') in
  enabled | enabled-runtime | linked | linked-runtime | masked | masked-runtime | static | indirect | disabled | generated | transient) is_systemd=1 ;;
  *)
    # shellcheck disable=SC2086
    if $sc list-unit-files "$unit" >/dev/null 2>&1; then is_systemd=1
    else
      # shellcheck disable=SC2086
      run $sc
      if [ "$rc" != 0 ]; then
        echo "${m}failcmd=$sc"
        echo "${m}failrc=$rc"
        printf '%s' "$out"
        printf '%s' "$err" >&2
        exit 4
      fi
    fi ;;
  esac
fi
[ -n "$show" ] && printf '%s\n' "$show" | awk -v m="$m" '{ print m "show=" $0 }'
found=0
[ "$is_systemd" = 1 ] || [ "$is_initd" = 1 ] && found=1
[ "$is_initd" = 1 ] && [ "$is_systemd" = 0 ] &&
  echo "${m}warning=The service ($unit) is actually an init script but the system is managed by systemd"
missing() { [ "$found" = 1 ] || fail "Could not find the requested service $unit: host"; }
if [ -n "$masked" ]; then
  # shellcheck disable=SC2086
  run $sc is-enabled "$unit"
  now=0
  [ "$(printf '%s' "$out" | tr -d '[:space:]')" = masked ] && now=1
  if [ "$now" != "$masked" ]; then
    changed=1
    if [ "$masked" = 1 ]; then action=mask; else action=unmask; fi
    if [ "$check" = 0 ]; then
      # shellcheck disable=SC2086
      run $sc "$action" "$unit"
      [ "$rc" = 0 ] || { missing; fail "Failed to $action the service ($unit): $(printf '%s' "$err" | sed -e 's/^[[:space:]]*//')"; }
    fi
  fi
fi
if [ -n "$enabled" ]; then
  if [ "$enabled" = 1 ]; then action=enable; else action=disable; fi
  missing
  # shellcheck disable=SC2086
  run $sc is-enabled "$unit" -l
  now=0
  if [ "$rc" = 0 ]; then
    case $out in enabled-runtime | indirect | alias) now=0 ;; *) now=1 ;; esac
  elif [ "$rc" = 1 ] && [ "$scope" = system ] && [ "$is_initd" = 1 ]; then
    case $out in *disabled) ;; *)
      if [ -d /etc/rc0.d ]; then rc_glob="/etc/rc?.d/S??${unit##*/}"; else rc_glob="/etc/init.d/rc?.d/S??${unit##*/}"; fi
      # shellcheck disable=SC2086  # a glob, on purpose
      for f in $rc_glob; do [ -e "$f" ] && now=1 && break; done ;;
    esac
  fi
  if [ "$now" != "$enabled" ]; then
    changed=1
    if [ "$check" = 0 ]; then
      # shellcheck disable=SC2086
      run $sc "$action" "$unit"
      [ "$rc" = 0 ] || fail "Unable to $action service $unit: $out$err"
    fi
    now=$enabled
  fi
  echo "${m}enabled=$now"
fi
if [ -n "$state" ]; then
  missing
  result_state=$state
  if [ "${have_active:-0}" = 1 ]; then
    action=
    case $active in active | activating) running=1 ;; *) running=0 ;; esac
    case $state in
    started) [ "$running" = 1 ] || action=start ;;
    stopped) { [ "$running" = 1 ] || [ "$active" = deactivating ]; } && action=stop ;;
    *) if [ "$running" = 1 ]; then action=${state%ed}; else action=start; fi; result_state=started ;;
    esac
    if [ -n "$action" ]; then
      changed=1
      if [ "$check" = 0 ]; then
        # shellcheck disable=SC2086
        run $sc "$action" "$unit"
        [ "$rc" = 0 ] || fail "Unable to $action service $unit: $err"
      fi
    fi
  elif chroot_or_offline; then
    echo "${m}warning=Target is a chroot or systemd is offline. This can lead to false positives or prevent the init system tools from working."
  else
    echo "${m}unknown=1"
    fail "Service is in unknown state"
  fi
  echo "${m}state=$result_state"
fi
echo "${m}changed=$changed"
