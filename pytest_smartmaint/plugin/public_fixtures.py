"""The fixtures users write their own infrastructure tests with, on the stack the suite checks.

Session-scoped and typed. They are registered whenever the plugin is installed, so a test that
asks for one without ``--smartmaint`` is skipped with the reason instead of erroring on an unknown
fixture; nothing touches Docker until a test asks for a live fixture. A live fixture brings the
stack up (the same stack the built-in live items use, brought up once), and under
``--smartmaint-static`` the test is skipped, saying why.

    def test_ml_image_has_libsndfile(smartmaint_host):
        assert smartmaint_host("api").package("libsndfile1").is_installed
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import pytest

from ..errors import SmartmaintError
from .stack_provider import PROVIDER_KEY, BringUpFailure, StackProvider

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from testinfra.host import Host

    from ..live.stack import LiveStack
    from ..static.stack_model import StackModel


def _plugin(request: pytest.FixtureRequest) -> StackProvider:
    plugin = request.config.stash.get(PROVIDER_KEY, None)
    if plugin is None:
        pytest.skip("this test uses a pytest-smartmaint fixture: run pytest with --smartmaint")
    return plugin


@pytest.fixture(scope="session")
def smartmaint_model(request: pytest.FixtureRequest) -> StackModel:
    """The static model: services, mounts, image facts, roles and the MLflow server's effective settings."""
    return _plugin(request).model


@pytest.fixture(scope="session")
def smartmaint_stack(request: pytest.FixtureRequest) -> LiveStack:
    """The running stack: ``.project``, ``.published(service, port)``, ``.exec(service, cmd)``, ``.logs(service)``."""
    plugin = _plugin(request)
    if plugin.settings.static_only:
        pytest.skip("--smartmaint-static starts no containers, and this test needs the running stack")
    stack = request.getfixturevalue("_smartmaint_session_stack")
    if isinstance(stack, BringUpFailure):
        pytest.fail(stack.message, pytrace=False)
    return cast("LiveStack", stack)


@pytest.fixture(scope="session")
def smartmaint_host(smartmaint_stack: LiveStack) -> Callable[[str], Host]:
    """A factory: ``smartmaint_host("api")`` is a testinfra Host on that service's container."""

    def host(service: str) -> Host:
        try:
            return smartmaint_stack.host(service)
        except SmartmaintError as exc:
            pytest.fail(str(exc), pytrace=False)

    return host


@pytest.fixture(scope="session")
def mlflow_client(smartmaint_stack: LiveStack) -> MlflowClient:
    """An ``mlflow.MlflowClient`` on this machine, talking to the server through its published port (at the
    engine's host when the engine is remote)."""
    server = smartmaint_stack.model.server
    if server is None:
        pytest.skip("the compose project has no MLflow server (no service runs `mlflow server`)")
    address = smartmaint_stack.published(server.service, server.port)
    if address is None:
        from ..live.engine_endpoint import engine_endpoint

        engine = engine_endpoint()
        where = f"{engine.publish_on}::" if engine.publish_on else ""
        pytest.skip(
            f"{server.service} publishes no port for {server.port} that this machine reaches in project "
            f'{smartmaint_stack.project} (engine {engine.describe()}); add `ports: ["{where}{server.port}"]`'
        )
    if server.enforces_allowed_hosts is not False and not server.admits_host(address):
        pytest.skip(
            f"{server.service} does not admit the Host header {address!r} "
            f"(allowed hosts: {server.allowed_hosts}); add {address.rpartition(':')[0]}:* to --allowed-hosts "
            "to use mlflow_client"
        )
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"http://{address}")
