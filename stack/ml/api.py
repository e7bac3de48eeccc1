"""The reference stack's model-serving api.

GET /health answers 200. POST /api/v1/ml/predict takes
{"model_name": str, "model_version": str|int, "features": [[float, ...], ...]}
and answers {"predictions": [...]} from ``models:/NAME/VERSION`` in the registry.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import mlflow.pyfunc
import pandas as pd

_models: dict[str, Any] = {}


def _model(name: str, version: str) -> Any:
    uri = f"models:/{name}/{version}"
    if uri not in _models:
        _models[uri] = mlflow.pyfunc.load_model(uri)
    return _models[uri]


class Handler(BaseHTTPRequestHandler):
    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/health":
            self._answer(200, {"status": "ok"})
        else:
            self._answer(404, {"error": f"no route {self.path}"})

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/api/v1/ml/predict":
            self._answer(404, {"error": f"no route {self.path}"})
            return
        try:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            model = _model(request["model_name"], str(request["model_version"]))
            predictions = model.predict(pd.DataFrame(request["features"]))
        except Exception as exc:  # the api reports every failure to its caller
            self._answer(500, {"error": f"{type(exc).__name__}: {exc}"})
            return
        self._answer(200, {"predictions": [float(p) for p in predictions]})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        print(format % args, flush=True)


if __name__ == "__main__":
    # As PID 1 of its container the process gets no default SIGTERM action: without a handler,
    # `docker stop` waits its whole timeout (10 s) and then kills it.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("API_PORT", "8000"))), Handler).serve_forever()
