"""Scripts that run inside containers and print one JSON document.

Standard library only at module level: images differ in what they have, and a missing
package is a finding to report, not a crash of the probe.
"""

# Everything the checks need to know about one service, gathered by one exec: who it runs
# as, what is mounted where, which packages it has, and a real API call to the MLflow
# server under its own tracking URI (/health answers even when every API call is refused).
FACTS = r'''
import json, os, sys, urllib.error, urllib.request
from importlib import metadata
out = {"uid": os.getuid(), "gid": os.getgid(), "python": sys.version.split()[0],
       "tracking_uri": os.environ.get("MLFLOW_TRACKING_URI"), "mounts": [], "packages": {}}
with open("/proc/self/mountinfo") as f:
    for line in f:
        left, _, right = line.partition(" - ")
        fields, fs = left.split(), right.split()
        out["mounts"].append({"target": fields[4], "source": fields[2] + ":" + fields[3], "ro": "ro" in fields[5].split(","),
                              "fstype": fs[0] if fs else ""})
for name in ("mlflow", "mlflow-skinny", "scikit-learn", "skops", "numpy", "librosa", "resampy", "soundfile", "numba"):
    try:
        out["packages"][name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        out["packages"][name] = None
def call(path):
    try:
        with urllib.request.urlopen(out["tracking_uri"].rstrip("/") + path, timeout=10) as r:
            return {"status": r.status, "body": r.read(300).decode("utf-8", "replace")}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "body": e.read(300).decode("utf-8", "replace")}
    except Exception as e:
        return {"status": None, "error": type(e).__name__ + ": " + str(getattr(e, "reason", e))}
if (out["tracking_uri"] or "").startswith(("http://", "https://")):
    out["api"] = call("/api/2.0/mlflow/experiments/search?max_results=1")
    out["health"] = call("/health")
print(json.dumps(out))
'''

# The audio round trip: imports, libsndfile's version, a generated WAV written, read back
# and resampled with resampy (numba compiles on first use: its cache dir must be writable).
AUDIO_ROUNDTRIP = r'''
import json, os, sys, tempfile, traceback
out = {"imports": {}, "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR"), "home": os.environ.get("HOME")}
for name in ("numpy", "soundfile", "librosa", "resampy"):
    try:
        module = __import__(name)
        out["imports"][name] = getattr(module, "__version__", "?")
    except Exception as e:
        out["imports"][name] = None
        out.setdefault("import_errors", {})[name] = type(e).__name__ + ": " + str(e)
if all(out["imports"].values()):
    import numpy as np, soundfile, librosa, resampy
    out["libsndfile"] = soundfile.__libsndfile_version__
    step = "write"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "smartmaint.wav")
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)).astype("float32")
            soundfile.write(path, tone, 8000)
            step = "read"
            data, rate = soundfile.read(path, dtype="float32")
            step = "resample"
            resampled = librosa.resample(data, orig_sr=rate, target_sr=16000, res_type="kaiser_best")
            out["roundtrip"] = {"read_samples": int(data.shape[0]), "rate": rate, "resampled_samples": int(resampled.shape[0])}
    except Exception as e:
        out["roundtrip_error"] = {"step": step, "error": type(e).__name__ + ": " + str(e),
                                  "trace": traceback.format_exc()[-800:]}
print(json.dumps(out))
'''

# Train and register the smoke model from the training service.
REGISTER_MODEL = r'''
import json, sys
arg = json.loads(sys.argv[1])
import numpy as np, mlflow
from mlflow import MlflowClient
from sklearn.ensemble import IsolationForest
mlflow.set_experiment(arg["experiment"])
features = np.random.RandomState(0).normal(size=(64, 3))
model = IsolationForest(n_estimators=10, random_state=0).fit(features)
with mlflow.start_run() as run:
    info = mlflow.sklearn.log_model(model, name="model", registered_model_name=arg["name"],
                                    skops_trusted_types=["sklearn.tree._tree.Tree"])
client = MlflowClient()
logged = client.get_logged_model(info.model_id)
print(json.dumps({"version": str(info.registered_model_version), "artifact_location": logged.artifact_location,
                  "run_id": run.info.run_id, "model_id": info.model_id,
                  "expected": [float(p) for p in model.predict(features[:4])], "features": features[:4].tolist()}))
'''

# Load models:/NAME/VERSION in a consumer and predict; classify what broke, layer by layer.
LOAD_MODEL = r'''
import json, os, sys, traceback
arg = json.loads(sys.argv[1])
out = {"uid": os.getuid(), "gid": os.getgid()}
def done(layer, detail):
    out["layer"], out["detail"] = layer, detail
    print(json.dumps(out)); sys.exit(0)
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
path = location[len("file://"):] if location.startswith("file://") else location
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
    done("artifact-unwritable" if getattr(e, "errno", None) in (13, 30) else "artifact-path", type(e).__name__ + ": " + str(e)[:400])
except Exception as e:
    text = type(e).__name__ + ": " + str(e)
    done("artifact-path" if "No such artifact" in text else "deserialization", text[:600] + "\n" + traceback.format_exc()[-600:])
try:
    import pandas as pd
    predictions = model.predict(pd.DataFrame(arg["features"]))
    out["predictions"] = [float(p) for p in predictions]
except Exception as e:
    done("predict", type(e).__name__ + ": " + str(e)[:400])
done("ok", "")
'''

# Registry facts over plain HTTP from any client: does NAME/VERSION exist?
REGISTRY_LOOKUP = r'''
import json, os, sys, urllib.error, urllib.parse, urllib.request
arg = json.loads(sys.argv[1])
query = urllib.parse.urlencode({"name": arg["name"], "version": arg["version"]})
url = os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/model-versions/get?" + query
try:
    with urllib.request.urlopen(url, timeout=10) as r:
        print(json.dumps({"status": r.status}))
except urllib.error.HTTPError as e:
    print(json.dumps({"status": e.code, "body": e.read(300).decode("utf-8", "replace")}))
except Exception as e:
    print(json.dumps({"status": None, "error": type(e).__name__ + ": " + str(e)}))
'''

# The server process's real command line and environment, and the db file's tables.
SERVER_FACTS = r'''
import json, os, sqlite3, sys
arg = json.loads(sys.argv[1])
out = {"processes": []}
for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            argv = [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
    except OSError:
        continue
    if any(a.endswith("mlflow") for a in argv[:3]) and "server" in argv:
        env = {}
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = dict(kv.decode("utf-8", "replace").split("=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
        except OSError:
            pass
        out["processes"].append({"pid": int(pid), "argv": argv,
                                 "env": {k: v for k, v in env.items() if k.startswith("MLFLOW_")},
                                 "cwd": os.readlink("/proc/%s/cwd" % pid) if os.path.exists("/proc/%s/cwd" % pid) else None})
path = arg.get("db")
out["db_exists"] = bool(path) and os.path.isfile(path)
if out["db_exists"]:
    try:
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        out["tables"] = sorted(r[0] for r in db.execute("select name from sqlite_master where type='table'"))
        db.close()
    except Exception as e:
        out["db_error"] = type(e).__name__ + ": " + str(e)
print(json.dumps(out))
'''

# Delete the smoke model and everything logging it left (reuse mode: the user's registry).
REMOVE_SMOKE_MODEL = r'''
import json, shutil, sys
arg = json.loads(sys.argv[1])
from mlflow import MlflowClient
client = MlflowClient()
out = {}
for what, call in (("registered model", lambda: client.delete_registered_model(arg["name"])),
                   ("run", lambda: client.delete_run(arg["run_id"])),
                   ("logged model", lambda: client.delete_logged_model(arg["model_id"]))):
    try:
        call()
    except Exception as e:
        out[what] = type(e).__name__ + ": " + str(e)[:200]
location = arg.get("artifact_location") or ""
path = location[len("file://"):] if location.startswith("file://") else location
if path.startswith("/") and "/models/m-" in path:
    shutil.rmtree(path.split("/artifacts")[0], ignore_errors=True)
print(json.dumps(out))
'''

# Reuse mode: the latest version of every registered model loads in this consumer.
LOAD_REGISTRY = r'''
import json, sys
arg = json.loads(sys.argv[1])
import mlflow
from mlflow import MlflowClient
client = MlflowClient()
out = {"models": {}}
for registered in client.search_registered_models(max_results=1000):
    if registered.name.startswith(arg["skip_prefix"]):
        continue
    versions = client.search_model_versions("name='%s'" % registered.name.replace("'", "\\'"))
    if not versions:
        continue
    latest = max(versions, key=lambda v: int(v.version))
    uri = "models:/%s/%s" % (registered.name, latest.version)
    try:
        mlflow.pyfunc.load_model(uri)
        out["models"][uri] = "ok"
    except Exception as e:
        out["models"][uri] = type(e).__name__ + ": " + str(e)[:300]
print(json.dumps(out))
'''
