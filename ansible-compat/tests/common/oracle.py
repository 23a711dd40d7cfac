"""A fork server that runs ansible-core's own CLIs, for the conformance tests.

Starting `ansible-inventory` costs ~0.7 s of Python imports per run. This server imports
ansible-core once, then for every request forks a child that runs the real CLI entry point
(`InventoryCLI.cli_executor`, `AdHocCLI.cli_executor`, `VaultCLI.cli_executor`: all the
installed `ansible-inventory`, `ansible` and `ansible-vault` scripts do) with the request's argv and working directory,
stdin from /dev/null and stdout/stderr captured in files. The child starts from a process
state where nothing has run yet, exactly like a fresh process after its imports.

ansible-core reads its configuration (`ANSIBLE_*` variables) while importing, so the test
harness starts one server per environment.

Protocol: one JSON object per line on stdin, {"tool", "argv", "cwd"}; one JSON object per
line on stdout, {"rc", "stdout", "stderr"}.
"""

import json
import os
import sys
import tempfile
import traceback

from ansible.cli.adhoc import AdHocCLI
from ansible.cli.inventory import InventoryCLI
from ansible.cli.vault import VaultCLI
import ansible.plugins.inventory.auto  # noqa: F401  (warm the plugin modules once)
import ansible.plugins.inventory.host_list  # noqa: F401
import ansible.plugins.inventory.ini  # noqa: F401
import ansible.plugins.inventory.script  # noqa: F401
import ansible.plugins.inventory.toml  # noqa: F401
import ansible.plugins.inventory.yaml  # noqa: F401

TOOLS = {"ansible-inventory": InventoryCLI, "ansible": AdHocCLI, "ansible-vault": VaultCLI}


def child(req, out_path, err_path):
    code = 1
    try:
        os.chdir(req["cwd"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, path in ((1, out_path), (2, err_path)):
            f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(f, fd)
            os.close(f)
        sys.argv = list(req["argv"])
        TOOLS[req["tool"]].cli_executor(list(req["argv"]))
        code = 0
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 250
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def main():
    tmp = tempfile.mkdtemp(prefix="oracle-")
    out_path = os.path.join(tmp, "out")
    err_path = os.path.join(tmp, "err")
    for line in sys.stdin:
        req = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            child(req, out_path, err_path)
        _, status = os.waitpid(pid, 0)
        rc = os.waitstatus_to_exitcode(status)
        with open(out_path, "rb") as f:
            out = f.read().decode("utf-8", "replace")
        with open(err_path, "rb") as f:
            err = f.read().decode("utf-8", "replace")
        sys.stdout.write(json.dumps({"rc": rc, "stdout": out, "stderr": err}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
