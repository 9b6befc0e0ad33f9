# `yum_repository`: write the repo file zdd worked out (an empty one is removed), then
# give it `mode`/`owner`/`group`; reports `attrs=1` when those had to change.
# shellcheck shell=sh disable=SC2154  # m dest content write mode owner group check: set by zdd's quoted prologue
if [ "$write" = 1 ] && [ "$check" = 0 ]; then
  if [ -z "$content" ]; then
    rm -f "$dest" || exit 1
  else
    printf '%s' "$content" > "$dest" || exit 1
  fi
fi
attrs=0
if [ -e "$dest" ] || { [ "$check" = 1 ] && [ -n "$content" ]; }; then
  if [ -n "$mode" ] && [ -e "$dest" ]; then
    case $mode in
    [0-7]*) [ "$(stat -c %a "$dest")" = "$(printf %o "0$mode")" ] || { attrs=1; [ "$check" = 1 ] || chmod "$mode" "$dest" || exit 1; } ;;
    *) before=$(stat -c %a "$dest"); [ "$check" = 1 ] || chmod "$mode" "$dest" || exit 1; [ "$before" = "$(stat -c %a "$dest")" ] || attrs=1 ;;
    esac
  fi
  if [ -n "$owner" ] && [ -e "$dest" ]; then
    want=$(id -u "$owner" 2>/dev/null) || { echo "chown failed: failed to look up user $owner" >&2; exit 1; }
    [ "$(stat -c %u "$dest")" = "$want" ] || { attrs=1; [ "$check" = 1 ] || chown "$owner" "$dest" || exit 1; }
  fi
  if [ -n "$group" ] && [ -e "$dest" ]; then
    want=$(getent group "$group" | cut -d: -f3)
    case $group in *[!0-9]*) ;; *) want=$group ;; esac
    [ -n "$want" ] || { echo "chgrp failed: failed to look up group $group" >&2; exit 1; }
    [ "$(stat -c %g "$dest")" = "$want" ] || { attrs=1; [ "$check" = 1 ] || chgrp "$group" "$dest" || exit 1; }
  fi
fi
echo "${m}attrs=$attrs"
