"""depends-reachable: every service reaches what it `depends_on`, by service name, on each port the target
listens on."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

import pytest

from ..errors import SmartmaintError
from ..static.compose import Service
from ..static.stack_model import StackModel
from .base import Case, Check, LiveCase, StaticCase, fail, record_facts, table
from .messages import checked_live, fix_in

if TYPE_CHECKING:
    from ..live.stack import LiveStack

NAME = "depends-reachable"
COMPLETION = "service_completed_successfully"  # a job to wait for, not a server to reach


def pairs(model: StackModel) -> list[tuple[str, str]]:
    """(dependent, target) for every network dependency: `depends_on` less one-shot jobs waited for."""
    return [
        (s.name, target)
        for s in model.project.services.values()
        for target in s.depends_on
        if s.depends_conditions.get(target) != COMPLETION and target in model.project.services
    ]


def static_cases(model: StackModel) -> list[StaticCase]:
    return [
        Case(NAME, "static", f"{source}->{target}", functools.partial(_check, source=source, target=target))
        for source, target in pairs(model)
    ]


def live_cases(model: StackModel) -> list[LiveCase]:
    return [
        Case(
            NAME,
            "live",
            f"{source}->{target}",
            functools.partial(_live, source=source, target=target),
            (source, target),
        )
        for source, target in pairs(model)
    ]


def declared_ports(model: StackModel, target: str) -> tuple[int, ...]:
    image = model.images.get(target)
    ports = {*model.service(target).declared_ports(), *(image.exposed_ports if image else ())}
    if model.server is not None and model.server.service == target:
        ports.add(model.server.port)
    return tuple(sorted(ports))


def http_ports(model: StackModel, source: str, target: str) -> tuple[int, ...]:
    """Ports the files say speak HTTP: a URL to the target in the dependent's environment, the target's own
    healthcheck URL, or the MLflow server's port."""
    text = " ".join(
        [*(v or "" for v in model.service(source).environment.values()), *model.service(target).healthcheck]
    )
    found = {int(p) for p in re.findall(rf"https?://(?:{re.escape(target)}|localhost|127\.0\.0\.1):(\d+)", text)}
    if model.server is not None and model.server.service == target:
        found.add(model.server.port)
    return tuple(sorted(found))


def _networks_fix(source: Service, target: Service) -> str:
    nets = sorted(source.networks | target.networks)
    return fix_in(
        source.name, "    networks:\n" + "\n".join(f"      - {n}" for n in nets), how=f"join a network of {target.name}"
    )


def _shared(source: Service, target: Service) -> bool | None:
    """None when a network_mode (host, service:...) puts one of them outside compose's networks."""
    if source.network_mode or target.network_mode:
        return None
    return bool(source.networks & target.networks)


def _check(model: StackModel, source: str, target: str) -> None:
    src, tgt = model.service(source), model.service(target)
    shared = _shared(src, tgt)
    if shared is None:
        pytest.skip(
            f"{source if src.network_mode else target} uses network_mode "
            f"{src.network_mode or tgt.network_mode}: " + checked_live(NAME, f"{source}->{target}")
        )
    if not shared:
        fail(
            f"{source} depends on {target}, but they share no network ({source}: {', '.join(sorted(src.networks))}; "
            f"{target}: {', '.join(sorted(tgt.networks))}).\n{source} cannot resolve the name {target}: every "
            f'connection fails with "Name or service not known" (socket.gaierror), whatever the port.\n'
            + _networks_fix(src, tgt)
        )
    ports = declared_ports(model, target)
    if not ports:
        pytest.skip(
            f"the files do not say which port {target} listens on (no expose:, ports: or EXPOSE); "
            + checked_live(NAME, f"{source}->{target}", "on the ports it really listens on")
        )
    record_facts(ports=list(ports))


def _live(stack: LiveStack, source: str, target: str) -> None:
    model = stack.model
    src, tgt = model.service(source), model.service(target)
    try:
        listeners = stack.listeners(target)
    except SmartmaintError as exc:
        fail(f"cannot see what {target} listens on: {exc}")
    outside = {listener.port for listener in listeners if not listener.loopback}
    declared = declared_ports(model, target)
    ports = sorted({*declared, *outside})
    if not ports:
        fail(
            f"{target} listens on no TCP port that another container can reach, and the files declare none "
            f"(listening: {', '.join(f'{li.address}:{li.port}' for li in listeners) or 'nothing'}); "
            f"{source} depends on it."
        )
    web = [p for p in http_ports(model, source, target) if p in ports]
    try:
        reach = stack.reach(source, target, ports, web)
    except SmartmaintError as exc:
        pytest.skip(f"the connection probe cannot run in {source} (it needs python3): {exc}")
    record_facts(
        addresses=list(reach.addresses),
        ports={str(p.port): p.outcome + (f" ({p.http})" if p.http else "") for p in reach.ports},
    )
    if reach.resolve_error:
        shared = _shared(src, tgt)
        why = (
            f"They share no network ({source}: {', '.join(sorted(src.networks))}; {target}: "
            f"{', '.join(sorted(tgt.networks))}).\n" + _networks_fix(src, tgt)
            if shared is False
            else f"They share a network, so {target} has no running container, or its aliases do not include "
            f"{target}: see `docker compose ps {target}`."
        )
        fail(f"{source} cannot resolve the name {target}: {reach.resolve_error}.\n{why}")
    problems, rows = [], []
    for port in reach.ports:
        bound = [listener for listener in listeners if listener.port == port.port]
        rows.append(
            [
                f"{target}:{port.port}",
                port.outcome + (f", {port.http!r}" if port.http else ""),
                ", ".join(f"listens at {listener.address}" for listener in bound) or "not listening",
            ]
        )
        if port.outcome == "refused":
            if bound and all(listener.loopback for listener in bound):
                problems.append(
                    f"{target} listens on {port.port} only at {bound[0].address}, so other containers are "
                    f"refused. Make it listen on 0.0.0.0 (for example redis-server --bind 0.0.0.0, "
                    f"postgres -c listen_addresses='*', a web server's --host 0.0.0.0)."
                )
            elif not bound:
                problems.append(
                    f"nothing listens on {port.port} in {target} (the files declare it): the service "
                    f"listens elsewhere or has not started."
                )
            else:
                problems.append(
                    f"{target}:{port.port} refused {source} although it listens on "
                    f"{bound[0].address}:{port.port}: a firewall rule in {target}?"
                )
        elif port.outcome == "timeout":
            problems.append(
                f"{target}:{port.port} did not answer {source} within 5 s: the packets are dropped "
                f"(a firewall, a paused container, or a service too busy to accept)."
            )
        elif port.outcome == "error":
            problems.append(f"{target}:{port.port}: {port.error}")
        elif port.port in web and not (port.http or "").startswith("HTTP/"):
            problems.append(f"{target}:{port.port} accepts connections but does not answer HTTP (got {port.http!r}).")
    if problems:
        fail(
            f"{source} cannot reach {target} ({', '.join(reach.addresses)}) on a port it listens on:\n"
            + table([["port", "outcome", "in " + target], *rows])
            + "\n"
            + "\n".join(f"- {p}" for p in problems)
        )


CHECK = Check(NAME, static=static_cases, live=live_cases)
