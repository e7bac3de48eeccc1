"""audio-deps: audio images install libsndfile and declare librosa and resampy."""

from __future__ import annotations

import functools

from typing import TYPE_CHECKING

from ..stack_model import StackModel
from .base import Case, fail, not_applicable

if TYPE_CHECKING:
    from ..live_stack import LiveStack

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
    removed = [p for p in missing_py if p in image.removed_python_packages]
    if removed:
        problems.append(
            f"the Dockerfile uninstalls {', '.join(removed)} (pip uninstall)\n"
            f"  librosa.resample(res_type=\"kaiser_best\") then fails at run time, not at build time.\n"
            f"  Fix: drop the `pip uninstall {' '.join(removed)}` from the Dockerfile"
        )
        missing_py = [p for p in missing_py if p not in removed]
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


def live_cases(model: StackModel) -> list[Case]:
    if not model.roles.audio:
        return [not_applicable(CHECK, "live", "no audio service (set smartmaint_audio_services to name one)")]
    return [Case(CHECK, "live", name, functools.partial(_live, name=name), (name,)) for name in model.roles.audio]


def _live(stack: LiveStack, name: str) -> None:
    result = stack.audio_results()[name].json()
    missing = [p for p, version in result["imports"].items() if version is None]
    if missing:
        errors = result.get("import_errors", {})
        lines = "\n".join(f"  {p}: {errors.get(p, '')}" for p in missing)
        sndfile = any("sndfile" in errors.get(p, "") for p in missing)
        python = [p for p in missing if "sndfile" not in errors.get(p, "")]
        fixes = []
        if python:
            fixes.append(f"add {', '.join(python)} to the dependency file the image installs, and rebuild")
        if sndfile:
            fixes.append("install the system library: RUN apt-get update && apt-get install -y --no-install-recommends libsndfile1")
        fail(f"The audio stack does not import in {name}:\n{lines}\nFix: " + "; ".join(fixes))
    error = result.get("roundtrip_error")
    if error:
        numba = "numba" in error["error"].lower() or "cache" in error["error"].lower()
        hint = (
            f"\nnumba (used by resampy) needs a writable cache dir when running as a non-root uid: NUMBA_CACHE_DIR is "
            f"{result.get('numba_cache_dir')!r}, HOME is {result.get('home')!r}.\nFix, in service {name}:\n"
            "    environment:\n      NUMBA_CACHE_DIR: /tmp/numba\n      HOME: /tmp"
            if numba else ""
        )
        fail(f"The audio round trip failed in {name} at the {error['step']} step (libsndfile "
             f"{result.get('libsndfile')}):\n  {error['error']}{hint}")
