#!/bin/sh
set -e
exec mlflow server \
  --backend-store-uri "postgresql://${MLFLOW_DB_USER}:${MLFLOW_DB_PASSWORD}@postgres:5432/mlflow" \
  --serve-artifacts \
  --artifacts-destination "s3://${MLFLOW_BUCKET}" \
  --default-artifact-root mlflow-artifacts:/ \
  --host 0.0.0.0 \
  --port 5000 \
  --allowed-hosts "mlflow:5000,mlflow.localhost,localhost:*"
