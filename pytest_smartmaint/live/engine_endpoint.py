"""Where the Docker engine is: a socket of this machine, or another host (DOCKER_HOST, a docker context).

It decides two things the engine cannot tell the plugin by itself. A bind mount names a path of
the engine's machine, so on a remote engine the run's redirected data goes into the engine's own
volumes. A published port listens on the engine's machine, so on a remote engine it is reached at
that machine's host name, not at 127.0.0.1.

The docker CLI's own resolution is asked (``docker context inspect``: DOCKER_HOST, then DOCKER_CONTEXT,
then the current context), so what the plugin assumes is what ``docker compose`` dials.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from .. import commands

LOCAL_SCHEMES = ("unix", "npipe")  # a socket of this machine: the engine sees this machine's files


@dataclass(frozen=True)
class EngineEndpoint:
    address: str  # as the docker CLI dials it: unix:///var/run/docker.sock, tcp://host:2376, ssh://user@host
    source: str  # what chose it: "DOCKER_HOST", "docker context NAME"

    @property
    def remote(self) -> bool:
        """Any engine not behind a socket of this machine: its binds are paths of another filesystem."""
        return bool(self.address) and urlsplit(self.address).scheme not in LOCAL_SCHEMES

    @property
    def host(self) -> str:
        """Where the engine's published ports are reached from this machine."""
        return (urlsplit(self.address).hostname or "127.0.0.1") if self.remote else "127.0.0.1"

    def describe(self) -> str:
        return f"{'remote' if self.remote else 'local'} at {self.address or 'the default socket'} ({self.source})"


@functools.cache
def engine_endpoint() -> EngineEndpoint:
    """The endpoint of this process's engine (read once: the environment does not change under a run)."""
    if os.environ.get("DOCKER_HOST"):
        return EngineEndpoint(os.environ["DOCKER_HOST"], "DOCKER_HOST")
    done = commands.run(["docker", "context", "inspect", "--format", "{{json .}}"], timeout=30)
    try:
        context = json.loads(done.stdout) if done.returncode == 0 else {}
    except json.JSONDecodeError:
        context = {}
    address = str(context.get("Endpoints", {}).get("docker", {}).get("Host", ""))
    return EngineEndpoint(address, f"docker context {context.get('Name', 'default')}")
