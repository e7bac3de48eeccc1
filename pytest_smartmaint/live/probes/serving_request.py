"""POST a JSON body to an API's endpoint on the compose network, as another service of the stack would.

Run inside a container as ``python -c <this file> <json arg>``; prints one JSON document: the status and
the start of the answer, or the error that kept the request from one.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request

arg = json.loads(sys.argv[1])
request = urllib.request.Request(
    arg["url"], data=arg["body"].encode(), headers={"Content-Type": "application/json"}, method="POST"
)
start = time.monotonic()
answer: dict[str, object]
try:
    with urllib.request.urlopen(request, timeout=arg["timeout"]) as r:
        answer = {"status": r.status, "body": r.read(4000).decode("utf-8", "replace")}
except urllib.error.HTTPError as e:
    answer = {"status": e.code, "body": e.read(4000).decode("utf-8", "replace")}
except Exception as e:  # refused, unresolvable, timed out: the layer is in the name
    reason = getattr(e, "reason", e)
    answer = {"status": None, "error": type(reason).__name__ + ": " + str(reason)}
answer["seconds"] = round(time.monotonic() - start, 2)
print(json.dumps(answer))
