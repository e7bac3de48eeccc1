import mlflow
from sklearn.linear_model import LogisticRegression

with mlflow.start_run():
    mlflow.log_param("C", 1.0)
    model = LogisticRegression().fit([[0], [1]], [0, 1])
    mlflow.sklearn.log_model(model, name="model", registered_model_name="artifacts-demo")
