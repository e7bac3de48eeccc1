"""A bounded burst of concurrent writes to the tracking server, over its REST API, counting every error.

``writers`` threads each create ``runs`` runs, log a batch of metrics to each and finish it: three writes per
run, none retried, so an error the server answers is counted, not hidden by a client's retries. Standard
library only. Run inside a container as ``python -c <this file> <json arg>``; prints one JSON document.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any

arg = json.loads(sys.argv[1])
base = (os.environ.get("MLFLOW_TRACKING_URI") or "").rstrip("/") + "/api/2.0/mlflow/"
out: dict[str, Any] = {"writers": arg["writers"], "runs": arg["runs"], "requests": 0, "ok": 0, "errors": {}}
samples: dict[str, str] = {}
lock = threading.Lock()


def post(path: str, body: dict[str, Any]) -> dict[str, Any] | None:
    request = urllib.request.Request(
        base + path, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    kind, text = None, ""
    try:
        with urllib.request.urlopen(request, timeout=arg.get("timeout", 60)) as answer:
            data: dict[str, Any] = json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as e:
        text = e.read(2000).decode("utf-8", "replace")
        kind = "database is locked" if "database is locked" in text else f"HTTP {e.code}"
    except Exception as e:  # refused, reset, timed out
        kind, text = type(e).__name__, str(e)
    with lock:
        out["requests"] += 1
        if kind is None:
            out["ok"] += 1
            return data
        out["errors"][kind] = out["errors"].get(kind, 0) + 1
        samples.setdefault(kind, f"POST {path}: {text[:300]}")
    return None


created = post("experiments/create", {"name": arg["experiment"]})
experiment = (created or {}).get("experiment_id")
if experiment is None:  # it exists already (a rerun in the same stack), or the server refuses every write
    try:
        request = urllib.request.Request(base + "experiments/get-by-name?experiment_name=" + arg["experiment"])
        with urllib.request.urlopen(request, timeout=30) as answer:
            experiment = json.loads(answer.read())["experiment"]["experiment_id"]
    except Exception:
        out["setup_error"] = next((f"{kind}, {text}" for kind, text in samples.items()), "experiments/create failed")
        out["seconds"], out["samples"] = 0.0, samples
        print(json.dumps(out))
        sys.exit(0)


def writer(number: int) -> None:
    for i in range(arg["runs"]):
        now = int(time.time() * 1000)
        run = post("runs/create", {"experiment_id": experiment, "start_time": now, "run_name": f"w{number}-{i}"})
        if run is None:
            continue
        run_id = run["run"]["info"]["run_id"]
        metrics = [{"key": f"m{k}", "value": float(i * k), "timestamp": now, "step": i} for k in range(5)]
        post("runs/log-batch", {"run_id": run_id, "metrics": metrics})
        post("runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": int(time.time() * 1000)})


started = time.monotonic()
threads = [threading.Thread(target=writer, args=(n,)) for n in range(arg["writers"])]
for t in threads:
    t.start()
for t in threads:
    t.join()
out["seconds"] = round(time.monotonic() - started, 2)
out["samples"] = samples
print(json.dumps(out))
