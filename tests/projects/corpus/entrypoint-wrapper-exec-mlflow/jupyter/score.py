import mlflow

model = mlflow.pyfunc.load_model("models:/churn/latest")
print(model.predict([[0.2, 0.7]]))
