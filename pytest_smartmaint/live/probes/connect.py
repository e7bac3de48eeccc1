"""From inside a dependent service: reach another service by name on each of its ports (TCP; HTTP where it speaks it).

Each failure is told apart by its cause: the name does not resolve, the connection is refused,
or nothing answers within the timeout.
"""

from __future__ import annotations

import json
import socket
import sys
from typing import Any

arg = json.loads(sys.argv[1])
host, timeout = arg["host"], float(arg.get("timeout", 5))
out: dict[str, Any] = {"host": host, "addresses": [], "ports": {}}
try:
    out["addresses"] = sorted({info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})
except socket.gaierror as e:
    out["resolve_error"] = "socket.gaierror: " + str(e)
if out["addresses"]:
    for port in arg["ports"]:
        result: dict[str, Any] = {}
        try:
            with socket.create_connection((host, port), timeout=timeout) as conn:
                result["outcome"] = "connected"
                if port in arg.get("http_ports", []):
                    conn.settimeout(timeout)
                    conn.sendall(("GET / HTTP/1.0\r\nHost: %s:%d\r\n\r\n" % (host, port)).encode())
                    line = conn.recv(200).decode("latin-1").split("\r\n")[0]
                    result["http"] = line
        except ConnectionRefusedError as e:
            result = {"outcome": "refused", "error": "ConnectionRefusedError: " + str(e)}
        except (socket.timeout, TimeoutError) as e:
            result = {"outcome": "timeout", "error": type(e).__name__ + ": " + str(e)}
        except OSError as e:
            result = {"outcome": "error", "error": type(e).__name__ + ": " + str(e)}
        out["ports"][str(port)] = result
print(json.dumps(out))
