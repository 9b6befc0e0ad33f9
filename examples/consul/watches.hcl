# The Consul agent's watch that calls `zdd heal`, as the seed's watchers.json called
# redeploy_service.sh (put it in the agent's config dir, e.g. /etc/consul.d/, and
# `consul reload`). The same in JSON: watches.json.
#
# How the payload arrives: each time the result of this blocking query changes (and once
# when the watch starts), Consul runs the handler with the JSON answer of
# /v1/health/state/critical on its standard input: an array of checks with Node, CheckID,
# Name, Status, Output, ServiceID, ServiceName ([] or null when none is critical). zdd heal
# reads it to EOF; nothing goes on its command line. CONSUL_INDEX is set in the handler's
# environment (zdd does not need it).
#
# Consul calls the handler when the query's answer changes, not on every check interval: a
# check that stays critical may not be passed again. So zdd heal retries a redeploy that did not heal by itself
# (after --backoff, doubled each time) until it heals or --max-redeploys per host per hour
# is spent; that count is kept in --state-dir across calls. Give it an absolute path:
# Consul runs handlers in its own working directory.
#
# The handler's stdout and stderr go to Consul's log; exit 2 (not healed) and 5 (a bad
# payload or config) are logged there as a handler failure.
watches = [
  {
    type         = "checks"
    state        = "critical"
    handler_type = "script"
    args = [
      "/usr/local/bin/zdd", "heal",
      "--config", "/etc/zdd/heal.yml",
      "--state-dir", "/var/lib/zdd",
      "--audit-log", "/var/log/zdd/heal-audit.jsonl",
    ]
  }
]
