"""mlflow-reachable: every client reaches the server by service name, and the server admits it."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pytest

from ..static.stack_model import StackModel
from .base import Case, Check, LiveCase, StaticCase, fail, not_applicable
from .messages import command, environment, fix_in, no_server

if TYPE_CHECKING:
    from ..live.stack import LiveStack

NAME = "mlflow-reachable"
LOOPBACK = ("localhost", "127.0.0.1", "0.0.0.0", "::1", "[::1]")


def static_cases(model: StackModel) -> list[StaticCase]:
    if model.server is None:
        return [not_applicable(NAME, "static", no_server(model))]
    if not model.roles.clients:
        return [
            not_applicable(
                NAME, "static", "no MLflow client (no service sets MLFLOW_TRACKING_URI or depends on the server)"
            )
        ]
    return [Case(NAME, "static", name, functools.partial(_check, client=name)) for name in model.roles.clients]


def tracking_uri(model: StackModel, client: str) -> str | None:
    value = model.service(client).environment.get("MLFLOW_TRACKING_URI")
    image = model.images.get(client)
    return value or (image.env.get("MLFLOW_TRACKING_URI") if image else None)


def host_header(uri: str) -> str:
    """The Host header a client sends for ``uri``: the port appears unless it is the scheme's default."""
    parsed = urlparse(uri)
    default = {"http": 80, "https": 443}.get(parsed.scheme)
    return parsed.hostname or "" if parsed.port in (None, default) else f"{parsed.hostname}:{parsed.port}"


def allowed_hosts_fix(model: StackModel, header: str) -> str:
    server = model.server
    assert server is not None
    current = server.allowed_hosts.value
    value = ",".join(dict.fromkeys([header, *(current.split(",") if current else ["localhost:*", "127.0.0.1:*"])]))
    return fix_in(server.service, command(f"mlflow server ... --allowed-hosts {value}"))


def _check(model: StackModel, client: str) -> None:
    server = model.server
    assert server is not None
    expected = f"http://{server.service}:{server.port}"
    uri = tracking_uri(model, client)
    if not uri:
        pytest.skip(
            f"{client} depends on {server.service} and has mlflow, but the files set no MLFLOW_TRACKING_URI for it: "
            "its code may set the URI (mlflow.set_tracking_uri); without one, MLflow logs to ./mlruns inside it. "
            f"The live item mlflow-reachable[live-{client}] checks the container's environment"
        )
    assert uri is not None
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https"):
        fail(
            f"{client} sets MLFLOW_TRACKING_URI={uri}: that is a store of its own ({parsed.scheme or 'a local path'}),"
            f" so {client} bypasses {server.service}: what it logs is in no registry the other services see.\n"
            + fix_in(client, environment(MLFLOW_TRACKING_URI=expected))
        )
    host, port = parsed.hostname or "", parsed.port or {"https": 443}.get(parsed.scheme, 80)
    fix = fix_in(client, environment(MLFLOW_TRACKING_URI=expected))
    if host in LOOPBACK:
        fail(
            f"{client} sets MLFLOW_TRACKING_URI={uri}: inside a container, {host} is that container itself, "
            f'not {server.service}.\nEvery MLflow call from {client} fails with "Connection refused".\n{fix}'
        )
    aliases = model.service(server.service).aliases
    if host not in aliases:
        fail(
            f"{client} sets MLFLOW_TRACKING_URI={uri}, but {host} is not a name of the server service "
            f"{server.service} (names: {', '.join(sorted(aliases))}).\n{fix}"
        )
    if port != server.port:
        fail(
            f"{client} sets MLFLOW_TRACKING_URI={uri}, but {server.service} listens on container port "
            f"{server.port} ({'--port' if server.port != 5000 else 'MLflow default'}); published host ports do not "
            f"apply between containers.\n{fix}"
        )
    header = host_header(uri)
    if server.admits_host(header) or server.enforces_allowed_hosts is False:
        return
    if server.enforces_allowed_hosts is None:
        pytest.skip(
            f"the files do not say which MLflow {server.service} runs, so whether it checks the Host header "
            f"{header!r} (MLflow 3.5+) cannot be told; the live item mlflow-reachable[live-{client}] makes a "
            "real API call"
        )
    hosts = server.allowed_hosts.value or "MLflow's defaults: localhost, 127.0.0.1 and private IP ranges, with :*"
    fail(
        f"{server.service} ({server.mlflow_described}) does not admit the Host header {header!r} that {client} sends "
        f"(MLFLOW_TRACKING_URI={uri}).\nAllowed hosts: {hosts} ({server.allowed_hosts.source}).\n"
        f'/health still answers 200, but every API call from {client} gets 403 "Invalid Host header - possible '
        f'DNS rebinding attack detected"; --allowed-hosts matches host:port exactly.\n'
        f"{allowed_hosts_fix(model, header)}"
    )


def live_cases(model: StackModel) -> list[LiveCase]:
    if model.server is None or not model.roles.clients:
        return [not_applicable(NAME, "live", "no MLflow server and client to connect")]
    return [
        Case(NAME, "live", name, functools.partial(_live, client=name), (name, model.server.service))
        for name in model.roles.clients
    ]


def _live(stack: LiveStack, client: str) -> None:
    model = stack.model
    server = model.server
    assert server is not None
    facts = stack.facts(client)
    uri = facts.tracking_uri
    expected = f"http://{server.service}:{server.port}"
    if not uri:
        fail(
            f"{client} runs with no MLFLOW_TRACKING_URI in its environment, so MLflow logs to ./mlruns inside it.\n"
            + fix_in(client, environment(MLFLOW_TRACKING_URI=expected))
        )
    from ..live.facts import HttpAnswer  # the live tier's types load only when a live item runs

    api = facts.api or HttpAnswer(None, error="no request made")
    status = api.status
    if status == 200:
        return
    probe = f"GET {uri}/api/2.0/mlflow/experiments/search?max_results=1 from inside {client}"
    health = facts.health.status if facts.health else None
    if status == 403 and "Invalid Host header" in api.body:
        header = host_header(uri)
        fail(
            f'{server.service} refuses {client}: {probe} -> HTTP 403 "Invalid Host header - possible DNS rebinding '
            f'attack detected" (while /health answers {health}).\n'
            f"MLflow 3 checks the Host header ({header!r}) against --allowed-hosts "
            f"(now: {server.allowed_hosts.value or 'not set: localhost, 127.0.0.1, private IPs'}; "
            f"{server.allowed_hosts.source}), and host:port must match exactly.\n{allowed_hosts_fix(model, header)}"
        )
    if status is None:
        fail(
            f"{client} cannot reach {server.service}: {probe} -> {api.error}.\n"
            f"Check that MLFLOW_TRACKING_URI={uri} names the service {server.service} and its container port "
            f"{server.port}, and that both services share a compose network.\nExpected: MLFLOW_TRACKING_URI: {expected}"
        )
    fail(
        f"{server.service} answered {client} with HTTP {status}: {probe}\n  {api.body[:300]}\n"
        f"/health answers {health}; a 5xx on API calls usually means the backend store is unusable "
        f"({server.backend_store_uri.shown}): see the server's log below."
    )


CHECK = Check(NAME, static=static_cases, live=live_cases, explains_startup=True)
