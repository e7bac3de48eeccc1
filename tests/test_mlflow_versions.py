"""mlflow-versions' verdicts for every pairing, as a table; the live tier proves them on real clients and servers
(tests/test_live_schema.py: a 3.x client on a 2.x server, 2.x and 3.3 clients on a 3.17 server)."""

from __future__ import annotations

import pytest

from pytest_smartmaint.checks.mlflow_versions import compare, installed


@pytest.mark.parametrize(
    ("client", "server", "kind", "fragment"),
    [
        ("3.17.2", "3.17.2", None, ""),
        ("3.1.0", "2.22.0", "fail", "An MLflow 3 client is meant for an MLflow 3 server (mlflow/mlflow#16215)"),
        ("2.22.5", "3.17.2", "warn", "what MLflow 3 clients log MLflow 2 cannot read (the MLflow 3 FAQ)"),
        ("4.0.0", "3.17.2", "fail", "work together within a major release only"),
        ("3.17.2", "3.3.1", "warn", "newer than mlflow's MLflow 3.3.1: request parameters the server does not know"),
        ("3.3.1", "3.17.2", "warn", "older than mlflow's MLflow 3.17.2"),
        ("3.17.2", "3.17.2+local", "warn", "older than mlflow's MLflow 3.17.2+local"),
        ("dev", "3.17.2", "warn", "trainer has mlflow dev, and mlflow runs MLflow 3.17.2"),
    ],
)
def test_a_pairing_of_releases_gets_the_verdict_mlflow_documents(
    client: str, server: str, kind: str | None, fragment: str
) -> None:
    verdict = compare("trainer", ("mlflow", client), "mlflow", server)
    if kind is None:
        assert verdict is None
        return
    assert verdict is not None and verdict[0] == kind and fragment in verdict[1], verdict
    assert verdict[1].endswith(f"pin mlflow=={server} in trainer's image")


def test_full_mlflow_is_read_before_mlflow_skinny() -> None:
    assert installed({"mlflow": "3.17.2", "mlflow-skinny": "3.17.2"}) == ("mlflow", "3.17.2")
    assert installed({"mlflow": None, "mlflow-skinny": "2.22.5"}) == ("mlflow-skinny", "2.22.5")
    assert installed({"mlflow": None}) is None
