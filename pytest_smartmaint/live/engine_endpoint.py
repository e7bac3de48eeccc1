"""Where the Docker engine is: a socket of this machine, or another host (DOCKER_HOST, a docker context).

It decides what the engine cannot tell the plugin by itself. A bind mount names a path of the
engine's machine, so on a remote engine the run's redirected data goes into the engine's own
volumes. A published port listens on the engine's machine, so on a remote engine it is published
where this machine reaches it and reached at that machine's host, not at 127.0.0.1.

The docker CLI's own resolution is asked (``docker context inspect``: DOCKER_HOST, then DOCKER_CONTEXT,
then the current context), so what the plugin assumes is what ``docker compose`` dials.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from .. import commands
from ..errors import SmartmaintError

LOCAL_SCHEMES = ("unix", "npipe")  # a socket of this machine: the engine sees this machine's files


@dataclass(frozen=True)
class EngineEndpoint:
    address: str  # as the docker CLI dials it: unix:///var/run/docker.sock, tcp://host:2376, ssh://user@host
    source: str  # what chose it: "DOCKER_HOST", "docker context NAME"
    context: str = ""  # the docker context's name, when one chose it

    @property
    def remote(self) -> bool:
        """Any engine not behind a socket of this machine: its binds are paths of another filesystem."""
        return bool(self.address) and urlsplit(self._url).scheme not in LOCAL_SCHEMES

    @property
    def _url(self) -> str:
        return self.address if "://" in self.address else f"tcp://{self.address}"  # the CLI reads host:port as tcp

    @property
    def _hostname(self) -> str:
        return (urlsplit(self._url).hostname or "") if self.remote else ""

    @property
    def loopback(self) -> bool:
        """A tcp or ssh endpoint on this machine's loopback (a forwarded socket, Docker Desktop's tcp://localhost):
        its published ports are reached here only where they listen on loopback."""
        name = self._hostname
        if name == "localhost":
            return True
        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False

    @property
    def host(self) -> str:
        """Where the engine's published ports are reached from this machine (an IPv6 address in brackets)."""
        name = self._hostname
        if not self.remote or not name or self.loopback:
            return "127.0.0.1"
        return f"[{name}]" if ":" in name else name

    @property
    def publish_on(self) -> str:
        """The interface a run's own ports are published on: loopback for an engine of this machine (or reached
        through its loopback), the engine's IPv4 address where the endpoint names one, else every interface."""
        if not self.remote or self.loopback:
            return "127.0.0.1"
        try:
            return self._hostname if ipaddress.ip_address(self._hostname).version == 4 else ""
        except ValueError:
            return ""

    def describe(self) -> str:
        return f"{'remote' if self.remote else 'local'} at {self.address or 'the default socket'} ({self.source})"

    def env_prefix(self) -> str:
        """What a shell command must be prefixed with to reach this engine from another shell; "" for this
        machine's default engine."""
        if self.source == "DOCKER_HOST":
            return f"DOCKER_HOST={self.address} "
        return f"DOCKER_CONTEXT={self.context} " if self.context and self.context != "default" else ""


@functools.cache
def engine_endpoint() -> EngineEndpoint:
    """The endpoint of this process's engine (read once: the environment does not change under a run)."""
    if os.environ.get("DOCKER_HOST"):
        return EngineEndpoint(os.environ["DOCKER_HOST"], "DOCKER_HOST")
    try:
        done = commands.run(["docker", "context", "inspect", "--format", "{{json .}}"], timeout=30)
        context = json.loads(done.stdout) if done.returncode == 0 else {}
    except (SmartmaintError, json.JSONDecodeError):
        context = {}
    address = str(context.get("Endpoints", {}).get("docker", {}).get("Host", ""))
    name = str(context.get("Name", "default"))
    return EngineEndpoint(address, f"docker context {name}", name)
