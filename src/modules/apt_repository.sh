# `apt_repository`: write the source files zdd worked out (apply), then `apt-get update`;
# should the update fail, the files are put back as they were (revert).
# shellcheck shell=sh disable=SC2154  # m update retries max_delay: set by zdd's quoted prologue
# put_file PATH CONTENT MODE: CONTENT replaces the file (through a symlink, as Ansible
# writes its target), keeping an existing file's mode and owner; empty CONTENT deletes it.
put_file() {
  p=$1
  [ -L "$p" ] && p=$(readlink -f "$p")
  if [ -z "$2" ]; then rm -f "$p" || exit 1; return 0; fi
  d=${p%/*}
  mkdir -p "$d" || exit 1
  t=$(mktemp "$d/.${p##*/}-XXXXXX") || exit 1
  printf '%s' "$2" > "$t" || { rm -f "$t"; exit 1; }
  if [ -e "$p" ]; then
    chmod "$(stat -c %a "$p")" "$t" && chown "$(stat -c %u:%g "$p")" "$t"
  else
    chmod "$(printf %o $(( 0666 & ~0$(umask) )))" "$t"
  fi
  mv -f "$t" "$p" || exit 1
  if [ -n "$3" ]; then chmod "$3" "$p" || exit 1; fi
}
apply
if [ "$update" = 1 ]; then
  i=0 delay=1
  until err=$(apt-get update -q 2>&1 >/dev/null); do
    i=$((i + 1))
    if [ "$i" -ge "$retries" ]; then
      revert
      echo "Failed to update apt cache after $retries retries: ${err:-unknown reason}" | tr '\n' ' ' >&2
      echo >&2
      exit 1
    fi
    [ "$delay" -gt "$max_delay" ] && delay=$max_delay
    sleep "$delay"
    delay=$((delay * 2))
  done
fi
echo "${m}done=1"
