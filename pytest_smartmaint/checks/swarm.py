"""swarm: the rules Swarm adds to a compose file that `docker stack deploy` runs (static tier).

Only for a stack meant for Swarm (--smartmaint-swarm, --smartmaint-swarm-stack): under compose the
same files are right. Each rule fails only where the files prove it; what the swarm decides (which
nodes a label names, whether a volume driver spans nodes, which registry holds an image) is a skip
that says so.
"""

from __future__ import annotations

import functools
import re

import pytest

from ..static.compose import Service, TopVolume
from ..static.stack_model import StackModel
from .base import Case, Check, StaticCase, fail, record_facts
from .messages import fix_in
from .sqlite_backend import file_store_path

NAME = "swarm"
NETWORK_VOLUME_TYPES = ("nfs", "nfs4", "cifs", "smb")  # local driver options that mount the same share on every node
PINNING = re.compile(r"^\s*node\.(hostname|id)\s*==\s*(\S+)\s*$")  # constraints that name one node
# `restart:` as Swarm converts it when there is no deploy.restart_policy (docker/cli convertRestartPolicy): "no"
# sets no policy, so Swarm's default (any) applies
RESTART_AS_CONDITION = {"no": "any", "always": "any", "unless-stopped": "any", "on-failure": "on-failure"}


def static_cases(model: StackModel) -> list[StaticCase]:
    if not model.swarm:
        return []
    cases: list[StaticCase] = [
        Case(NAME, "static", f"volume-{key}", functools.partial(_check_volume, key=key), tuple(services))
        for key, services in _spread_volumes(model).items()
    ]
    server = model.server
    if server is not None and (server.sqlite_path or file_store_path(model)):
        cases.append(Case(NAME, "static", f"sqlite-writer-{server.service}", _check_writer, (server.service,)))
    cases += [
        Case(NAME, "static", f"restart-{s.name}", functools.partial(_check_restart, service=s.name), (s.name,))
        for s in model.project.services.values()
        if s.depends_on
    ]
    cases += [
        Case(NAME, "static", f"image-{name}", functools.partial(_check_image, service=name), (name,))
        for name in sorted(model.project.services)
    ]
    return cases


def _spread_volumes(model: StackModel) -> dict[str, list[str]]:
    """Named volumes that more than one task mounts: two services, or one service with more than one task."""
    found: dict[str, list[str]] = {}
    for key in model.project.volumes:
        services = sorted({s.name for s, m in model.project.sharers(key) if m.kind == "volume"})
        tasks = sum(2 if _global(model.service(s)) else _task_count(model.service(s)) for s in services)
        if tasks > 1:
            found[key] = services
    return found


def _global(service: Service) -> bool:
    return service.deploy.mode == "global"


def _task_count(service: Service) -> int:
    return service.deploy.replicas if service.deploy.replicas is not None else service.replicas


def _pinned_node(service: Service) -> str | None:
    """``node.hostname == a`` or ``node.id == x`` among its constraints: the one node its tasks run on."""
    for constraint in service.deploy.constraints:
        match = PINNING.match(constraint)
        if match:
            return f"node.{match.group(1)} == {match.group(2)}"
    return None


def _spans_nodes(volume: TopVolume) -> bool:
    """The local driver mounting a network share: every node mounts the same data."""
    kind = volume.driver_opts.get("type", "")
    return (volume.driver in (None, "local")) and (
        kind in NETWORK_VOLUME_TYPES or "addr=" in volume.driver_opts.get("o", "")
    )


def _check_volume(model: StackModel, key: str) -> None:
    volume = model.project.volumes[key]
    services = [model.service(name) for name in _spread_volumes(model)[key]]
    names = ", ".join(s.name for s in services)
    if volume.external:
        pytest.skip(f"{key} is external: its driver is not in the files (volume-paths checks the mounts live)")
    if _spans_nodes(volume):
        record_facts(driver=volume.driver or "local", type=volume.driver_opts.get("type", ""))
        return
    if volume.driver not in (None, "local"):
        pytest.skip(
            f"{key} uses the volume driver {volume.driver}: whether it spans nodes is the driver's, not the files' "
            "(volume-paths checks it live)"
        )
    pins = {s.name: _pinned_node(s) for s in services}
    spread = [s.name for s in services if _global(s) and pins[s.name] is None]  # pinned, global is one node's
    unpinned = [s.name for s in services if pins[s.name] is None and not _global(s)]
    places = {p for p in pins.values() if p}
    record_facts(
        services=[s.name for s in services], placement={n: p or "" for n, p in pins.items()}, nodes=model.swarm_nodes
    )
    if not spread and not unpinned and len(places) == 1:
        return
    nothing_pins = f"nothing keeps {names}, which share the named volume {key}, on one node"
    if model.swarm_nodes is None:
        pytest.skip(
            f"{nothing_pins}: on a swarm of more than one node each node that runs one of their tasks has a {key} of "
            "its own. How many nodes the swarm has is not in the files: --smartmaint-swarm checks against it"
        )
    if model.swarm_nodes == 1:
        pytest.skip(
            f"{nothing_pins}: the swarm has one node, so they share it now; with a second node they would not. "
            "Pin them (deploy.placement.constraints: [node.hostname == <one node>]) before adding one"
        )
    if not spread and len(places) <= 1 and all(model.service(n).deploy.constraints for n in unpinned):
        pytest.skip(
            f"{names} share the named volume {key}, on constraints the swarm resolves "
            f"({'; '.join(sorted({c for s in services for c in s.deploy.constraints}))}): whether they name one node "
            "is the swarm's, not the files' (volume-paths checks it live)"
        )
    why = []
    if spread:
        why.append(f"{', '.join(spread)} run{'s' if len(spread) == 1 else ''} a task on every node (mode: global)")
    if unpinned:
        why.append(f"{', '.join(unpinned)} {'has' if len(unpinned) == 1 else 'have'} no constraint that names a node")
    if len(places) > 1:
        why.append("they are pinned to different nodes (" + "; ".join(f"{n}: {p}" for n, p in pins.items() if p) + ")")
    fail(
        f"{names} share the named volume {key}, but the swarm has {model.swarm_nodes} nodes and may run their tasks "
        "on different ones: "
        + "; ".join(why)
        + f".\nThe local driver makes {key} on each node that runs a task, empty there: a task on another node does "
        "not see what the others wrote (an MLflow client on the worker finds no artifacts).\n"
        + fix_in(
            names,
            "    deploy:\n      placement:\n        constraints: [node.hostname == <one node>]",
            how="pin every service that mounts it to one node",
        )
        + f"\nor give {key} a driver every node mounts the same data with (driver_opts type: nfs, a volume plugin)."
    )


def _check_writer(model: StackModel) -> None:
    server = model.server
    assert server is not None
    service = model.service(server.service)
    deploy = service.deploy
    store = server.sqlite_path or file_store_path(model)
    problems = []
    if _global(service):
        problems.append("mode: global runs one server on every node")
    if _task_count(service) > 1:
        problems.append(f"{_task_count(service)} replicas run at once")
    for key, order in (("update_config", deploy.update_order), ("rollback_config", deploy.rollback_order)):
        if order == "start-first":
            problems.append(f"{key}.order: start-first starts the new task before it stops the old one")
    record_facts(
        replicas=_task_count(service),
        update_order=deploy.update_order or "stop-first (default)",
        rollback_order=deploy.rollback_order or "stop-first (default)",
    )
    if problems:
        fail(
            f"{server.service} keeps MLflow's backend store in {store} ({server.backend_store_uri}), which takes one "
            f"writer, but under Swarm: {'; '.join(problems)}.\nTwo servers then write the same file: 'database is "
            "locked' errors, or a store corrupted by writers on different hosts over a shared volume.\n"
            + fix_in(
                server.service,
                "    deploy:\n      mode: replicated\n      replicas: 1\n      update_config:\n"
                "        order: stop-first\n      rollback_config:\n        order: stop-first",
            )
        )


def _restart_condition(service: Service) -> tuple[str, str]:
    """Swarm's restart condition for the service, and where it comes from."""
    if service.deploy.restart_condition:
        return service.deploy.restart_condition, "deploy.restart_policy.condition"
    if service.restart:
        kind = service.restart.split(":", 1)[0]
        return RESTART_AS_CONDITION.get(kind, "any"), f"restart: {service.restart} (no deploy.restart_policy)"
    return "any", "Swarm's default"


def _check_restart(model: StackModel, service: str) -> None:
    spec = model.service(service)
    condition, source = _restart_condition(spec)
    targets = ", ".join(spec.depends_on)
    record_facts(condition=condition, source=source, depends_on=list(spec.depends_on))
    if condition == "none":
        fail(
            f"{service} depends on {targets}, but Swarm ignores depends_on: it starts {service} whenever it is "
            f"scheduled, possibly before {targets} answers. Its restart condition is none ({source}), so a first "
            f"failed connection ends {service} for good.\n"
            + fix_in(service, "    deploy:\n      restart_policy:\n        condition: on-failure")
        )


def _registry_host(image: str) -> str | None:
    """The registry an image reference names (``registry:5000/app``), or None for Docker Hub."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def _check_image(model: StackModel, service: str) -> None:
    spec = model.service(service)
    if spec.build is None:
        record_facts(image=spec.image or "")
        return
    if not spec.image:
        fail(
            f"{service} has build: and no image:. Swarm ignores build:, so `docker stack deploy` has no image to "
            f"run for {service}, and no other node could pull one.\n"
            + fix_in(service, f"    image: <registry every node reaches>/{service}:<tag>")
            + "\nthen `docker compose build && docker compose push` before `docker stack deploy`."
        )
    host = _registry_host(spec.image)
    record_facts(image=spec.image, registry=host or "docker.io")
    if host is None:
        pytest.skip(
            f"{service} builds {spec.image} here. A node without it pulls docker.io/{spec.image}, which exists only "
            "if it was pushed there: whether it was is the registry's, not the files' (push it, or name a registry "
            "every node reaches in image:)"
        )


CHECK = Check(NAME, static=static_cases)
