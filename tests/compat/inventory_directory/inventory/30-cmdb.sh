#!/bin/sh
# An inventory script: `--list` prints every group and, in _meta, every host's variables.
[ "$1" = --list ] || { echo "usage: $0 --list" >&2; exit 1; }
cat <<'JSON'
{
  "canary": {"hosts": ["web3"], "vars": {"wave": 1}},
  "web": {"hosts": ["web1"], "vars": {"from_script": "yes"}},
  "_meta": {"hostvars": {
    "web3": {"ansible_ssh_host": "@NET@.13", "color": "script"},
    "web1": {"color": "script"}
  }}
}
JSON
