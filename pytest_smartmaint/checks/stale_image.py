"""stale-image: on a running stack, each container runs the image its current files would build.

A real MLflow server ran with in-memory storage while its Dockerfile said SQLite: the image
had been built before the change, and nothing said so. Here the running image is compared
with the files, by content: its reference may have moved on to a newer image, and the
Dockerfile's CMD, ENTRYPOINT, USER, WORKDIR, literal ENV and the files it copies must match
what is in the image. Only in reuse mode: a stack the plugin builds is built from the files.
"""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING

import pytest

from ..errors import SmartmaintError
from ..static.image_facts import ImageFacts
from ..static.stack_model import StackModel
from .base import Case, Check, LiveCase, fail, record_facts

if TYPE_CHECKING:
    from ..live.facts import RunningImage
    from ..live.stack import LiveStack

NAME = "stale-image"


def live_cases(model: StackModel) -> list[LiveCase]:
    return [
        Case(NAME, "live", name, functools.partial(_live, service=name), (name,))
        for name in sorted(model.project.services)
    ]


def _sha256(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def differences(facts: ImageFacts, running: RunningImage) -> list[str]:
    """What the Dockerfile says that the running image does not have."""
    image = running.image
    found = []
    for label, wanted, has in (("CMD", facts.cmd, image.cmd), ("ENTRYPOINT", facts.entrypoint, image.entrypoint)):
        if wanted is not None and wanted != has:
            found.append(f"{label}: the Dockerfile says {list(wanted)}, the image has {list(has or [])}")
    if facts.user and facts.user != image.user:
        found.append(f"USER: the Dockerfile says {facts.user}, the image has {image.user or 'root (none)'}")
    if facts.sets_workdir and facts.workdir != (image.workdir or "/"):
        found.append(f"WORKDIR: the Dockerfile says {facts.workdir}, the image has {image.workdir or '/'}")
    for key, value in sorted(facts.literal_env.items()):
        if image.env.get(key) != value:
            current = f"{image.env[key]!r}" if key in image.env else "no such variable"
            found.append(f"ENV {key}: the Dockerfile says {value!r}, the image has {current}")
    for source, dest in facts.copied_files:
        in_image = running.file_hashes.get(dest)
        if in_image is not None and in_image != _sha256(str(source)):
            found.append(f"{source.name}: the build context's {source} differs from {dest} in the container")
    return found


def _live(stack: LiveStack, service: str) -> None:
    if stack.owned:
        pytest.skip(
            "the plugin built this stack from the current files for this run, so its images cannot be stale; "
            "stale-image checks a stack that is already running (--smartmaint-project NAME)"
        )
    try:
        running = stack.running_image(service)
    except SmartmaintError as exc:
        fail(str(exc))
    if running is None:
        pytest.skip(f"{service} has no running container (a one-shot job that has exited?)")
    record_facts(image=running.image.id, built=running.image.created, reference=running.reference)
    built = running.image.created[:19].replace("T", " ")
    declared = stack.model.service(service)
    project = f"docker compose -p {stack.project}"
    problems = []
    if running.current_id is not None and running.current_id != running.image.id:
        problems.append(
            f"its image reference {running.reference} now names another image ({running.current_id[7:19]}): "
            f"the container was not recreated after it was rebuilt or pulled"
        )
    facts = stack.model.images.get(service)
    if facts is not None and declared.build is not None:
        problems += differences(facts, running)
    if not problems:
        return
    fix = (
        f"{project} up -d --build {service}"
        if declared.build is not None
        else f"{project} pull {service} && {project} up -d {service}"
    )
    fail(
        f"{service} runs an image built {built} UTC ({running.image.id[7:19]}, {running.reference}) that is older than "
        f"its files:\n"
        + "\n".join(f"- {p}" for p in problems)
        + f"\nThe running container does not do what the files say. Rebuild and recreate it:\n    {fix}"
    )


CHECK = Check(NAME, live=live_cases)
