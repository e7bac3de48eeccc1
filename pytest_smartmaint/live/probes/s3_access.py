"""Reach the S3 artifact store as this container's MLflow would: its endpoint, its credentials, the bucket, a prefix.

Run inside a container as ``python -c <this file> <json arg>``; prints one JSON document: the layer where it
broke (``ok``, ``boto3-missing``, ``endpoint-unset``, ``unresolvable``, ``refused``, ``timeout``,
``credentials-missing``, ``credentials-rejected``, ``bucket-missing``, ``permission-denied``, ``s3-error``) and
the keys it listed under the prefix. Without MLFLOW_S3_ENDPOINT_URL, where the stack names one elsewhere
(``expected``), it sends nothing: boto3 would take the store's keys to AWS.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import Any, NoReturn
from urllib.parse import urlsplit

arg = json.loads(sys.argv[1])
# MLflow's variable, else what boto3 (1.28+) reads where MLflow sets none
names = ("MLFLOW_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
endpoint = next((os.environ[n] for n in names if os.environ.get(n)), "")
out: dict[str, Any] = {"endpoint": endpoint or None, "keys": [], "access_key": os.environ.get("AWS_ACCESS_KEY_ID")}


def done(layer: str, detail: str = "") -> NoReturn:
    out["layer"], out["detail"] = layer, detail[:600]
    print(json.dumps(out))
    sys.exit(0)


try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
except Exception as e:
    done("boto3-missing", type(e).__name__ + ": " + str(e))
if not endpoint and arg.get("expected"):
    done("endpoint-unset", "MLFLOW_S3_ENDPOINT_URL is not set: boto3 would send the request to AWS")
if endpoint:
    parts = urlsplit(endpoint)
    try:
        host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as e:
        done("s3-error", "the endpoint %s is not a URL boto3 takes: %s" % (endpoint, e))
    if not host or parts.scheme not in ("http", "https"):
        done(
            "s3-error", "the endpoint %s is not a URL boto3 takes (it needs http:// or https:// and a host)" % endpoint
        )
    try:
        socket.getaddrinfo(host, port)
    except OSError as e:
        done("unresolvable", "%s: %s" % (host, e))
    try:
        socket.create_connection((host, port), timeout=5).close()
    except socket.timeout:
        done("timeout", "%s:%d did not answer within 5 s" % (host, port))
    except OSError as e:
        done("refused", "%s:%d: %s" % (host, port, e))
config = Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 2, "mode": "standard"})
verify = os.environ.get("MLFLOW_S3_IGNORE_TLS", "").lower() not in ("true", "1")  # as MLflow passes it
try:
    client = boto3.client("s3", endpoint_url=endpoint or None, config=config, verify=verify)
    listed = client.list_objects_v2(Bucket=arg["bucket"], Prefix=arg.get("prefix") or "", MaxKeys=200)
except NoCredentialsError as e:
    done("credentials-missing", str(e))
except ClientError as e:
    error = e.response.get("Error", {})
    code = str(error.get("Code") or "")
    layer = {
        "InvalidAccessKeyId": "credentials-rejected",
        "SignatureDoesNotMatch": "credentials-rejected",
        "NoSuchBucket": "bucket-missing",
        "AccessDenied": "permission-denied",
    }.get(code, "s3-error")
    done(layer, "%s: %s" % (code, error.get("Message") or e))
except (BotoCoreError, ValueError) as e:
    done("s3-error", type(e).__name__ + ": " + str(e))
out["keys"] = [str(o["Key"]) for o in listed.get("Contents") or []]
done("ok")
