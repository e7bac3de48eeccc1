import mlflow

model = mlflow.pyfunc.load_model("models:/churn/latest")
