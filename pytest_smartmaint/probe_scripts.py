"""Scripts that run inside containers. Standard library only: images differ in what they have."""

# Facts one exec gathers from an MLflow client: who it runs as, and a real API call to the
# server under its own tracking URI (/health answers even when every API call is refused).
CLIENT_FACTS = r'''
import json, os, sys, urllib.error, urllib.request
out = {"uid": os.getuid(), "gid": os.getgid(), "tracking_uri": os.environ.get("MLFLOW_TRACKING_URI")}
uri = out["tracking_uri"]
def call(path):
    try:
        with urllib.request.urlopen(uri.rstrip("/") + path, timeout=10) as r:
            return {"status": r.status, "body": r.read(300).decode("utf-8", "replace")}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "body": e.read(300).decode("utf-8", "replace")}
    except Exception as e:
        return {"status": None, "error": type(e).__name__ + ": " + str(getattr(e, "reason", e))}
if uri and uri.startswith(("http://", "https://")):
    out["api"] = call("/api/2.0/mlflow/experiments/search?max_results=1")
    out["health"] = call("/health")
print(json.dumps(out))
'''
