import mlflow.pyfunc
from fastapi import FastAPI

from src.data.pipeline import to_frame

app = FastAPI()
model = mlflow.pyfunc.load_model("models:/digits/1")


@app.post("/predict")
def predict(rows: list[dict]) -> list[int]:
    return [int(p) for p in model.predict(to_frame(rows))]
