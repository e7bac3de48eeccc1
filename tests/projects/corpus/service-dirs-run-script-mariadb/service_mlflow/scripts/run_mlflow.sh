#!/bin/bash
# settings come from service_mlflow/.env (compose env_file)
set -euo pipefail
mlflow server \
    --backend-store-uri "${BACKEND_STORE_URI}" \
    --default-artifact-root "${DEFAULT_ARTIFACT_ROOT}" \
    --host 0.0.0.0 \
    --port "${MLFLOW_CONTAINER_PORT:-5000}"
