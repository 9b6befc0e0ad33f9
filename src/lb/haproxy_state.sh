# The state of every server behind the socket (or TCP:ADDR:PORT): HAProxy's `show stat` CSV.
# shellcheck shell=sh disable=SC2154  # sock: set by zdd's quoted prologue
case $sock in /*) addr="unix-connect:$sock" ;; *) addr=$sock ;; esac
printf 'show stat\n' | socat -t 5 stdio "$addr"
