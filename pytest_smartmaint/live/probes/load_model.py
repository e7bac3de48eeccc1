"""Load models:/NAME/VERSION in a consumer and predict; classify what broke, layer by layer.

Run inside a container as ``python -c <this file> <json arg>``; prints one JSON document.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any, NoReturn

arg = json.loads(sys.argv[1])
out: dict[str, Any] = {"uid": os.getuid(), "gid": os.getgid()}


def done(layer: str, detail: str) -> NoReturn:
    out["layer"], out["detail"] = layer, detail
    print(json.dumps(out))
    sys.exit(0)


try:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
except Exception as e:
    done("library", "cannot import mlflow: " + type(e).__name__ + ": " + str(e))
try:
    from importlib import metadata

    out["sklearn"] = metadata.version("scikit-learn")
except Exception:
    out["sklearn"] = None
client = MlflowClient()
try:
    version = client.get_model_version(arg["name"], arg["version"])
    out["storage_location"] = getattr(version, "storage_location", None)
except MlflowException as e:
    code = getattr(e, "error_code", "")
    done("version-missing" if "RESOURCE_DOES_NOT_EXIST" in str(code) else "registry", str(e)[:400])
except Exception as e:
    done("registry", type(e).__name__ + ": " + str(e)[:400])
location = arg.get("artifact_location") or ""


def from_s3(e: BaseException) -> bool:
    """Raised by boto3 or botocore, or for their absence, anywhere in the exception's chain."""
    seen: BaseException | None = e
    while seen is not None:
        if type(seen).__module__.split(".")[0] in ("boto3", "botocore", "s3transfer") or "'boto3'" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


endpoints = ("MLFLOW_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
if location.startswith("s3://") and not any(os.environ.get(n) for n in endpoints) and arg.get("s3_endpoint"):
    done("artifact-store", "MLFLOW_S3_ENDPOINT_URL is not set: boto3 would send the request to AWS (nothing was sent)")
path = location[len("file://") :] if location.startswith("file://") else location
if path.startswith("/"):
    out["artifact_path"] = path
    if not os.path.isdir(path):
        done("artifact-path", "missing")
    requirements = os.path.join(path, "requirements.txt")
    if os.path.isfile(requirements):
        with open(requirements) as f:
            out["requirements"] = [line.strip() for line in f if line.strip()]
    if os.statvfs(path).f_flag & os.ST_RDONLY:
        done("artifact-unwritable", "mounted read-only")
    if not os.access(path, os.W_OK):
        done("artifact-unwritable", "no write access for uid %d" % os.getuid())
try:
    model = mlflow.pyfunc.load_model("models:/%s/%s" % (arg["name"], arg["version"]))
except (PermissionError, OSError) as e:
    done(
        "artifact-unwritable" if getattr(e, "errno", None) in (13, 30) else "artifact-path",
        type(e).__name__ + ": " + str(e)[:400],
    )
except Exception as e:
    text = type(e).__name__ + ": " + str(e)
    if from_s3(e):
        done("artifact-store", text[:600])
    done(
        "artifact-path" if "No such artifact" in text else "deserialization",
        text[:600] + "\n" + traceback.format_exc()[-600:],
    )
try:
    import pandas as pd

    predictions = model.predict(pd.DataFrame(arg["features"]))
    out["predictions"] = [float(p) for p in predictions]
except Exception as e:
    done("predict", type(e).__name__ + ": " + str(e)[:400])
done("ok", "")
