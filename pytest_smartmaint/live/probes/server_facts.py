"""The server process's real command line and environment, and its backend's tables (a SQLite file or a database).

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
        if "alembic_version" in out["tables"]:
            out["revision"] = (db.execute("select version_num from alembic_version").fetchone() or [None])[0]
        db.close()
    except Exception as e:
        out["db_error"] = type(e).__name__ + ": " + str(e)
uri = arg.get("uri")
if uri:  # a database server: read it through the server's own SQLAlchemy and driver
    try:
        import sqlalchemy

        engine = sqlalchemy.create_engine(uri)
        with engine.connect() as connection:
            out["tables"] = sorted(sqlalchemy.inspect(connection).get_table_names())
            out["db_exists"] = True
            if "alembic_version" in out["tables"]:
                out["revision"] = connection.exec_driver_sql("select version_num from alembic_version").scalar()
        engine.dispose()
    except Exception as e:
        out["db_error"] = type(e).__name__ + ": " + str(e).splitlines()[0][:300]
print(json.dumps(out))
