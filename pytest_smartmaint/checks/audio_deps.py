"""audio-deps: audio images install libsndfile and declare librosa and resampy."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import pytest

from ..static.image_facts import ImageFacts
from ..static.stack_model import StackModel
from .base import Case, Check, LiveCase, StaticCase, fail, not_applicable
from .messages import checked_live, environment, fix_in

if TYPE_CHECKING:
    from ..live.stack import LiveStack

NAME = "audio-deps"
PYTHON_PACKAGES = ("librosa", "resampy", "soundfile")
LIBSNDFILE = ("libsndfile1", "libsndfile", "libsndfile1-dev", "libsndfile-dev", "libsndfile-devel")


def static_cases(model: StackModel) -> list[StaticCase]:
    if not model.roles.audio:
        unread = (
            f"; the files do not show all that the images of {', '.join(model.roles.unread)} hold (prebuilt, or "
            "built on a base the stack does not build), so the live items look for librosa inside their containers"
            if model.roles.unread
            else ""
        )
        return [
            not_applicable(
                NAME,
                "static",
                "no audio service (no image built here declares librosa; set smartmaint_audio_services to "
                f"name one){unread}",
            )
        ]
    return [Case(NAME, "static", name, functools.partial(_check, name=name)) for name in model.roles.audio]


# What each missing piece really breaks, as the user would see it.
CONSEQUENCE = {
    "librosa": "`import librosa` fails: \"ModuleNotFoundError: No module named 'librosa'\"",
    "soundfile": "`import librosa` fails (librosa imports soundfile): "
    "\"ModuleNotFoundError: No module named 'soundfile'\"",
    "resampy": 'librosa.resample(y, orig_sr=..., target_sr=..., res_type="kaiser_best") fails at run time, not at '
    "build time: \"ModuleNotFoundError: No module named 'resampy'\" (librosa >= 0.10 no longer requires it)",
}
# Packages that a declared package installs with it (its own requirements), for the ones checked here.
REQUIRED_BY = {"librosa": ("soundfile",)}
LIBROSA_WITH_RESAMPY = ("0.8.1", "0.9.2")  # librosa < 0.10 required resampy
LIBROSA_WITHOUT_RESAMPY = ("0.10.0", "0.10.2", "0.11.0")
SOUNDFILE_BUNDLING_VERSIONS = ("0.12.1", "0.13.1", "0.14.0")  # glibc wheels carry libsndfile from 0.12 on


def implied(image: ImageFacts) -> dict[str, str]:
    """package -> the declared package that installs it."""
    found: dict[str, str] = {}
    for declared, requires in REQUIRED_BY.items():
        if image.declares(declared):
            found.update(dict.fromkeys(requires, declared))
    librosa = image.python_packages.get("librosa")
    if librosa is not None and librosa.specifier:
        spec = librosa.specifier
        if any(spec.contains(v) for v in LIBROSA_WITH_RESAMPY) and not any(
            spec.contains(v) for v in LIBROSA_WITHOUT_RESAMPY
        ):
            found["resampy"] = f"librosa{spec}"
    return found


def is_alpine(image: ImageFacts) -> bool:
    return "alpine" in image.base_image.lower()


def bundled_libsndfile(image: ImageFacts, soundfile_present: bool) -> bool:
    """soundfile >= 0.12 wheels bundle libsndfile on glibc images (not on musl/Alpine)."""
    if not soundfile_present or is_alpine(image):
        return False
    declared = image.python_packages.get("soundfile")
    if declared is None or not declared.specifier:
        return True
    return any(declared.specifier.contains(v) for v in SOUNDFILE_BUNDLING_VERSIONS)


def _check(model: StackModel, name: str) -> None:
    image = model.images.get(name)
    if image is None:
        pytest.skip(
            f"{name} uses the prebuilt image {model.service(name).image}: the files do not say what it "
            f"contains; " + checked_live(NAME, name, "in the running container")
        )
    via = implied(image)
    removed = [p for p in PYTHON_PACKAGES if p in image.removed_python_packages]
    missing = [p for p in PYTHON_PACKAGES if not image.declares(p) and p not in via and p not in removed]
    soundfile_present = "soundfile" not in removed and "soundfile" not in missing
    has_sndfile = any(p in image.system_packages for p in LIBSNDFILE) or bundled_libsndfile(image, soundfile_present)
    problems = []
    if removed:
        problems.append(
            f"the Dockerfile uninstalls {', '.join(removed)} (pip uninstall), so:\n"
            + "\n".join(f"  {CONSEQUENCE[p]}" for p in removed)
            + f"\n  Fix: drop the `pip uninstall {' '.join(removed)}` from the Dockerfile"
        )
    if missing:
        files = ", ".join(str(f.name) for f in image.dependency_files) or "a dependency file"
        problems.append(
            f"no dependency file the image installs declares {', '.join(missing)} (read: {files}), so:\n"
            + "\n".join(f"  {CONSEQUENCE[p]}" for p in missing)
            + f"\n  Fix: add {', '.join(missing)} to {files}"
        )
    if not has_sndfile and soundfile_present:
        declared = image.python_packages.get("soundfile")
        why = (
            "the base image is Alpine (musl): soundfile's wheels bundle libsndfile for glibc only"
            if is_alpine(image)
            else f"soundfile is pinned to {declared.specifier}, older than 0.12, whose wheels bundle it"
            if declared is not None
            else ""
        )
        problems.append(
            f"the system library libsndfile is not installed, and {why}\n"
            '  `import soundfile` (and librosa.load through it) fails with "OSError: sndfile library not found"\n'
            "  Fix, in the Dockerfile:\n"
            + (
                "    RUN apk add --no-cache libsndfile"
                if is_alpine(image)
                else "    RUN apt-get update && apt-get install -y --no-install-recommends libsndfile1 \\\n"
                "     && rm -rf /var/lib/apt/lists/*"
            )
        )
    if problems:
        fail(
            f"The audio service {name} ({image.dockerfile}) is missing audio dependencies:\n- " + "\n- ".join(problems)
        )


def live_cases(model: StackModel) -> list[LiveCase]:
    candidates = model.roles.audio_candidates
    if not candidates:
        return [not_applicable(NAME, "live", "no audio service (set smartmaint_audio_services to name one)")]
    return [Case(NAME, "live", name, functools.partial(_live, name=name), (name,)) for name in candidates]


def _live(stack: LiveStack, name: str) -> None:
    if not stack.is_audio_service(name):
        pytest.skip(
            f"{name} runs the prebuilt image {stack.model.service(name).image} and its container has no "
            "librosa: not an audio service"
        )
    result = stack.audio_roundtrip(name)
    missing = result.missing
    if missing:
        errors = result.import_errors
        lines = "\n".join(f"  {p}: {errors.get(p, '')}" for p in missing)
        sndfile = any("sndfile" in errors.get(p, "") for p in missing)
        python = [p for p in missing if "sndfile" not in errors.get(p, "")]
        fixes = []
        if python:
            fixes.append(f"add {', '.join(python)} to the dependency file the image installs, and rebuild")
        if sndfile:
            fixes.append(
                "install the system library: RUN apt-get update && apt-get install -y --no-install-recommends "
                "libsndfile1"
            )
        fail(f"The audio stack does not import in {name}:\n{lines}\nFix: " + "; ".join(fixes))
    if result.failed_step is not None:
        numba = "numba" in result.error.lower() or "cache" in result.error.lower()
        hint = (
            f"\nnumba (used by resampy) needs a writable cache dir when running as a non-root uid: NUMBA_CACHE_DIR is "
            f"{result.numba_cache_dir!r}, HOME is {result.home!r}.\n"
            + fix_in(name, environment(NUMBA_CACHE_DIR="/tmp/numba", HOME="/tmp"))
            if numba
            else ""
        )
        fail(
            f"The audio round trip failed in {name} at the {result.failed_step} step (libsndfile "
            f"{result.libsndfile}):\n  {result.error}{hint}"
        )


CHECK = Check(NAME, static=static_cases, live=live_cases)
