"""The MLflow settings each process of a container really has, beside the container's own environment.

A process reads the environment it was started with: an entrypoint that exports its own values, or a
``sh -c 'VAR=... exec app'`` command, gives it settings that ``docker exec`` (and every probe) never sees.
Processes of another user cannot be read, and are left out.

Run inside a container as ``python -c <this file> <json arg>``; prints one JSON document.
"""

from __future__ import annotations

import json
import os

PREFIXES = ("MLFLOW_", "AWS_")


def settings(pairs: list[bytes]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        name, _, value = pair.decode("utf-8", "replace").partition("=")
        if name.startswith(PREFIXES) and "SECRET" not in name:
            found[name] = value
    return found


processes = []
me = os.getpid()
for entry in os.listdir("/proc"):
    if not entry.isdigit() or int(entry) in (me, os.getppid()):
        continue
    try:
        with open(f"/proc/{entry}/environ", "rb") as f:
            environ = f.read().split(b"\0")
        with open(f"/proc/{entry}/cmdline", "rb") as f:
            command = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        continue
    if command:
        processes.append({"pid": int(entry), "command": command[:200], "settings": settings(environ)})
own = settings([f"{k}={v}".encode() for k, v in os.environ.items()])
print(json.dumps({"exec_settings": own, "processes": processes}))
