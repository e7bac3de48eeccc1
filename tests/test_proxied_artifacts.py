"""volume-paths, static: a server that serves the artifacts (--serve-artifacts) keeps them on a mount.

The live half (the smoke model loads after a forced recreate) is in tests/test_live_proxied_artifacts.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from static_helpers import load, verdict


def proxied(destination: str | None, volumes: str = "") -> str:
    flag = f"      --artifacts-destination {destination}\n" if destination else ""
    return (
        "services:\n  mlflow:\n    command: >-\n      mlflow server --host 0.0.0.0 --port 5000 --serve-artifacts\n"
        "      --backend-store-uri sqlite:////mlflow_db/mlflow.db\n"
        f"{flag}"
        "      --allowed-hosts mlflow:5000,localhost:*\n"
        f"    volumes: !override\n      - ./mlflow_db:/mlflow_db\n{volumes}"
    )


def test_a_destination_on_a_volume_needs_no_client_mount(project_dir: Path) -> None:
    model = load(project_dir, proxied("/artifacts", "      - artifacts:/artifacts\nvolumes:\n  artifacts:\n"))
    assert verdict(model, "volume-paths", "artifact-root").startswith("skipped: the artifact root is proxied")


@pytest.mark.parametrize(
    ("destination", "path", "source"),
    [
        ("/artifacts", "/artifacts", "--artifacts-destination in compose command"),
        (None, "/srv/mlartifacts", "MLflow default"),  # ./mlartifacts, in the image's WORKDIR /srv
    ],
)
def test_a_destination_on_no_mount_fails_with_what_is_lost(
    project_dir: Path, destination: str | None, path: str, source: str
) -> None:
    message = verdict(load(project_dir, proxied(destination)), "volume-paths", path)
    assert message.startswith(
        f"mlflow serves the artifacts (--serve-artifacts, artifact root mlflow-artifacts:/) and keeps them in {path} "
        f"({source}), on no mount."
    ), message
    assert "after a recreate the registry still lists its versions" in message
    fix = "Fix, in service mlflow, a named volume (declared under `volumes:`):\n    volumes:\n"
    assert f"{fix}      - mlflow_artifacts:{path}" in message


def test_a_remote_destination_is_not_this_checks(project_dir: Path) -> None:
    model = load(project_dir, proxied("s3://bucket/artifacts"))
    assert verdict(model, "volume-paths", "artifact-root").startswith("skipped: the artifact root is proxied")
