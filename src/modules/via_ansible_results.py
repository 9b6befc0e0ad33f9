# zdd's stdout callback for the tasks it runs through Ansible: prints nothing, and
# appends each host's result, as one JSON line, to the 0600 file named by
# $ZDD_ANSIBLE_RESULTS (in zdd's private temporary directory). zdd reads the results back
# as its own; Ansible's own output is never shown, so `no_log` data stays with zdd.
from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'zdd_results'

    def _record(self, status, result):
        line = json.dumps(
            {"host": result.host.get_name(), "status": status, "result": result.result},
            default=str,
        )
        fd = os.open(os.environ["ZDD_ANSIBLE_RESULTS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as out:
            out.write(line + "\n")

    def v2_runner_on_ok(self, result):
        self._record("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record("failed", result)

    def v2_runner_on_skipped(self, result):
        self._record("skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._record("unreachable", result)
