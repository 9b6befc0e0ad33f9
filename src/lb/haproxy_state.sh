# The state of every server behind the socket: HAProxy's `show stat` CSV.
# shellcheck shell=sh disable=SC2154  # sock: set by zdd's quoted prologue
printf 'show stat\n' | socat -t 5 stdio "unix-connect:$sock"
