"""Everything the checks need to know about one service, gathered by one exec: who it runs as, what is
mounted where, which packages it has, and a real API call to the MLflow server under its own tracking
URI (/health answers even when every API call is refused).

Run inside a container as ``python -c <this file> <json arg>``; prints one JSON document.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from importlib import metadata
from typing import Any

out: dict[str, Any] = {
    "uid": os.getuid(),
    "gid": os.getgid(),
    "python": sys.version.split()[0],
    "tracking_uri": os.environ.get("MLFLOW_TRACKING_URI"),
    "mounts": [],
    "packages": {},
}
with open("/proc/self/mountinfo") as f:
    for line in f:
        left, _, right = line.partition(" - ")
        fields, fs = left.split(), right.split()
        out["mounts"].append(
            {
                "target": fields[4],
                "source": fields[2] + ":" + fields[3],
                "ro": "ro" in fields[5].split(","),
                "fstype": fs[0] if fs else "",
            }
        )
for name in ("mlflow", "mlflow-skinny", "scikit-learn", "skops", "numpy", "librosa", "resampy", "soundfile", "numba"):
    try:
        out["packages"][name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        out["packages"][name] = None


def call(path: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(out["tracking_uri"].rstrip("/") + path, timeout=10) as r:
            return {"status": r.status, "body": r.read(300).decode("utf-8", "replace")}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "body": e.read(300).decode("utf-8", "replace")}
    except Exception as e:
        return {"status": None, "error": type(e).__name__ + ": " + str(getattr(e, "reason", e))}


if (out["tracking_uri"] or "").startswith(("http://", "https://")):
    out["api"] = call("/api/2.0/mlflow/experiments/search?max_results=1")
    out["health"] = call("/health")
print(json.dumps(out))
