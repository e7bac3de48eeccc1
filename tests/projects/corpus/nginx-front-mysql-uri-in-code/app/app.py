import mlflow
import mlflow.pyfunc
from flask import Flask, jsonify, request

# the tracking URI lives here, not in the compose file
mlflow.set_tracking_uri("http://web:5000")
model = mlflow.pyfunc.load_model("models:/tweet-classifier/latest")
app = Flask(__name__)


@app.post("/classify")
def classify():
    return jsonify(predictions=[int(p) for p in model.predict(request.json["texts"])])


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=8080)
