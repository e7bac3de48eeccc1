"""The compose project, as compose resolves it, turned into a file `docker stack deploy` takes.

Compose's canonical output (``docker compose config --format json``) already has ``.env``, interpolation,
``extends``, override files and ``env_file`` resolved. What remains is what Swarm's loader (the compose
file format 3.9) reads differently: only that is translated, and each change is named (``notes``) so
the header can say what Swarm ignores or rejects in the user's files.

Networks, volumes, secrets and configs lose the ``name:`` compose gave them (``<project>_<key>``), so that
`docker stack deploy` puts them in the stack's own namespace: nothing of the user's compose project is
shared with the run. External ones are kept as written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# the service keys of the compose file format 3.9, which `docker stack deploy` validates against
SERVICE_KEYS = frozenset(
    "cap_add cap_drop cgroup_parent command configs container_name credential_spec depends_on deploy devices dns "
    "dns_search domainname entrypoint env_file environment expose external_links extra_hosts healthcheck hostname "
    "image init ipc isolation labels links logging mac_address network_mode networks pid ports privileged read_only "
    "restart secrets security_opt shm_size stdin_open stop_grace_period stop_signal sysctls tmpfs tty ulimits user "
    "userns_mode volumes working_dir".split()
)
# accepted by the loader, then ignored by Swarm (docker/cli: "Ignoring unsupported options"), or ignored silently
IGNORED = {
    "build": "Swarm does not build: the run deploys the image compose built",
    "container_name": "a task's container is named by Swarm",
    "depends_on": "Swarm starts services in any order: a dependent must survive the other starting later "
    "(swarm[static-restart-...])",
    "cgroup_parent": "ignored by Swarm",
    "devices": "ignored by Swarm",
    "external_links": "ignored by Swarm",
    "links": "ignored by Swarm: services reach each other by name",
    "network_mode": "ignored by Swarm",
    "security_opt": "ignored by Swarm",
    "userns_mode": "ignored by Swarm",
}
HEALTHCHECK_KEYS = frozenset({"test", "interval", "timeout", "retries", "start_period", "disable"})
PORT_KEYS = frozenset({"target", "published", "protocol", "mode"})


@dataclass(frozen=True)
class StackFile:
    text: str  # the file to deploy (JSON, which is YAML)
    notes: tuple[str, ...]  # what Swarm ignores or rejects of the user's files, one line each


def stack_file(config: Mapping[str, Any], images: Mapping[str, str]) -> StackFile:
    """``config``: compose's JSON for the run's project; ``images``: the image each service runs (built ones
    named as compose names them)."""
    notes: dict[str, list[str]] = {}
    services = {
        name: _service(name, spec, images.get(name), notes) for name, spec in sorted(config["services"].items())
    }
    out: dict[str, Any] = {"version": "3.9", "services": services}
    for section in ("networks", "volumes", "secrets", "configs"):
        entries = config.get(section) or {}
        if entries:
            out[section] = {key: _own(spec or {}, key) for key, spec in entries.items()}
    lines = [f"{key}: {', '.join(services)} ({why})" for key, (why, *services) in sorted(notes.items())]
    return StackFile(json.dumps(out, indent=2), tuple(lines))


def _note(notes: dict[str, list[str]], key: str, why: str, service: str) -> None:
    notes.setdefault(key, [why]).append(service)


def _service(name: str, spec: Mapping[str, Any], image: str | None, notes: dict[str, list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if value is None:  # compose writes `entrypoint: null` for an entrypoint reset; 3.9 takes none
            continue
        if key in IGNORED:
            _note(notes, key, IGNORED[key], name)
            continue
        if key not in SERVICE_KEYS:
            _note(notes, key, "not in the compose file format Swarm reads: dropped", name)
            continue
        out[key] = value
    out["image"] = spec.get("image") or image
    if "ports" in out:
        out["ports"] = [_port(name, p, notes) for p in out["ports"]]
    if "volumes" in out:
        out["volumes"] = [_mount(m) for m in out["volumes"]]
    if "healthcheck" in out:
        out["healthcheck"] = {k: v for k, v in out["healthcheck"].items() if k in HEALTHCHECK_KEYS}
    if "env_file" in out:  # compose has put its variables in environment; the long form is not 3.9's
        _note(notes, "env_file", "its variables are in environment already", name)
        del out["env_file"]
    return out


def _port(service: str, port: Mapping[str, Any], notes: dict[str, list[str]]) -> dict[str, Any]:
    if port.get("host_ip"):
        _note(notes, "ports host_ip", "Swarm publishes on every node's interfaces", service)
    out = {k: v for k, v in port.items() if k in PORT_KEYS and v not in (None, "")}
    if "published" in out:
        out["published"] = int(str(out["published"]).split("-")[0])
    return out


def _mount(mount: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(mount)
    if isinstance(out.get("bind"), dict):
        out["bind"] = {k: v for k, v in out["bind"].items() if k == "propagation"}
    if isinstance(out.get("volume"), dict):
        out["volume"] = {k: v for k, v in out["volume"].items() if k == "nocopy"}
    return {k: v for k, v in out.items() if v != {}}


def _own(spec: Mapping[str, Any], key: str) -> dict[str, Any]:
    """A network, volume, secret or config in the stack's namespace; an external one as written."""
    if spec.get("external"):
        return {"external": True, "name": spec.get("name", key)}
    return {k: v for k, v in spec.items() if k != "name"}
