import mlflow

model = mlflow.pyfunc.load_model("models:/artifacts-demo/latest")
with mlflow.start_run(run_name="evaluation"):
    mlflow.log_metric("accuracy", float((model.predict([[0], [1]]) == [0, 1]).mean()))
