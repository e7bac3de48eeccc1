"""The model API: loads churn-model at startup, as public FastAPI apps do, and exits when it cannot."""
import sys

import mlflow

try:
    model = mlflow.pyfunc.load_model("models:/churn-model/1")
except Exception as exc:  # noqa: BLE001
    print(f"cannot load churn-model: {exc}", file=sys.stderr)
    sys.exit(3)
