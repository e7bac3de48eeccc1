FROM python:3.10-slim
RUN pip install --no-cache-dir "mlflow==3.17.2"
