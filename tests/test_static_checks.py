"""The static checks on small compose projects: one sound base, broken one way per test.

Every test goes through the real `docker compose config` (no engine needed).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_smartmaint.checks import REGISTRY
from static_helpers import load, verdict

Write = Callable[[str, str], Path]


def test_the_base_project_passes_every_static_check(project_dir: Path) -> None:
    model = load(project_dir)
    results = {c.name: verdict(model, c.check, c.subject) for c in REGISTRY.static_cases(model)}
    assert {n: r for n, r in results.items() if r != "passed" and not r.startswith("skipped")} == {}
    assert results["volume-paths[static-./mlflow_data]"] == "passed"
    assert results["uid-mapping[static-./mlflow_data]"] == "passed"
    assert results["sqlite-backend[static-mlflow]"] == "passed"
    assert results["lock-consistency[static-n/a]"].startswith("skipped: no poetry.lock")


# --- volume-paths ------------------------------------------------------------------------


def test_consumer_mounting_the_store_elsewhere_is_named_with_both_paths_and_the_fix(project_dir: Path) -> None:
    model = load(project_dir, "services:\n  api:\n    volumes: !override\n      - ./mlflow_data:/app/mlruns\n")
    message = verdict(model, "volume-paths", "./mlflow_data")
    assert "The MLflow artifact store ./mlflow_data is mounted at different paths" in message
    assert re.search(r"\n    mlflow +\./mlflow_data -> /mlruns +server, artifact root /mlruns\n", message)
    assert re.search(r"\n    api +\./mlflow_data -> /app/mlruns +<- differs\n", message)
    assert "so api cannot read what trainer logs" in message
    assert "service api:\n    volumes:\n      - ./mlflow_data:/mlruns" in message


def test_client_without_the_mount_under_a_local_root_fails(project_dir: Path) -> None:
    model = load(project_dir, "services:\n  trainer:\n    volumes: !reset []\n")
    message = verdict(model, "volume-paths", "./mlflow_data")
    assert message.startswith("trainer is an MLflow client but does not mount the artifact store ./mlflow_data")
    assert "local path (/mlruns, --default-artifact-root in compose command)" in message
    assert "service trainer:\n    volumes:\n      - ./mlflow_data:/mlruns" in message


def test_consumer_mounting_the_store_read_only_fails(project_dir: Path) -> None:
    model = load(project_dir, "services:\n  api:\n    volumes: !override\n      - ./mlflow_data:/mlruns:ro\n")
    message = verdict(model, "volume-paths", "./mlflow_data")
    assert "api mounts the artifact store ./mlflow_data read-only" in message
    assert "registered_model_meta" in message


@pytest.mark.parametrize(
    ("flags", "mode"),
    # the proxied server keeps what it serves on its artifact volume (else volume-paths fails for that)
    [
        ("--serve-artifacts --artifacts-destination /mlruns", "proxied"),
        ("--default-artifact-root s3://bucket/mlflow", "remote"),
    ],
    ids=["proxied", "s3"],
)
def test_no_client_mount_is_needed_when_artifacts_are_not_a_local_path(
    project_dir: Path, flags: str, mode: str
) -> None:
    command = (
        f"mlflow server --host 0.0.0.0 --backend-store-uri sqlite:////mlflow_db/mlflow.db --allowed-hosts mlflow:5000 "
        f"{flags}"
    )
    model = load(project_dir, f"services:\n  mlflow:\n    command: {command}\n  trainer:\n    volumes: !reset []\n")
    assert model.server is not None and model.server.artifact_mode == mode
    assert verdict(model, "volume-paths", "./mlflow_data") == "passed"
    assert verdict(model, "volume-paths", "artifact-root").startswith(f"skipped: the artifact root is {mode}")


def test_artifact_root_on_no_mount_of_the_server_fails(project_dir: Path) -> None:
    model = load(project_dir, "services:\n  mlflow:\n    volumes: !override\n      - ./mlflow_db:/mlflow_db\n")
    message = verdict(model, "volume-paths", "/mlruns")
    assert "The MLflow artifact root /mlruns" in message and "lies on no mount of mlflow" in message


# --- uid-mapping ---------------------------------------------------------------------------


def test_uid_mismatch_between_sharers_fails_naming_each_user(project_dir: Path) -> None:
    model = load(project_dir, 'services:\n  api:\n    user: "1001:1001"\n')
    message = verdict(model, "uid-mapping", "./mlflow_data")
    assert "The services sharing ./mlflow_data run as different users" in message
    assert "1001:1001" in message and "1000:1000" in message
    assert 'api:\n      user: "1000:1000"' in message


def test_missing_user_with_a_root_image_fails(project_dir: Path, write: Write) -> None:
    write("ml_root/Dockerfile", "FROM python:3.12-slim\nRUN pip install mlflow==3.17.2\n")
    model = load(project_dir, "services:\n  api:\n    build: ./ml_root\n    user: !reset null\n")
    message = verdict(model, "uid-mapping", "./mlflow_data")
    assert re.search(r"\n    api +\./mlflow_data -> /mlruns +root \(0:0\) +image default \(root\)", message)
    assert "api sets no user: in compose" in message


def test_missing_user_with_the_same_dockerfile_user_passes(project_dir: Path) -> None:
    model = load(project_dir, "services:\n  api:\n    user: !reset null\n")
    user = model.effective_user("api")
    assert (str(user.identity), user.source) == ("1000:1000", "Dockerfile USER")
    assert verdict(model, "uid-mapping", "./mlflow_data") == "passed"


def test_a_named_user_resolves_through_useradd_in_the_dockerfile(project_dir: Path, write: Write) -> None:
    write(
        "ml/Dockerfile",
        "FROM python:3.12-slim AS base\nRUN groupadd --gid 1000 app && useradd --uid 1000 -g app -m appuser\n"
        "FROM base\nCOPY requirements.txt /tmp/r.txt\nRUN pip install -r /tmp/r.txt\nUSER appuser\n",
    )
    model = load(project_dir, "services:\n  api:\n    user: !reset null\n")
    assert str(model.effective_user("api").identity) == "appuser (1000:1000)"
    assert verdict(model, "uid-mapping", "./mlflow_data") == "passed"
    model = load(project_dir, "services:\n  api:\n    user: appuser:root\n")
    assert "appuser:root (1000:0)" in verdict(model, "uid-mapping", "./mlflow_data")


def test_a_named_user_without_an_id_in_the_files_is_a_skip_not_a_failure(project_dir: Path, write: Write) -> None:
    write("ml/Dockerfile", "FROM python:3.12-slim\nRUN useradd -m appuser\nUSER appuser\n")
    model = load(project_dir, "services:\n  api:\n    user: !reset null\n")
    message = verdict(model, "uid-mapping", "./mlflow_data")
    assert message.startswith("skipped: the files cannot tell who api runs as (api: Dockerfile USER)")
    assert "the live item uid-mapping[live-./mlflow_data] checks it" in message


def test_services_running_one_prebuilt_image_with_no_user_share_it(project_dir: Path) -> None:
    images = "services:\n" + "".join(
        f"  {s}:\n    build: !reset null\n    image: registry.example/{image}\n    user: !reset null\n"
        for s, image in (("mlflow", "ml:1"), ("trainer", "ml:1"), ("api", "ml:1"))
    )
    assert verdict(load(project_dir, images), "uid-mapping", "./mlflow_data") == "passed"
    other = images.replace(
        "  api:\n    build: !reset null\n    image: registry.example/ml:1",
        "  api:\n    build: !reset null\n    image: registry.example/api:2",
    )
    message = verdict(load(project_dir, other), "uid-mapping", "./mlflow_data")
    assert message.startswith("skipped: the files cannot tell who api, mlflow, trainer run as")


def test_a_base_image_that_may_set_its_own_user_is_not_assumed_root(project_dir: Path, write: Write) -> None:
    write("ml/Dockerfile", "FROM jupyter/scipy-notebook:2024-01-01\nRUN pip install mlflow==3.17.2\n")
    model = load(project_dir, "services:\n  api:\n    user: !reset null\n")
    assert "USER of the base image jupyter/scipy-notebook:2024-01-01" in verdict(model, "uid-mapping", "./mlflow_data")


# --- sqlite-backend ------------------------------------------------------------------------


def _server_command(project_dir: Path, command: str, extra: str = "") -> str:
    return f"services:\n  mlflow:\n    command: {command}\n{extra}"


def test_default_backend_in_the_working_directory_is_not_persistent(project_dir: Path) -> None:
    model = load(
        project_dir, _server_command(project_dir, "mlflow server --host 0.0.0.0 --default-artifact-root /mlruns")
    )
    message = verdict(model, "sqlite-backend", "mlflow")
    assert "sqlite:///mlflow.db (MLflow default) is the file /srv/mlflow.db in mlflow, on no mount" in message
    assert "relative to the working directory /srv" in message
    assert "--backend-store-uri sqlite:////mlflow_db/mlflow.db" in message


def test_sqlite_file_under_an_unmounted_path_fails(project_dir: Path) -> None:
    model = load(
        project_dir, _server_command(project_dir, "mlflow server --backend-store-uri sqlite:////data/mlflow.db")
    )
    message = verdict(model, "sqlite-backend", "mlflow")
    assert "is the file /data/mlflow.db in mlflow, on no mount" in message
    assert "- ./mlflow_db:/data" in message


def test_backend_from_shell_default_resolves_like_sh(project_dir: Path) -> None:
    command = '["sh", "-c", "mlflow server --backend-store-uri $${BACKEND:-sqlite:////mlflow_db/mlflow.db}"]'
    model = load(project_dir, _server_command(project_dir, command))
    assert model.server is not None
    assert model.server.backend_store_uri.value == "sqlite:////mlflow_db/mlflow.db"
    assert verdict(model, "sqlite-backend", "mlflow") == "passed"
    model = load(
        project_dir, _server_command(project_dir, command, "    environment:\n      BACKEND: sqlite:////tmp/reg.db\n")
    )
    assert "is the file /tmp/reg.db in mlflow, on no mount" in verdict(model, "sqlite-backend", "mlflow")


def test_single_file_mount_of_the_db_fails(project_dir: Path) -> None:
    model = load(
        project_dir,
        "services:\n  mlflow:\n    volumes: !override\n      - ./mlflow_db/mlflow.db:/mlflow_db/mlflow.db\n   "
        "   - ./mlflow_data:/mlruns\n",
    )
    message = verdict(model, "sqlite-backend", "mlflow")
    assert "mounts only the SQLite file itself" in message and "-journal" in message
    assert "- ./mlflow_db:/mlflow_db" in message


@pytest.mark.parametrize(
    "declaration",
    [
        "    tmpfs:\n      - /mlflow_db:uid=1000,gid=1000\n",
        "    volumes: !override\n      - type: tmpfs\n        target: /mlflow_db\n      - ./mlflow_data:/mlruns\n",
    ],
    ids=["tmpfs-key", "tmpfs-volume"],
)
def test_sqlite_file_on_a_tmpfs_is_diagnosed_as_wiped_at_every_stop(project_dir: Path, declaration: str) -> None:
    model = load(
        project_dir,
        "services:\n  mlflow:\n"
        + declaration.replace("    tmpfs", "    volumes: !override\n      - ./mlflow_data:/mlruns\n    tmpfs")
        if "tmpfs:" in declaration
        else "services:\n  mlflow:\n" + declaration,
    )
    message = verdict(model, "sqlite-backend", "mlflow")
    assert "is the file /mlflow_db/mlflow.db in mlflow, on a tmpfs mount at /mlflow_db" in message
    assert "wiped at every stop" in message and "- ./mlflow_db:/mlflow_db" in message
    assert "on no mount" not in message


def test_non_sqlite_backend_is_skipped_with_the_reason(project_dir: Path) -> None:
    model = load(
        project_dir,
        _server_command(
            project_dir, "mlflow server --backend-store-uri postgresql://db/mlflow --default-artifact-root /mlruns"
        ),
    )
    assert verdict(model, "sqlite-backend", "mlflow").startswith("skipped: the backend store is postgresql://db/mlflow")


# --- audio-deps ----------------------------------------------------------------------------


def test_audio_image_with_an_old_soundfile_and_no_libsndfile_fails(project_dir: Path, write: Write) -> None:
    write(
        "ml/Dockerfile",
        "FROM python:3.12-slim\nCOPY requirements.txt /tmp/requirements.txt\nRUN pip install -r "
        "/tmp/requirements.txt\n",
    )
    write("ml/requirements.txt", "mlflow==3.17.2\nlibrosa\nresampy\nsoundfile==0.11.0\n")
    message = verdict(load(project_dir), "audio-deps", "api")
    assert "libsndfile is not installed, and soundfile is pinned to ==0.11.0" in message
    assert "OSError: sndfile library not found" in message
    assert "apt-get install -y --no-install-recommends libsndfile1" in message


def test_a_current_soundfile_wheel_brings_libsndfile(project_dir: Path, write: Write) -> None:
    """soundfile >= 0.12 bundles libsndfile on glibc: the live round trip passes, so must the static item."""
    write(
        "ml/Dockerfile",
        "FROM python:3.12-slim\nCOPY requirements.txt /tmp/requirements.txt\nRUN pip install -r "
        "/tmp/requirements.txt\n",
    )
    write("ml/requirements.txt", "mlflow==3.17.2\nlibrosa>=0.10\nresampy\n")
    assert verdict(load(project_dir), "audio-deps", "api") == "passed"
    write(
        "ml/Dockerfile",
        "FROM python:3.12-alpine\nCOPY requirements.txt /tmp/requirements.txt\nRUN pip install -r "
        "/tmp/requirements.txt\n",
    )
    message = verdict(load(project_dir), "audio-deps", "api")
    assert "the base image is Alpine (musl)" in message and "RUN apk add --no-cache libsndfile" in message


def test_what_librosa_requires_counts_as_declared(project_dir: Path, write: Write) -> None:
    write("ml/requirements.txt", "mlflow==3.17.2\nlibrosa==0.9.2\n")  # requires soundfile, and resampy before 0.10
    assert verdict(load(project_dir), "audio-deps", "api") == "passed"
    write("ml/requirements.txt", "mlflow==3.17.2\nlibrosa==0.11.0\n")
    message = verdict(load(project_dir), "audio-deps", "api")
    assert "declares resampy (read: requirements.txt)" in message and "soundfile" not in message


def test_audio_image_without_resampy_names_resampy(project_dir: Path, write: Write) -> None:
    write("ml/requirements.txt", "mlflow==3.17.2\nlibrosa\nsoundfile\n")
    message = verdict(load(project_dir), "audio-deps", "trainer")
    assert "declares resampy" in message and "No module named 'resampy'" in message
    assert "add resampy to requirements.txt" in message


def test_no_audio_service_is_not_applicable(project_dir: Path, write: Write) -> None:
    write("ml/requirements.txt", "mlflow==3.17.2\n")
    assert verdict(load(project_dir), "audio-deps", "n/a").startswith("skipped: no audio service")


# --- mlflow-reachable ----------------------------------------------------------------------


def test_localhost_tracking_uri_fails(project_dir: Path) -> None:
    model = load(project_dir, "services:\n  api:\n    environment:\n      MLFLOW_TRACKING_URI: http://localhost:5000\n")
    message = verdict(model, "mlflow-reachable", "api")
    assert "localhost is that container itself" in message and "MLFLOW_TRACKING_URI: http://mlflow:5000" in message


def test_published_port_instead_of_container_port_fails(project_dir: Path) -> None:
    model = load(project_dir, "services:\n  api:\n    environment:\n      MLFLOW_TRACKING_URI: http://mlflow:5001\n")
    assert "listens on container port 5000" in verdict(model, "mlflow-reachable", "api")


@pytest.mark.parametrize("allowed", ["", "--allowed-hosts mlflow,localhost:*"], ids=["unset", "no-port"])
def test_allowed_hosts_that_do_not_admit_clients_fail(project_dir: Path, allowed: str) -> None:
    command = (
        f"mlflow server --backend-store-uri sqlite:////mlflow_db/mlflow.db --default-artifact-root /mlruns {allowed}"
    )
    message = verdict(load(project_dir, _server_command(project_dir, command)), "mlflow-reachable", "trainer")
    assert "does not admit the Host header 'mlflow:5000' that trainer sends" in message
    assert "403" in message and "--allowed-hosts mlflow:5000," in message


def test_allowed_hosts_are_not_enforced_before_mlflow_3_5(project_dir: Path, write: Write) -> None:
    write("server/Dockerfile", "FROM python:3.12-slim\nRUN pip install mlflow==2.22.1\nUSER 1000:1000\n")
    command = "mlflow server --backend-store-uri sqlite:////mlflow_db/mlflow.db --default-artifact-root /mlruns"
    assert verdict(load(project_dir, _server_command(project_dir, command)), "mlflow-reachable", "trainer") == "passed"


# --- build-context -------------------------------------------------------------------------


def _sparse(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.truncate(size)  # sparse: no real gigabytes on disk


COPY_ALL = (
    "FROM python:3.12-slim\nCOPY requirements.txt /tmp/requirements.txt\nRUN pip install -r /tmp/requirements.txt\n"
)


def _copies_everything(write: Write) -> None:
    write("ml/Dockerfile", COPY_ALL + "WORKDIR /app\nCOPY . .\nUSER 1000:1000\n")


def test_dataset_missed_by_dockerignore_fails_with_the_lines_to_add(project_dir: Path, write: Write) -> None:
    _copies_everything(write)
    _sparse(project_dir / "ml" / "data" / "train.wav", 3 * 10**9)
    write("ml/.dockerignore", "*.csv\n")
    message = verdict(load(project_dir), "build-context", "./ml")
    assert "data/train.wav  (3,000.0 MB)" in message
    assert "COPY/ADD instructions send 3,000.0 MB to the engine on every build (limit 200 MB" in message
    assert "the Dockerfile's `COPY . /app` puts it in the image" in message
    assert "./ml/.dockerignore, add:\n    **/*.wav" in message


def test_dataset_excluded_by_dockerignore_passes(project_dir: Path, write: Write) -> None:
    _copies_everything(write)
    _sparse(project_dir / "ml" / "data" / "train.wav", 3 * 10**9)
    write("ml/.dockerignore", "data/\n")
    assert verdict(load(project_dir), "build-context", "./ml") == "passed"


def test_what_no_copy_reaches_is_not_shipped(project_dir: Path, write: Write) -> None:
    """BuildKit transfers only what COPY/ADD name: the base Dockerfile copies requirements.txt alone."""
    _sparse(project_dir / "ml" / "data" / "train.wav", 3 * 10**9)
    write("ml/.env", "AWS_SECRET_ACCESS_KEY=x\n")
    assert verdict(load(project_dir), "build-context", "./ml") == "passed"


def test_a_dataset_copied_by_name_is_deliberate_and_no_fix_breaks_that_copy(project_dir: Path, write: Write) -> None:
    write("ml/Dockerfile", COPY_ALL + "WORKDIR /app\nCOPY data/train.csv data/train.csv\nCOPY . .\n")
    write("ml/data/train.csv", "a,b\n1,2\n")
    write("ml/data/extra.csv", "a,b\n3,4\n")
    message = verdict(load(project_dir), "build-context", "./ml")
    assert "data/extra.csv" in message and "data/train.csv" not in message.split("Fix")[0]
    assert "add:\n    data/extra.csv" in message and "**/*.csv" not in message  # the glob would break the COPY


def test_source_under_a_data_directory_is_not_a_dataset(project_dir: Path, write: Write) -> None:
    _copies_everything(write)
    write("ml/src/data/pipeline.py", "def load(): ...\n")
    write("ml/data/README.md", "Put the CSV files here.\n")
    write("ml/data/.gitkeep", "")
    assert verdict(load(project_dir), "build-context", "./ml") == "passed"


def test_env_file_in_the_context_fails(project_dir: Path, write: Write) -> None:
    _copies_everything(write)
    write("ml/.env", "AWS_SECRET_ACCESS_KEY=x\n")
    write("ml/.env.example", "AWS_SECRET_ACCESS_KEY=\n")
    message = verdict(load(project_dir), "build-context", "./ml")
    assert "env files that may hold secrets into the image layers: .env" in message
    assert ".env.example" not in message.split("secrets")[1].split("\n")[0]


def test_build_context_limit_comes_from_settings(project_dir: Path, write: Write) -> None:
    _copies_everything(write)
    _sparse(project_dir / "ml" / "model.bin", 2 * 10**6)
    assert verdict(load(project_dir, build_context_max_mb=1), "build-context", "./ml").count("limit 1 MB") == 1


# --- lock-consistency ----------------------------------------------------------------------

POETRY_PYPROJECT = """
[tool.poetry]
name = "audio"
version = "0.1.0"
[tool.poetry.dependencies]
python = "^3.11"
librosa = "^0.11"
resampy = "^0.4"
"""
LOCK = """
[[package]]
name = "librosa"
version = "0.11.0"
{extra}
[metadata]
lock-version = "2.1"
"""
RESAMPY = '[[package]]\nname = "resampy"\nversion = "0.4.3"\n'


def test_stale_poetry_lock_missing_resampy_fails(project_dir: Path, write: Write) -> None:
    write("ml/pyproject.toml", POETRY_PYPROJECT)
    write("ml/poetry.lock", LOCK.format(extra=""))
    message = verdict(load(project_dir), "lock-consistency", "./ml/poetry.lock")
    assert "declared in pyproject.toml but not in poetry.lock: resampy" in message
    assert "resampy is what the live checks rely on" in message
    assert "run `poetry lock`" in message


def test_lock_outside_the_declared_range_fails(project_dir: Path, write: Write) -> None:
    write("ml/pyproject.toml", POETRY_PYPROJECT.replace('resampy = "^0.4"', 'resampy = "^0.5"'))
    write("ml/poetry.lock", LOCK.format(extra=RESAMPY))
    assert "resampy: declared ^0.5, locked 0.4.3" in verdict(load(project_dir), "lock-consistency", "./ml/poetry.lock")


def test_up_to_date_poetry_lock_passes(project_dir: Path, write: Write) -> None:
    write("ml/pyproject.toml", POETRY_PYPROJECT)
    write("ml/poetry.lock", LOCK.format(extra=RESAMPY))
    assert verdict(load(project_dir), "lock-consistency", "./ml/poetry.lock") == "passed"


def test_compose_is_the_parser_env_interpolation_applies(project_dir: Path, write: Write) -> None:
    write(".env", "API_USER=1002:1002\n")
    model = load(project_dir, 'services:\n  api:\n    user: "${API_USER}"\n')
    assert model.service("api").user == "1002:1002"
    assert "1002:1002" in verdict(model, "uid-mapping", "./mlflow_data")
    assert os.environ.get("API_USER") is None


def test_a_from_image_given_by_a_build_arg_is_resolved(project_dir: Path, write: Write) -> None:
    """`ARG ML_IMAGE=...` / `FROM ${ML_IMAGE}`: the image another service builds, so its packages are inherited."""
    write(
        "ml_slim/Dockerfile",
        "ARG ML_IMAGE=acme/ml:1\nFROM ${ML_IMAGE}\nUSER root\nRUN pip uninstall -y resampy\nUSER 1000:1000\n",
    )
    model = load(
        project_dir,
        "services:\n  trainer:\n    image: acme/ml:1\n"
        "  api:\n    image: acme/ml:slim\n    build: !override\n      context: ./ml_slim\n",
    )
    image = model.images["api"]
    assert image is not None and image.base_image == "acme/ml:1"
    assert "api" in model.roles.audio  # librosa comes from the base image the trainer builds
    assert "the Dockerfile uninstalls resampy" in verdict(model, "audio-deps", "api")


# --- depends-reachable -------------------------------------------------------------------

DATASTORE = """services:
  cache:
    image: redis:7
{extra}
  api:
    depends_on: [mlflow, cache]
"""


def test_a_dependency_with_a_declared_port_on_a_shared_network_passes(project_dir: Path) -> None:
    model = load(project_dir, DATASTORE.format(extra="    expose: ['6379']"))
    assert verdict(model, "depends-reachable", "api->cache") == "passed"
    assert verdict(model, "depends-reachable", "api->mlflow") == "passed"  # the server's port, from its command


def test_a_dependency_on_no_shared_network_fails_naming_both_networks_and_the_fix(project_dir: Path) -> None:
    model = load(
        project_dir,
        DATASTORE.format(extra="    expose: ['6379']\n    networks: [backend]") + "networks:\n  backend: {}\n",
    )
    message = verdict(model, "depends-reachable", "api->cache")
    assert message.startswith("api depends on cache, but they share no network (api: default; cache: backend).")
    assert '"Name or service not known"' in message
    assert "Fix, in service api, join a network of cache:\n    networks:\n      - backend\n      - default" in message


def test_a_dependency_whose_port_the_files_do_not_tell_is_left_to_the_live_item(project_dir: Path) -> None:
    model = load(project_dir, DATASTORE.format(extra=""))  # a prebuilt image, no expose:, no ports:
    assert verdict(model, "depends-reachable", "api->cache") == (
        "skipped: the files do not say which port cache listens on (no expose:, ports: or EXPOSE); the live item "
        "depends-reachable[live-api->cache] checks it on the ports it really listens on"
    )


def test_a_job_waited_for_to_complete_is_no_network_dependency(project_dir: Path) -> None:
    model = load(
        project_dir,
        "services:\n  migrate:\n    image: alpine\n  api:\n    depends_on:\n"
        "      migrate:\n        condition: service_completed_successfully\n",
    )
    subjects = [c.subject for c in REGISTRY.static_cases(model, only=["depends-reachable"])]
    assert subjects == ["api->mlflow", "trainer->mlflow"]


# --- test-deps ---------------------------------------------------------------------------

TEST_SERVICE = "services:\n  tests:\n    build: ./tests-image\n    command: pytest -q tests/\n"
POETRY = """[tool.poetry]
name = "app"
version = "0.1.0"
[tool.poetry.dependencies]
python = "^3.11"
requests = "*"
[tool.poetry.group.dev.dependencies]
pytest = "^8"
pytest-cov = "*"
"""


def deps_verdict(project_dir: Path, write: Write, dockerfile: str, **files: str) -> str:
    write("tests-image/Dockerfile", dockerfile)
    for name, text in files.items():
        write(f"tests-image/{name.replace('_', '-').replace('-toml', '.toml').replace('-txt', '.txt')}", text)
    return verdict(load(project_dir, TEST_SERVICE), "test-deps", "tests")


def test_a_poetry_image_without_its_dev_group_fails_naming_the_group_and_the_fix(
    project_dir: Path, write: Write
) -> None:
    message = deps_verdict(
        project_dir, write, "FROM python:3.12\nCOPY . /app\nRUN poetry install --only=main\n", pyproject_toml=POETRY
    )
    assert message.startswith(
        "tests runs the tests (detected: command or entrypoint runs pytest), but its image leaves "
        "out pytest: the project declares it in the Poetry group `dev` of pyproject.toml, and its "
        "install step `poetry install --only=main`"
    )
    assert "RUN poetry install --with dev" in message and '"No module named pytest"' in message


@pytest.mark.parametrize("install", ["poetry install", "poetry install --with dev", "poetry install --only main,dev"])
def test_a_poetry_image_that_keeps_the_dev_group_passes(project_dir: Path, write: Write, install: str) -> None:
    dockerfile = f"FROM python:3.12\nCOPY . /app\nRUN {install}\n"
    assert deps_verdict(project_dir, write, dockerfile, pyproject_toml=POETRY) == "passed"


def test_a_requirements_image_without_the_test_file_fails(project_dir: Path, write: Write) -> None:
    message = deps_verdict(
        project_dir,
        write,
        "FROM python:3.12\nCOPY requirements.txt /tmp/\nRUN pip install -r /tmp/requirements.txt\n",
        requirements_txt="requests\n",
        requirements_dev_txt="pytest\npytest-xdist\n",
    )
    assert "declares it in requirements-dev.txt" in message and "RUN pip install -r requirements-dev.txt" in message


def test_a_uv_image_synced_without_dev_fails(project_dir: Path, write: Write) -> None:
    pyproject = '[project]\nname = "app"\nversion = "0"\ndependencies = []\n[dependency-groups]\ndev = ["pytest"]\n'
    message = deps_verdict(
        project_dir, write, "FROM python:3.12\nCOPY . /app\nRUN uv sync --frozen --no-dev\n", pyproject_toml=pyproject
    )
    assert "the dependency group `dev` of pyproject.toml" in message and "uv sync --group dev" in message


def test_an_install_script_is_left_to_the_live_item(project_dir: Path, write: Write) -> None:
    message = deps_verdict(
        project_dir, write, "FROM python:3.12\nCOPY . /app\nRUN ./scripts/install.sh\n", requirements_dev_txt="pytest\n"
    )
    assert message == (
        "skipped: tests's image installs through `./scripts/install.sh`, which the files do not show: "
        "the live item test-deps[live-tests] checks the running container"
    )


def test_pytest_installed_by_name_passes(project_dir: Path, write: Write) -> None:
    assert deps_verdict(project_dir, write, "FROM python:3.12\nRUN pip install pytest==8.3.0\n") == "passed"


def test_with_no_test_service_test_deps_says_how_to_name_one(project_dir: Path) -> None:
    assert verdict(load(project_dir), "test-deps", "n/a").startswith("skipped: no test service: no service's command")


def test_pipenv_is_not_read_as_pip_and_semicolons_separate_commands(project_dir: Path, write: Write) -> None:
    dockerfile = (
        "FROM python:3.12\nCOPY . /app\nRUN cd /app; pip3.12 install -r requirements.txt; pipenv install --deploy\n"
    )
    message = deps_verdict(
        project_dir, write, dockerfile, requirements_txt="requests\n", requirements_dev_txt="pytest\n"
    )
    assert message.startswith("skipped: tests's image installs through `pipenv install --deploy`"), message


# --- servers started by scripts, proxies ---------------------------------------------------


def test_a_server_script_copied_into_the_image_is_read(project_dir: Path, write: Write) -> None:
    write("server/start.sh", "#!/bin/sh\nexec mlflow server --host 0.0.0.0 --backend-store-uri sqlite:////tmp/m.db\n")
    write("server/Dockerfile", "FROM python:3.12-slim\nRUN pip install mlflow==3.17.2\nCOPY start.sh /srv/start.sh\n")
    model = load(project_dir, 'services:\n  mlflow:\n    build: ./server\n    command: ["/srv/start.sh"]\n')
    assert model.roles.server == "mlflow" and "through start.sh" in model.roles.sources["server"]
    message = verdict(model, "sqlite-backend", "mlflow")
    assert "sqlite:////tmp/m.db (--backend-store-uri in start.sh (run by the compose command))" in message


def test_a_server_script_on_a_bind_mount_is_read(project_dir: Path, write: Write) -> None:
    write("scripts/run.sh", "mlflow server --backend-store-uri sqlite:////mlflow_db/mlflow.db --port 5000\n")
    model = load(
        project_dir,
        'services:\n  mlflow:\n    command: ["bash", "/scripts/run.sh"]\n    volumes:\n      - ./scripts:/scripts\n',
    )
    assert model.roles.server == "mlflow"


def test_a_script_the_files_do_not_show_is_named_in_the_skip(project_dir: Path) -> None:
    model = load(project_dir, 'services:\n  mlflow:\n    command: ["/opt/run_mlflow.sh"]\n')
    message = verdict(model, "sqlite-backend", "n/a")
    assert message.startswith("skipped: no service is known to run `mlflow server`: mlflow runs /opt/run_mlflow.sh")


def test_a_reverse_proxy_in_front_of_the_server_is_no_client(project_dir: Path) -> None:
    model = load(project_dir, "services:\n  proxy:\n    image: nginx:1.27-alpine\n    depends_on: [mlflow]\n")
    assert "proxy" not in model.roles.clients and model.roles.proxies == ("proxy",)


def test_replicas_of_a_sqlite_server_fail_sqlite_backend(project_dir: Path) -> None:
    """One SQLite file takes one server process."""
    message = verdict(
        load(project_dir, "services:\n  mlflow:\n    deploy:\n      replicas: 2\n"), "sqlite-backend", "mlflow"
    )
    assert message.startswith(
        "mlflow runs 2 replicas (deploy.replicas / scale) on one SQLite file, /mlflow_db/mlflow.db"
    )
    assert "table registered_models already exists" in message and "replicas: 1" in message
    assert verdict(load(project_dir), "sqlite-backend", "mlflow") == "passed"
