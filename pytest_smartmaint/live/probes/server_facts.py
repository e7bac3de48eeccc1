"""The server process's real command line and environment, and the db file's tables.

Run inside a container as ``python -c <this file> <json arg>``; prints one JSON document.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from typing import Any

arg = json.loads(sys.argv[1])
out: dict[str, Any] = {"processes": []}
for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            argv = [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
    except OSError:
        continue
    if any(a.endswith("mlflow") for a in argv[:3]) and "server" in argv:
        env = {}
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = dict(kv.decode("utf-8", "replace").split("=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
        except OSError:
            pass
        out["processes"].append(
            {
                "pid": int(pid),
                "argv": argv,
                "env": {k: v for k, v in env.items() if k.startswith("MLFLOW_")},
                "cwd": os.readlink("/proc/%s/cwd" % pid) if os.path.exists("/proc/%s/cwd" % pid) else None,
            }
        )
path = arg.get("db")
out["db_exists"] = bool(path) and os.path.isfile(path)
if out["db_exists"]:
    try:
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        out["tables"] = sorted(r[0] for r in db.execute("select name from sqlite_master where type='table'"))
        db.close()
    except Exception as e:
        out["db_error"] = type(e).__name__ + ": " + str(e)
print(json.dumps(out))
