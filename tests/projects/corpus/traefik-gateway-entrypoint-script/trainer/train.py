import mlflow
from sklearn.linear_model import LinearRegression

with mlflow.start_run():
    model = LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    mlflow.sklearn.log_model(model, name="model", registered_model_name="geo-baseline")
