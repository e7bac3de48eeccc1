"""audio-deps: audio images install libsndfile and declare librosa and resampy."""

from __future__ import annotations

import functools

from ..stack_model import StackModel
from .base import Case, fail, not_applicable

CHECK = "audio-deps"
PYTHON_PACKAGES = ("librosa", "resampy", "soundfile")
LIBSNDFILE = ("libsndfile1", "libsndfile", "libsndfile1-dev", "libsndfile-dev", "libsndfile-devel")


def static_cases(model: StackModel) -> list[Case]:
    if not model.roles.audio:
        return [not_applicable(CHECK, "static", "no audio service (no image declares librosa; set smartmaint_audio_services to name one)")]
    return [Case(CHECK, "static", name, functools.partial(_check, name=name)) for name in model.roles.audio]


def _check(model: StackModel, name: str) -> None:
    image = model.images.get(name)
    if image is None:
        import pytest

        pytest.skip(f"{name} uses the prebuilt image {model.service(name).image}; its contents are checked by the live tier")
    missing_py = [p for p in PYTHON_PACKAGES if not image.declares(p)]
    has_sndfile = any(p in image.system_packages for p in LIBSNDFILE)
    problems = []
    if not has_sndfile:
        problems.append(
            "the system library libsndfile is not installed by the system package manager\n"
            "  (soundfile, and librosa.load through it, fail with \"OSError: sndfile library not found\");\n"
            "  Fix, in the Dockerfile:\n"
            "    RUN apt-get update && apt-get install -y --no-install-recommends libsndfile1 \\\n"
            "     && rm -rf /var/lib/apt/lists/*"
        )
    if missing_py:
        files = ", ".join(str(f.name) for f in image.dependency_files) or "a dependency file"
        problems.append(
            f"no dependency file the image installs declares {', '.join(missing_py)}\n"
            f"  (read: {files}); librosa.resample(res_type=\"kaiser_best\") then fails with "
            f"\"ModuleNotFoundError: No module named 'resampy'\" at run time, not at build time.\n"
            f"  Fix: add {', '.join(missing_py)} to {files}"
        )
    if problems:
        fail(f"The audio service {name} ({image.dockerfile}) is missing audio dependencies:\n- " + "\n- ".join(problems))
