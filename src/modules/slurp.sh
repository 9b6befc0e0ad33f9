# `slurp` and `fetch`: a file's whole content, base64 (so every byte arrives as it is),
# and for `fetch` its sha1 as the target computes it (to validate the transfer).
# shellcheck shell=sh disable=SC2154  # m src sum: set by zdd's quoted prologue
# shellcheck disable=SC2088  # a literal ~, expanded here as Ansible expands it
case $src in "~") src=$HOME ;; "~/"*) src=$HOME/${src#"~/"} ;; esac
echo "${m}source=$src"
if [ -d "$src" ]; then echo "${m}error=isdir"; exit 0; fi
if [ ! -e "$src" ]; then echo "${m}error=missing"; exit 0; fi
if [ ! -r "$src" ]; then echo "${m}error=unreadable"; exit 0; fi
if [ "$sum" = 1 ]; then
  out=$(sha1sum -- "$src") || exit 4
  echo "${m}checksum=${out%% *}"
fi
content=$(base64 -w0 -- "$src") || exit 4
echo "${m}content=$content"
exit 0
