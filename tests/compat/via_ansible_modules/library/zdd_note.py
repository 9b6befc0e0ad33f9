#!/usr/bin/python3
# A project's own module, as real projects keep them in library/: writes a note file and
# reports what it did, with keys of its own.
from __future__ import annotations

DOCUMENTATION = r"""
module: zdd_note
short_description: Write a note file
description: Writes O(content) to O(path) unless it already holds it.
options:
  path:
    description: The note file.
    type: path
    required: true
    aliases: [dest]
  content:
    description: What the note says.
    type: str
    default: ""
  state:
    description: Whether the note exists.
    type: str
    choices: [present, absent]
    default: present
  token:
    description: A secret the note never shows.
    type: str
    no_log: true
  fail:
    description: Fail on purpose, with a message.
    type: bool
    default: false
author: zdd tests
"""

import os

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True, aliases=["dest"]),
            content=dict(type="str", default=""),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            token=dict(type="str", no_log=True),
            fail=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"]
    if module.params["fail"]:
        module.fail_json(msg=f"note {os.path.basename(path)} refused", reason="asked to fail")
    before = None
    if os.path.exists(path):
        with open(path) as f:
            before = f.read()
    if module.params["state"] == "absent":
        changed = before is not None
        if changed and not module.check_mode:
            os.remove(path)
    else:
        changed = before != module.params["content"]
        if changed and not module.check_mode:
            with open(path, "w") as f:
                f.write(module.params["content"])
    module.exit_json(
        changed=changed,
        note=module.params["content"],
        words=len(module.params["content"].split()),
        existed=before is not None,
        secret_length=len(module.params["token"] or ""),
    )


if __name__ == "__main__":
    main()
