"""Train and register the smoke model from the training service, with the MLflow API it has.

``log_model`` takes ``name=`` from MLflow 3.0 on (``artifact_path=`` before), and
``skops_trusted_types`` from 3.15 on (sklearn models are saved with skops there, and a tree model
needs its type trusted); 2.x has no logged-model entity, so no model id. The signature decides,
not a version table. ``pip_requirements`` is taken by every release the plugin supports.

Run inside a container as ``python -c <this file> <json arg>``; prints one JSON document.
"""

from __future__ import annotations

import inspect
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
takes = inspect.signature(mlflow.sklearn.log_model).parameters
options: dict[str, object] = {"name": "model"} if "name" in takes else {"artifact_path": "model"}
if "skops_trusted_types" in takes:
    options["skops_trusted_types"] = ["sklearn.tree._tree.Tree"]
# the flavor's own pinned requirements: without them log_model infers them by loading the model again in a
# subprocess (~4 s of CPU and wall per registration), which tells the smoke model nothing
options["pip_requirements"] = mlflow.sklearn.get_default_pip_requirements()
with mlflow.start_run() as run:
    info = mlflow.sklearn.log_model(model, registered_model_name=arg["name"], **options)
    run_artifacts = mlflow.get_artifact_uri("model")
model_id = getattr(info, "model_id", None)
client = MlflowClient()
location = client.get_logged_model(model_id).artifact_location if model_id else run_artifacts
print(
    json.dumps(
        {
            "version": str(info.registered_model_version),
            "artifact_location": location,
            "run_id": run.info.run_id,
            "model_id": model_id,
            "expected": [float(p) for p in model.predict(features[:4])],
            "features": features[:4].tolist(),
        }
    )
)
