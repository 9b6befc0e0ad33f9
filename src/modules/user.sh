# `user`: add, change or delete the user $name with useradd/usermod/userdel, as Ansible's
# `user` module does on Linux. Only those three commands write to stdout/stderr (they are
# the result's stdout/stderr); everything else is read into variables or reported as marks.
# A password hash arrives on stdin (never in a command's arguments) and goes to chpasswd -e.
# shellcheck shell=sh disable=SC2154  # arguments: set by zdd's quoted prologue
fail() { echo "$*" >&2; exit 1; }
mark() { echo "${m}$1=$2"; }
password=
if [ "$has_password" = 1 ]; then IFS= read -r password || :; fi
if [ "$local" = 1 ]; then
  for tool in luseradd lusermod luserdel; do
    command -v $tool >/dev/null 2>&1 || fail "Failed to find required executable \"$tool\" in paths: $PATH"
  done
  fail "zdd does not run luseradd/lusermod (local: true); leave local unset on this host"
fi
pw() { getent passwd "$name"; }
exists() { pw >/dev/null 2>&1; }
field() { pw | cut -d: -f"$1"; }
shadow() { getent shadow "$name" 2>/dev/null | cut -d: -f"$1"; }
# A group by gid or name -> its line in the group database.
group_line() { getent group "$1"; }
group_exists() { group_line "$1" >/dev/null 2>&1; }
# Groups that list $name as a member.
member_of() {
  getent group | awk -F: -v u="$name" '{ n = split($4, a, ","); for (i = 1; i <= n; i++) if (a[i] == u) { print $1; break } }' | sort -u
}
early() { mark early 1; exit 0; }

if [ "$state" = absent ]; then
  if exists; then
    [ "$check" = 1 ] && { mark ran 1; early; }
    set -- userdel
    [ "$force" = 1 ] && set -- "$@" -f
    [ "$remove" = 1 ] && set -- "$@" -r
    mark ran 1
    "$@" "$name" || exit
  fi
  exit 0
fi

new_pw=
if [ "$has_password" = 1 ]; then
  if [ "$password_lock" = 1 ]; then new_pw="!$password"; else new_pw=$password; fi
fi
set_password() { printf '%s:%s\n' "$name" "$1" | chpasswd -e >&2 || fail "chpasswd -e failed for $name"; }

if ! exists; then
  [ "$check" = 1 ] && { mark ran 1; early; }
  set -- useradd
  [ -n "$uid" ] && { set -- "$@" -u "$uid"; [ "$non_unique" = 1 ] && set -- "$@" -o; }
  [ -n "$seuser" ] && set -- "$@" -Z "$seuser"
  if [ -n "$group" ]; then
    group_exists "$group" || fail "Group $group does not exist"
    set -- "$@" -g "$group"
  elif group_exists "$name"; then
    set -- "$@" -N
  fi
  if [ -n "$groups" ]; then
    old_ifs=$IFS; IFS=,
    for g in $groups; do group_exists "$g" || fail "Group $g does not exist"; done
    IFS=$old_ifs
    set -- "$@" -G "$groups"
  fi
  [ "$comment_set" = 1 ] && set -- "$@" -c "$comment"
  if [ -n "$home" ]; then
    [ "$create_home" = 1 ] && [ ! -d "${home%/*}" ] && { mkdir -p "${home%/*}" || exit; }
    set -- "$@" -d "$home"
  fi
  [ -n "$shell" ] && set -- "$@" -s "$shell"
  case $expires in '') ;; neg) set -- "$@" -e '' ;; *) set -- "$@" -e "$(date -u -d "@$expires" +%Y-%m-%d)" ;; esac
  [ -n "$inactive" ] && set -- "$@" -f "$inactive"
  if [ "$create_home" = 1 ]; then
    set -- "$@" -m
    [ -n "$skeleton" ] && set -- "$@" -k "$skeleton"
    [ -n "$umask" ] && set -- "$@" -K "UMASK=$umask"
  else
    set -- "$@" -M
  fi
  [ "$system" = 1 ] && set -- "$@" -r
  [ -n "$uid_min" ] && set -- "$@" -K "UID_MIN=$uid_min"
  [ -n "$uid_max" ] && set -- "$@" -K "UID_MAX=$uid_max"
  mark ran 1
  mark created 1
  "$@" "$name" || exit
  [ "$has_password" = 1 ] && set_password "$new_pw"
else
  set -- usermod
  if [ -n "$uid" ] && [ "$(field 3)" != "$uid" ]; then
    set -- "$@" -u "$uid"
    [ "$non_unique" = 1 ] && set -- "$@" -o
  fi
  if [ -n "$group" ]; then
    line=$(group_line "$group") || fail "Group $group does not exist"
    gid=$(echo "$line" | cut -d: -f3)
    [ "$(field 4)" != "$gid" ] && set -- "$@" -g "$gid"
  fi
  if [ "$groups_set" = 1 ]; then
    current=$(member_of)
    if [ -z "$groups" ]; then
      [ -n "$current" ] && [ "$append" != 1 ] && set -- "$@" -G ''
    else
      wanted=
      old_ifs=$IFS; IFS=,
      for g in $groups; do
        line=$(group_line "$g") || { IFS=$old_ifs; fail "Group $g does not exist"; }
        wanted="$wanted${line%%:*}
"
      done
      IFS=$old_ifs
      wanted=$(printf '%s' "$wanted" | sort -u)
      # Wanted groups the user is not in yet; groups the user is in but not wanted.
      missing=$(printf '%s\n' "$wanted" | grep -vxF -e "$current" | grep -v '^$' || :)
      [ -z "$current" ] && missing=$wanted
      extra=$(printf '%s\n' "$current" | grep -vxF -e "$wanted" | grep -v '^$' || :)
      if [ "$append" = 1 ]; then
        [ -n "$missing" ] && set -- "$@" -a -G "$(printf '%s' "$wanted" | paste -sd, -)"
      elif [ -n "$missing" ] || [ -n "$extra" ]; then
        set -- "$@" -G "$(printf '%s' "$wanted" | paste -sd, -)"
      fi
    fi
  fi
  [ "$comment_set" = 1 ] && [ "$(field 5)" != "$comment" ] && set -- "$@" -c "$comment"
  if [ -n "$home" ] && [ "$(field 6)" != "$home" ]; then
    set -- "$@" -d "$home"
    [ "$move_home" = 1 ] && set -- "$@" -m
  fi
  [ -n "$shell" ] && [ "$(field 7)" != "$shell" ] && set -- "$@" -s "$shell"
  if [ -n "$expires" ]; then
    now=$(shadow 8); [ -z "$now" ] && now=-1
    if [ "$expires" = neg ]; then
      [ "$now" -ge 0 ] && set -- "$@" -e ''
    elif [ "$now" -lt 0 ] || [ "$now" != "$((expires / 86400))" ]; then
      set -- "$@" -e "$(date -u -d "@$expires" +%Y-%m-%d)"
    fi
  fi
  [ -n "$inactive" ] && set -- "$@" -f "$inactive"
  hash=$(shadow 2)
  lock=
  case $hash in
  '!'*) [ "$password_lock" = 0 ] && lock=-U ;;
  *) [ "$password_lock" = 1 ] && lock=-L ;;
  esac
  pw_change=0
  if [ "$update_password" = always ] && [ "$has_password" = 1 ] && [ "${hash#!}" != "${password#!}" ]; then
    pw_change=1
    lock=
  fi
  [ -n "$lock" ] && set -- "$@" "$lock"
  if [ $# -gt 1 ] || [ $pw_change = 1 ]; then
    mark ran 1
    if [ "$check" != 1 ]; then
      if [ $# -gt 1 ]; then "$@" "$name" || exit; fi
      [ $pw_change = 1 ] && set_password "$new_pw"
    fi
  fi
fi

# The user exists now (or would, in check mode): what it is, its home, its key, its ageing.
if exists; then
  mark uid "$(field 3)"
  mark group "$(field 4)"
  mark comment "$(field 5)"
  mark home "$(field 6)"
  mark shell "$(field 7)"
  uid_now=$(field 3); gid_now=$(field 4)
  [ -z "$home" ] && home=$(field 6)
  if [ ! -e "$home" ] && [ "$create_home" = 1 ]; then
    mark home_made 1
    if [ "$check" != 1 ]; then
      skel=${skeleton:-/etc/skel}
      mkdir -p "${home%/*}" || exit
      if [ -e "$skel" ] && [ "$skel" != /dev/null ]; then cp -RP "$skel" "$home" || exit; else mkdir -p "$home" || exit; fi
      mode=755
      if [ -r /etc/login.defs ]; then
        um=$(sed -n 's/^UMASK[[:space:]]\{1,\}\([0-9]\{1,\}\)$/\1/p' /etc/login.defs | tail -n 1)
        [ -n "$um" ] && mode=$(printf '%o' $((0777 & ~0$um)))
        hm=$(sed -n 's/^HOME_MODE[[:space:]]\{1,\}\([0-9]\{1,\}\)$/\1/p' /etc/login.defs | head -n 1)
        [ -n "$hm" ] && mode=$hm
      fi
      chmod "$mode" "$home" && chown -R "$uid_now:$gid_now" "$home" || exit
    fi
  fi
  if [ "$gen_key" = 1 ]; then
    [ "$key_comment_set" = 1 ] || key_comment="ansible-generated on $(hostname)"
    case $key_file in /*) kf=$key_file ;; *) kf=$home/$key_file ;; esac
    mark ssh_key_file "$kf"
    dir=${kf%/*}
    if [ ! -e "$dir" ] && [ "$check" = 1 ]; then
      mark key_made 1
    else
      [ -e "$dir" ] || { mkdir -m 0700 "$dir" && chown "$uid_now:$gid_now" "$dir"; } || fail "Failed to create $dir"
      if [ -e "$kf" ] && [ "$force" != 1 ]; then :
      elif [ -e "$kf.pub" ] && [ "$force" != 1 ]; then :
      else
        mark key_made 1
        if [ "$check" != 1 ]; then
          rm -f "$kf.pub"
          set -- ssh-keygen -t "$key_type"
          [ "$key_bits" -gt 0 ] && set -- "$@" -b "$key_bits"
          out=$(echo y | "$@" -C "$key_comment" -f "$kf" -N '' 2>&1) || fail "$out"
          chown "$uid_now:$gid_now" "$kf" "$kf.pub"
        fi
      fi
      if [ -e "$kf" ]; then
        mark ssh_fingerprint "$(ssh-keygen -l -f "$kf" 2>/dev/null)"
      else
        mark ssh_fingerprint ""
      fi
      [ -r "$kf.pub" ] && mark ssh_public_key "$(cat "$kf.pub")"
    fi
  fi
  # Password ageing: an empty shadow field reads as -1, as Python's spwd reads it.
  aging() { v=$(shadow "$1"); echo "${v:--1}"; }
  set -- chage
  [ -n "$expire_min" ] && [ "$(aging 4)" != "$expire_min" ] && set -- "$@" -m "$expire_min"
  [ -n "$expire_max" ] && [ "$(aging 5)" != "$expire_max" ] && set -- "$@" -M "$expire_max"
  [ -n "$expire_warn" ] && [ "$(aging 6)" != "$expire_warn" ] && set -- "$@" -W "$expire_warn"
  if [ $# -gt 1 ]; then
    mark aged 1
    if [ "$check" != 1 ]; then err=$("$@" "$name" 2>&1 >/dev/null) || fail "$err"; fi
  fi
fi
exit 0
