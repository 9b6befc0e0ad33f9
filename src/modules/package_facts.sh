# `package_facts`: the installed packages of each manager asked for, one mark line each:
# apt (dpkg-query; the origin of the installed version from `apt-cache policy`) and rpm.
# shellcheck shell=sh disable=SC2154  # m managers strategy: set by zdd's quoted prologue
# The sbin directories, which a login user's PATH may lack (as Ansible's get_bin_path adds them).
PATH=$PATH:/sbin:/usr/sbin:/usr/local/sbin
found=0
for mgr in $managers; do
  [ "$strategy" = first ] && [ "$found" = 1 ] && break
  case $mgr in
  apt)
    command -v dpkg-query >/dev/null 2>&1 || continue
    native=$(dpkg --print-architecture 2>/dev/null)
    list=$(dpkg-query -W -f='${db:Status-Status}\t${Package}\t${Version}\t${Architecture}\t${Section}\n' 2>/dev/null |
      awk -F '\t' -v native="$native" '
        $1 ~ /^(installed|half-configured|unpacked|half-installed|triggers-awaited|triggers-pending)$/ && $3 != "" {
          name = $2
          if ($4 != native && $4 != "all") name = name ":" $4
          print name "\t" $3 "\t" $4 "\t" $5
        }')
    [ -n "$list" ] || { echo "${m}warning=Found \"apt\" but no associated packages"; continue; }
    found=1
    # The origin (a Release file's `Origin`) of the first source that has the installed
    # version; none (the dpkg status file only) is "".
    origins=
    if command -v apt-cache >/dev/null 2>&1; then
      # shellcheck disable=SC2046  # one argument per package, on purpose
      origins=$({ apt-cache policy; echo "@@packages"; apt-cache policy $(printf '%s\n' "$list" | cut -f1); } 2>/dev/null |
        awk '
          $0 == "@@packages" { pkgs = 1; next }
          !pkgs {
            if ($0 ~ /^ *-?[0-9]+ /) { src = $0; sub(/^ *-?[0-9]+ /, "", src); next }
            if ($0 ~ /^ +release / && src != "") {
              o = ""
              n = split($2, kv, ",")
              for (i = 1; i <= n; i++) if (kv[i] ~ /^o=/) o = substr(kv[i], 3)
              origin[src] = o
            }
            next
          }
          /^[^ ].*:$/ { pkg = substr($0, 1, length($0) - 1); inst = 0; next }
          /^ \*\*\* / { inst = 1; next }
          /^     [^ ]/ { inst = 0; next }
          inst && /^        / {
            s = $0; sub(/^ *-?[0-9]+ /, "", s)
            if (s != "/var/lib/dpkg/status" && !(pkg in done)) { done[pkg] = 1; print pkg "\t" origin[s] }
          }')
    fi
    t=$(mktemp) || exit 1
    printf '%s\n' "$origins" > "$t"
    printf '%s\n' "$list" | awk -F '\t' -v m="$m" -v t="$t" '
      FILENAME == t { if ($1 != "") o[$1] = $2; next }
      { print m "apt=" $0 "\t" o[$1] }' "$t" -
    rm -f "$t"
    ;;
  rpm)
    command -v rpm >/dev/null 2>&1 || continue
    list=$(rpm -qa --qf '%{NAME}\t%{VERSION}\t%{RELEASE}\t%{EPOCH}\t%{ARCH}\n' 2>/dev/null)
    [ -n "$list" ] || { echo "${m}warning=Found \"rpm\" but no associated packages"; continue; }
    found=1
    printf '%s\n' "$list" | awk -v m="$m" '{ print m "rpm=" $0 }'
    ;;
  esac
done
echo "${m}found=$found"
