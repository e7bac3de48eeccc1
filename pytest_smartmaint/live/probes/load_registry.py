"""Reuse mode: the latest version of every registered model loads in this consumer.

Run inside a container as ``python -c <this file> <json arg>``; prints one JSON document.
"""

from __future__ import annotations

import json
import sys
from typing import Any

arg = json.loads(sys.argv[1])
import mlflow
from mlflow import MlflowClient

client = MlflowClient()
out: dict[str, Any] = {"models": {}}
for registered in client.search_registered_models(max_results=1000):
    if registered.name.startswith(arg["skip_prefix"]):
        continue
    versions = client.search_model_versions("name='%s'" % registered.name.replace("'", "\\'"))
    if not versions:
        continue
    latest = max(versions, key=lambda v: int(v.version))
    uri = "models:/%s/%s" % (registered.name, latest.version)
    try:
        mlflow.pyfunc.load_model(uri)
        out["models"][uri] = "ok"
    except Exception as e:
        out["models"][uri] = type(e).__name__ + ": " + str(e)[:300]
print(json.dumps(out))
