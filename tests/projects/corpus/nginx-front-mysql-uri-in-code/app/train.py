import mlflow
from sklearn.dummy import DummyClassifier

with mlflow.start_run():
    model = DummyClassifier().fit([[0], [1]], [0, 1])
    mlflow.sklearn.log_model(model, name="model", registered_model_name="tweet-classifier")
