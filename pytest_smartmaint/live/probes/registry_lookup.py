"""Registry facts over plain HTTP from any client: does NAME/VERSION exist?

Run inside a container as ``python -c <this file> <json arg>``; prints one JSON document.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

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
