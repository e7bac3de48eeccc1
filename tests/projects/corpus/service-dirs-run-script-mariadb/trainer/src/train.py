import mlflow
from sklearn.linear_model import LogisticRegression

from src.data.pipeline import load

features, labels = load()
with mlflow.start_run():
    model = LogisticRegression().fit(features, labels)
    mlflow.sklearn.log_model(model, "model", registered_model_name="digits")
