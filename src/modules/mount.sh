# `mount` (ansible.posix): the mount point's state and the commands that change it, one
# action a run: probe (is $path a mount point, from which source), mkdir, mount, umount,
# remount (falls back to umount + mount, as Ansible), rmdir. $fstab: -T FILE for a
# non-default fstab; $eph: "-t TYPE [-o OPTS] SRC" for state ephemeral.
# shellcheck shell=sh disable=SC2154  # m action path fstab eph opts_remount: set by zdd's quoted prologue
export LANG=C LC_ALL=C
run() { if ! out=$("$@" 2>&1); then printf '%s' "$out" >&2; exit 1; fi; }
tab() { if [ -n "$fstab" ] && [ "$fstab" != /etc/fstab ]; then set -- -T "$fstab"; fi; printf '%s\n' "$@"; }
case $action in
  probe)
    if mountpoint -q -- "$path" 2>/dev/null; then
      echo "${m}mounted=1"; echo "${m}source=$(findmnt -n -o SOURCE --target "$path" 2>/dev/null)"
    fi
    [ -e "$path" ] && echo "${m}exists=1"
    exit 0 ;;
  mkdir) run mkdir -p -- "$path" ;;
  rmdir) [ -e "$path" ] && run rmdir -- "$path" ;;
  umount) run umount "$path" ;;
  mount)
    # shellcheck disable=SC2046,SC2086  # word lists built by zdd: no spaces inside them
    run mount $(tab) $eph "$path" ;;
  remount)
    # shellcheck disable=SC2046,SC2086
    if ! mount -o "$opts_remount" $(tab) $eph "$path" >/dev/null 2>&1; then
      [ "$strict" = 1 ] && { echo 'Options were specified with remounted, but the remount command failed. Failing in order to prevent an unexpected mount result. Try replacing this command with a "state: unmounted" followed by a "state: mounted" using the full desired mount options instead.' >&2; exit 2; }
      run umount "$path"
      # shellcheck disable=SC2046,SC2086
      run mount $(tab) $eph "$path"
    fi ;;
esac
exit 0
