FROM python:3.12-slim
RUN pip install mlflow==3.17.2
