"""Pure logic, no pytest session: settings resolution and MLflow server settings."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from packaging.version import Version

from pytest_smartmaint.settings import Settings
from pytest_smartmaint.static.mlflow_server import Setting, expand, resolve, server_command


@dataclass
class FakeConfig:
    rootpath: Path
    options: dict[str, Any] = field(default_factory=dict)
    ini: dict[str, Any] = field(default_factory=dict)
    inipath: Path | None = None

    @property
    def invocation_params(self) -> SimpleNamespace:
        return SimpleNamespace(dir=self.rootpath / "sub")

    def getoption(self, name: str) -> Any:
        return self.options.get(name)

    def getini(self, name: str) -> Any:
        return self.ini.get(
            name,
            {
                "smartmaint_build_context_max_mb": "200",
                "smartmaint_startup_timeout": "300",
                "smartmaint_teardown_timeout": "120",
                "smartmaint_min_free_gb": "10",
            }.get(name, []),
        )


def test_cli_compose_files_win_and_resolve_from_the_invocation_dir(tmp_path: Path) -> None:
    config = FakeConfig(
        tmp_path, {"smartmaint_compose_files": ["a.yml", "/abs/b.yml"]}, {"smartmaint_compose_files": ["c.yml"]}
    )
    settings = Settings.from_config(config)
    assert settings.compose_files == (tmp_path / "sub" / "a.yml", Path("/abs/b.yml"))
    assert settings.compose_files_source == "--smartmaint-compose-file"


def test_ini_compose_files_resolve_from_the_ini_file(tmp_path: Path) -> None:
    config = FakeConfig(tmp_path, ini={"smartmaint_compose_files": ["c.yml"]}, inipath=tmp_path / "conf" / "pytest.ini")
    settings = Settings.from_config(config)
    assert settings.compose_files == (tmp_path / "conf" / "c.yml",)
    assert settings.compose_files_source.startswith("smartmaint_compose_files in ")


def test_without_files_and_without_compose_defaults_none_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    settings = Settings.from_config(FakeConfig(tmp_path))
    assert settings.compose_files == ()
    assert "compose's default files (compose.yaml, " in settings.compose_files_source


@pytest.mark.parametrize(
    ("present", "used"),
    [
        (["docker-compose.yml"], ["docker-compose.yml"]),
        (["docker-compose.yml", "docker-compose.override.yml"], ["docker-compose.yml", "docker-compose.override.yml"]),
        (["compose.yaml", "docker-compose.yml", "compose.override.yml"], ["compose.yaml", "compose.override.yml"]),
        (
            ["docker-compose.yaml", "docker-compose.override.yaml"],
            ["docker-compose.yaml", "docker-compose.override.yaml"],
        ),
    ],
)
def test_compose_default_files_are_the_ones_compose_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, present: list[str], used: list[str]
) -> None:
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    for name in present:
        (tmp_path / "sub").mkdir(exist_ok=True)
        (tmp_path / "sub" / name).write_text("services: {}\n")
    settings = Settings.from_config(FakeConfig(tmp_path))
    assert settings.compose_files == tuple(tmp_path / "sub" / n for n in used)
    assert settings.compose_files_source == "compose's default files: " + " + ".join(used)


def test_compose_default_files_are_searched_in_parent_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    (tmp_path / "compose.yml").write_text("services: {}\n")
    (tmp_path / "sub").mkdir()
    settings = Settings.from_config(FakeConfig(tmp_path))
    assert settings.compose_files == (tmp_path / "compose.yml",)
    assert settings.compose_files_source == f"compose's default files: compose.yml, found in {tmp_path}"


def test_compose_file_variable_wins_over_default_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "docker-compose.yml").write_text("services: {}\n")
    monkeypatch.setenv("COMPOSE_FILE", "base.yml:ci/extra.yml")
    settings = Settings.from_config(FakeConfig(tmp_path))
    assert settings.compose_files == (tmp_path / "sub" / "base.yml", tmp_path / "sub" / "ci" / "extra.yml")
    assert settings.compose_files_source == "COMPOSE_FILE in the environment"


def test_compose_file_from_dotenv_with_its_separator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    monkeypatch.delenv("COMPOSE_PATH_SEPARATOR", raising=False)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".env").write_text('COMPOSE_PATH_SEPARATOR=;\nCOMPOSE_FILE="a.yml;b.yml"\nOTHER=1\n')
    settings = Settings.from_config(FakeConfig(tmp_path))
    assert settings.compose_files == (tmp_path / "sub" / "a.yml", tmp_path / "sub" / "b.yml")
    assert settings.compose_files_source == f"COMPOSE_FILE in {tmp_path / 'sub' / '.env'}"


def test_roles_named_in_ini_accept_commas_and_spaces(tmp_path: Path) -> None:
    settings = Settings.from_config(FakeConfig(tmp_path, ini={"smartmaint_clients": ["api,", "worker"]}))
    assert settings.roles == {"clients": ["api", "worker"]}


def test_reproduce_line_round_trips_the_settings(tmp_path: Path) -> None:
    settings = Settings.from_config(
        FakeConfig(tmp_path, {"smartmaint_compose_files": ["a.yml"], "smartmaint_static": True})
    )
    assert (
        settings.reproduce_line()
        == f"pytest --smartmaint --smartmaint-compose-file={tmp_path}/sub/a.yml --smartmaint-static"
    )


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${DB:-sqlite:///a.db}", {}, "sqlite:///a.db"),
        ("${DB:-sqlite:///a.db}", {"DB": ""}, "sqlite:///a.db"),
        ("${DB-sqlite:///a.db}", {"DB": ""}, ""),
        ("$DB/x", {"DB": "/data"}, "/data/x"),
        ("${A:-${B:-deep}}", {}, "deep"),
        ("${A:+set}", {"A": "1"}, "set"),
    ],
)
def test_shell_expansion_follows_sh(text: str, env: dict[str, str], expected: str) -> None:
    assert expand(text, env) == expected


def test_flag_beats_env_beats_default() -> None:
    settings = resolve(
        "mlflow",
        ["mlflow", "server", "--backend-store-uri=sqlite:////db/a.db"],
        "compose command",
        {"MLFLOW_BACKEND_STORE_URI": "sqlite:////db/b.db", "MLFLOW_DEFAULT_ARTIFACT_ROOT": "/art"},
        {"MLFLOW_SERVER_ALLOWED_HOSTS": "mlflow:5000"},
        "/",
        None,
    )
    assert settings.backend_store_uri.value == "sqlite:////db/a.db"
    assert settings.default_artifact_root.source == "MLFLOW_DEFAULT_ARTIFACT_ROOT in compose environment"
    assert settings.allowed_hosts.source == "MLFLOW_SERVER_ALLOWED_HOSTS in Dockerfile ENV"
    assert settings.admits_host("mlflow:5000") and not settings.admits_host("mlflow")
    assert settings.sqlite_path == "/db/a.db" and settings.local_artifact_path == "/art"


def test_relative_sqlite_path_and_default_mode() -> None:
    settings = resolve("mlflow", ["mlflow", "server"], "Dockerfile CMD", {}, {}, "/work", Version("3.17.2"))
    assert settings.sqlite_path == "/work/mlflow.db"
    assert settings.artifact_mode == "proxied"
    assert settings.admits_host("localhost:5000") and settings.admits_host("172.18.0.3:5000")
    assert not settings.admits_host("mlflow:5000")


@pytest.mark.parametrize("value", ["-1", "ten", "1GB"])
def test_min_free_gb_must_be_a_number_of_gb(tmp_path: Path, value: str) -> None:
    with pytest.raises(
        pytest.UsageError,
        match=rf"smartmaint_min_free_gb must be a number of GB, 0 or more \(0: no limit\)\. "
        rf"Current input: '{value}'\.",
    ):
        Settings.from_config(FakeConfig(tmp_path, ini={"smartmaint_min_free_gb": value}))


def test_min_free_gb_zero_means_no_limit(tmp_path: Path) -> None:
    assert Settings.from_config(FakeConfig(tmp_path, ini={"smartmaint_min_free_gb": "0"})).min_free_gb == 0.0


@pytest.mark.parametrize(
    ("version", "spec", "store"),
    [
        ("3.3.1", None, "./mlruns"),
        ("3.7.0", None, "sqlite:///mlflow.db"),
        (None, "", "sqlite:///mlflow.db"),
        (None, "<3.0", "./mlruns"),
        (None, None, None),
    ],
)
def test_the_default_backend_store_follows_the_mlflow_version(
    version: str | None, spec: str | None, store: str | None
) -> None:
    """MLflow's default store is the file store ./mlruns before 3.7, sqlite:///mlflow.db from 3.7 on."""
    settings = resolve(
        "mlflow", ["mlflow", "server"], "CMD", {}, {}, "/app", Version(version) if version else None, spec
    )
    assert settings.backend_store_uri.value == store
    assert (settings.store_location_unknown is None) == (store is not None)


def test_a_relative_store_in_an_unknown_working_directory_is_unknown() -> None:
    settings = resolve(
        "mlflow",
        ["mlflow", "server", "--backend-store-uri", "sqlite:///db/mlflow.db"],
        "CMD",
        {},
        {},
        None,
        Version("3.3.2"),
    )
    assert settings.sqlite_path is None
    assert "relative to the server's working directory" in (settings.store_location_unknown or "")


SCRIPTS = {
    "/app/start.sh": '#!/bin/sh\nset -e\nexec mlflow server \\\n  --backend-store-uri "${DB_URI}" \\\n  --port 5001\n',
    "/entrypoint.sh": '#!/bin/bash\necho starting\nexec mlflow "$@"\n',
}


@pytest.mark.parametrize(
    ("argv", "words", "via"),
    [
        (["mlflow", "ui", "--port", "5000"], ["--port", "5000"], ""),
        (["sh", "-c", "pip install x && mlflow server --host 0.0.0.0"], ["--host", "0.0.0.0"], ""),
        (["bash", "-lc", "exec mlflow server --port 5003"], ["--port", "5003"], ""),
        (["./start.sh"], ["--backend-store-uri", "sqlite:////db/m.db", "--port", "5001"], "start.sh"),
        (["bash", "start.sh"], ["--backend-store-uri", "sqlite:////db/m.db", "--port", "5001"], "start.sh"),
        (["/entrypoint.sh", "server", "--port=5002"], ["--port=5002"], "entrypoint.sh"),
    ],
)
def test_servers_started_by_scripts_are_found(argv: list[str], words: list[str], via: str) -> None:
    run = server_command(
        argv, {"DB_URI": "sqlite:////db/m.db"}, lambda p: SCRIPTS.get(posixpath.join("/app", posixpath.normpath(p)))
    )
    assert (run.words, run.via) == (words, via)


def test_a_script_the_files_do_not_show_is_named() -> None:
    run = server_command(["/opt/run_mlflow.sh"], {}, lambda p: None)
    assert run.words is None and run.unreadable == "/opt/run_mlflow.sh"


def test_a_program_path_that_is_no_script_is_not_named_as_unreadable() -> None:
    run = server_command(["/opt/venv/bin/python3", "/app/api.py"], {}, lambda p: None)
    assert run.words is None and run.unreadable is None


def test_a_password_in_a_setting_is_never_shown() -> None:
    uri = "postgresql+psycopg://mlflow:s3cr%40t@db:5432/mlflow"
    settings = resolve(
        "mlflow", ["mlflow", "server", f"--backend-store-uri={uri}"], "compose command", {}, {}, "/", None
    )
    assert settings.backend_store_uri.value == uri  # kept for the checks, masked wherever it is shown
    assert (
        str(settings.backend_store_uri)
        == "postgresql+psycopg://mlflow:***@db:5432/mlflow (--backend-store-uri in compose command)"
    )
    assert Setting("mysql://root@db/mlflow", "x").shown == "mysql://root@db/mlflow"  # no password: unchanged
