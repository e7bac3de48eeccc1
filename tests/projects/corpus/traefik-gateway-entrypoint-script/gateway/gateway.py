"""Forwards /mlflow/* to the tracking server with a service token check; knows nothing of MLflow's API."""
import os

import httpx
from fastapi import FastAPI, HTTPException, Request, Response

UPSTREAM = os.environ["UPSTREAM_URL"]
app = FastAPI()


@app.api_route("/mlflow/{path:path}", methods=["GET", "POST"])
async def forward(path: str, request: Request) -> Response:
    if request.headers.get("x-service-token") is None:
        raise HTTPException(401)
    async with httpx.AsyncClient() as client:
        answer = await client.request(request.method, f"{UPSTREAM}/{path}", content=await request.body())
    return Response(answer.content, answer.status_code, media_type=answer.headers.get("content-type"))
