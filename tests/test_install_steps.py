"""The one reader of Dockerfile install steps: what each command installs into, as the image model, test-deps and
database-backend all read it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_smartmaint.static.compose import Build
from pytest_smartmaint.static.database import unread_installs
from pytest_smartmaint.static.image_facts import read_image_facts
from pytest_smartmaint.static.install_steps import commands, install_step, install_steps


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("pip install librosa", [("pip", "install", ("librosa",))]),
        ("/opt/venv/bin/pip3.12 --no-cache-dir install -r req.txt", [("pip", "install", ("-r", "req.txt"))]),
        (
            "python3 -m pip install 'pytest>=8' && pip uninstall -y numba",
            [
                ("pip", "install", ("pytest>=8",)),
                ("pip", "uninstall", ("-y", "numba")),
            ],
        ),
        ("uv pip install --system librosa", [("pip", "install", ("--system", "librosa"))]),
        ("pipx install librosa", [("pipx", "install", ("librosa",))]),
        ("python -m pipx install black", [("pipx", "install", ("black",))]),
        (
            "poetry install --only main; uv sync --group test",
            [
                ("poetry", "install", ("--only", "main")),
                ("uv", "sync", ("--group", "test")),
            ],
        ),
        ("conda install -y librosa", [("unread", None, ("install", "-y", "librosa"))]),
        ("bash ./scripts/setup.sh", [("unread", None, ("./scripts/setup.sh",))]),
        ("apt-get install -y libsndfile1 && echo pip install x", []),
    ],
)
def test_each_command_is_read_as_the_installer_it_runs(run: str, expected: list[tuple[object, ...]]) -> None:
    assert [(s.installer, s.verb, s.args) for s in install_steps([run])] == expected


def test_a_line_that_does_not_parse_is_split_on_its_separators() -> None:
    assert commands("pip install 'a && echo b") == [["pip", "install", "'a"], ["echo", "b"]]
    assert install_step(["pipenv", "install"]) is not None and install_step(["ls"]) is None


def test_pipx_installs_nothing_the_images_python_imports(tmp_path: Path) -> None:
    """Before one reader, the image model counted `pipx install librosa` as an audio package, test-deps did not."""
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.12-slim\nRUN pipx install librosa && pip install resampy\n")
    image = read_image_facts(Build(tmp_path, dockerfile, {}, None), "api")
    assert image.declares("resampy") and not image.declares("librosa")
    assert unread_installs(image) is None


def test_an_install_the_files_do_not_spell_out_is_named(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.12-slim\nRUN /opt/conda/bin/conda install -y psycopg2\n")
    assert unread_installs(read_image_facts(Build(tmp_path, dockerfile, {}, None), "mlflow")) == "conda"
