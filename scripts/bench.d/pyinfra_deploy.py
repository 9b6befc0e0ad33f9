"""pyinfra peer of scripts/bench: the remote work of examples/lab/zero-downtime.yml.

    pyinfra -y --parallel F INVENTORY.py pyinfra_deploy.py pyinfra_deploy.py ... \
        --data version=V --data batch=B --data templates=DIR

scripts/bench passes this file once per batch: pyinfra orders operations by deploy file
first (`state.current_op_file_number`) and then by line, so the K-th copy holds batch K's
operations and runs after batch K-1's finished on every host, as Ansible's `serial:` does
(pyinfra's own `--serial` goes host by host, and a loop inside one file would order the
operations line by line across all batches).

Per batch, as the playbook (everything under sudo, the play's `become`):
  lb:    disable every server of the batch in haproxy (socat on the runtime API; like the
         playbook's failed_when, an answer other than an empty line fails)
  web:   write the httpd config and index.html from the lab's templates (index.html removed
         first), restart through the init script when one of them changed (the handler),
         wait for the port (10 s, as wait_for), then
  lb:    enable every server of the batch.
"""

import os

from pyinfra import host, inventory, state
from pyinfra.operations import files, server
from pyinfra.operations.util import any_changed

BATCH_INDEX = state.current_op_file_number
BATCH_SIZE = int(host.data.batch)
TEMPLATES = host.data.templates
VERSION = str(host.data.version)

webs = [h.name for h in inventory.get_group("webappservers")]
batch = webs[BATCH_INDEX * BATCH_SIZE:(BATCH_INDEX + 1) * BATCH_SIZE]


def haproxy(action):
    """One shell command per server of the batch, on the load balancer."""
    sock = host.data.haproxy_socket
    backend = host.data.haproxy_backend
    return [
        f'out=$(echo "{action} server {backend}/{name}" | socat stdio {sock}) && '
        f'[ -z "$(printf %s "$out" | tr -d "[:space:]")" ] || {{ echo "{name}: $out" >&2; exit 1; }}'
        for name in batch
    ]


# pyinfra orders the operations of different hosts only through the operations they share
# (one operation = one call site in one deploy file), so every host calls every operation,
# and those it has no part in do nothing (no commands, or `_if` false): the load balancer's
# "enable" then comes after the batch's wait, and the next batch's "disable" after that.
on_lb = bool(batch) and "loadbalancers" in host.groups
mine = host.name in batch
NOWHERE = "/nonexistent/zdd-bench"

server.shell(name="Disable server in haproxy", commands=haproxy("disable") if on_lb else [],
             _sudo=True)
conf = files.template(
    name="Write the web server configuration",
    src=os.path.join(TEMPLATES, "httpd.conf.j2"),
    dest=host.data.get("web_conf") or NOWHERE,
    mode="644",
    inventory_hostname=host.name,
    _if=lambda: mine,
    _sudo=True,
)
files.file(
    name="Pretend upgrade by cleaning out content",
    path=os.path.join(host.data.get("doc_root") or NOWHERE, "index.html"),
    present=False,
    _if=lambda: mine,
    _sudo=True,
)
index = files.template(
    name="Copy over webapp content",
    src=os.path.join(TEMPLATES, "index.html.j2"),
    dest=os.path.join(host.data.get("doc_root") or NOWHERE, "index.html"),
    mode="644",
    inventory_hostname=host.name,
    version=VERSION,
    _if=lambda: mine,
    _sudo=True,
)
# The handler. Not sysvinit.service: its status fact runs every script in /etc/init.d,
# which on this shared machine holds the init scripts of every lab host.
server.shell(
    name="Restart web server",
    commands=[f"/etc/init.d/{host.data.get('web_service')} restart"] if mine else [],
    _if=any_changed(conf, index),
    _sudo=True,
)
# Not server.wait: it looks for any listener on the port, and every lab host's httpd
# listens on 8081 of this one machine.
server.shell(
    name="Wait for the web server to answer",
    commands=[
        "end=$(($(date +%s) + 10)); "
        f"until timeout 5 bash -c 'exec 3<>/dev/tcp/{host.data.ssh_hostname}/"
        f"{host.data.get('http_port')}' 2>/dev/null; do "
        '[ "$(date +%s)" -lt "$end" ] || exit 1; sleep 1; done'
    ] if mine else [],
    _sudo=True,
)
server.shell(name="Re-enable server in haproxy", commands=haproxy("enable") if on_lb else [],
             _sudo=True)
