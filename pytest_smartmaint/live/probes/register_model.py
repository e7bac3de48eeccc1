"""Train and register the smoke model from the training service.

Run inside a container as ``python -c <this file> <json arg>``; prints one JSON document.
"""

from __future__ import annotations

import json
import sys

arg = json.loads(sys.argv[1])
import mlflow
import numpy as np
from mlflow import MlflowClient
from sklearn.ensemble import IsolationForest

mlflow.set_experiment(arg["experiment"])
features = np.random.RandomState(0).normal(size=(64, 3))
model = IsolationForest(n_estimators=10, random_state=0).fit(features)
with mlflow.start_run() as run:
    info = mlflow.sklearn.log_model(
        model, name="model", registered_model_name=arg["name"], skops_trusted_types=["sklearn.tree._tree.Tree"]
    )
client = MlflowClient()
logged = client.get_logged_model(info.model_id)
print(
    json.dumps(
        {
            "version": str(info.registered_model_version),
            "artifact_location": logged.artifact_location,
            "run_id": run.info.run_id,
            "model_id": info.model_id,
            "expected": [float(p) for p in model.predict(features[:4])],
            "features": features[:4].tolist(),
        }
    )
)
