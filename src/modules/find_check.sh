# `find`, second pass (only with `contains` or `get_checksum`): for each candidate file
# (the positional parameters, set by zdd), whether a line matches `contains` (grep -P,
# Perl's regexes being Python's nearest; anchored at the line's start as Python's
# re.match, or searched in the whole file with `read_whole_file`), and its checksum.
# shellcheck shell=sh disable=SC2154  # m contains whole algo: set by zdd's quoted prologue
i=0
for f; do
  i=$((i + 1))
  if [ -n "$contains" ]; then
    if [ "$whole" = 1 ]; then
      grep -qszP -- "$contains" "$f" || continue
    else
      grep -qsP -- "^(?:$contains)" "$f" || continue
    fi
  fi
  echo "${m}hit=$i"
  if [ -n "$algo" ] && [ -f "$f" ]; then
    s=$("${algo}sum" -- "$f") && echo "${m}sum=$i ${s%% *}"
  fi
done
exit 0
