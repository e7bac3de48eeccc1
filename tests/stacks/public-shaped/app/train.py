"""Train and register churn-model from ./data/churn.csv; a fresh clone has no CSV (the data is not in git)."""
import sys
from pathlib import Path

data = Path("/app/data/churn.csv")
if not data.is_file():
    print(f"Failed to load data: {data} does not exist; nothing trained, nothing registered")
    sys.exit(0)  # the job "succeeds", as many do
import mlflow  # noqa: E402

print("training on", data, "with mlflow", mlflow.__version__)
