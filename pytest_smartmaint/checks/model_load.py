"""model-load: a model registered from the trainer loads in every consumer and predicts.

A failure names the layer that broke: registry, version, artifact path, write access to
the artifact directory, deserialization, or prediction; library skew is a warning.
"""

from __future__ import annotations

import functools
import warnings
from typing import TYPE_CHECKING, Any

from ..errors import SmartmaintError, SmartmaintWarning
from ..stack_model import StackModel
from .base import Case, fail, not_applicable

if TYPE_CHECKING:
    from ..lifecycle import LiveStack

CHECK = "model-load"


def static_cases(model: StackModel) -> list[Case]:
    return []


def live_cases(model: StackModel) -> list[Case]:
    if model.server is None or not model.roles.consumers:
        return [not_applicable(CHECK, "live", "no MLflow server and model consumer in the compose project")]
    trainer = model.roles.trainer or "-"
    return [
        Case(CHECK, "live", name, functools.partial(_live, consumer=name), (trainer, name, model.server.service))
        for name in model.roles.consumers
    ]


def _store_fix(stack: LiveStack, consumer: str, root: str | None) -> str:
    model = stack.model
    server = model.server
    assert server is not None
    store = model.service(server.service).mount_covering(root) if root else None
    if store is None:
        return ""
    mine = model.service(consumer).mount_of(store.source)
    has = f"it mounts {store.label} at {mine.target}{' read-only' if mine.read_only else ''}" if mine else f"it does not mount {store.label}"
    return f"\n{consumer}: {has}.\nFix, in service {consumer}:\n    volumes:\n      - {store.label}:{store.target}"


def _live(stack: LiveStack, consumer: str) -> None:
    model = stack.model
    trainer = model.roles.trainer
    server = model.server
    assert server is not None
    try:
        smoke = stack.smoke_model()
    except SmartmaintError as exc:
        fail(f"The smoke model could not be trained and registered from {trainer}, so no consumer can load it:\n{exc}")
    result: dict[str, Any] = stack.model_loads()[consumer].json()
    layer, detail = result["layer"], result.get("detail", "")
    uri = f"models:/{stack.smoke_name}/{smoke['version']}"
    path = result.get("artifact_path") or smoke.get("artifact_location")
    who = f"{consumer} (uid {result.get('uid')}:{result.get('gid')})"
    if layer == "ok":
        if result.get("predictions") != smoke["expected"]:
            fail(f"{consumer} loaded {uri} but predicts {result.get('predictions')} where {trainer} predicted "
                 f"{smoke['expected']} on the same rows: the two run different library versions.")
        _warn_on_skew(consumer, uri, result)
        return
    head = f"{consumer} cannot load {uri}, registered from {trainer}"
    if layer == "registry":
        fail(f"{head}: the registry is unreachable from {consumer}.\n  {detail}\nSee mlflow-reachable for the cause.")
    if layer == "version-missing":
        fail(f"{head}: the registry {consumer} talks to has no such version.\n  {detail}\n{trainer} and {consumer} "
             "use different tracking servers or backend stores: compare their MLFLOW_TRACKING_URI.")
    if layer == "artifact-path":
        fail(f"{head}: the registry recorded its artifacts at {path}, and that directory does not exist in {consumer}.\n"
             f"MLflow would only say \"No such artifact\". The artifact root is a local path, so every client needs the "
             f"store at the same path.{_store_fix(stack, consumer, server.local_artifact_path)}")
    if layer == "artifact-unwritable":
        fail(f"{head}: {who} cannot write the model's directory {path} ({detail}).\nLoading models:/ writes "
             f"registered_model_meta next to the model, so a read-only mount or another uid than the writer's breaks "
             f"it.{_store_fix(stack, consumer, server.local_artifact_path)}\n(without :ro, and with the same user: as "
             f"{trainer})")
    if layer == "library":
        fail(f"{head}: {detail}\nThe consumer image needs mlflow-skinny (or mlflow), scikit-learn, pandas and skops.")
    if layer == "predict":
        fail(f"{consumer} loaded {uri} but predict failed: {detail}")
    requirement = _logged_sklearn(result)
    fail(f"{head}: the artifacts are there, but the model did not deserialize:\n  {detail.strip()}\n"
         f"Logged with {requirement or 'scikit-learn (version not recorded)'}; {consumer} has scikit-learn "
         f"{result.get('sklearn')}. sklearn models are stored with skops (MLflow 3.15+): the consumer needs skops and "
         "a scikit-learn that reads the logged format.")


def _logged_sklearn(result: dict[str, Any]) -> str | None:
    return next((r for r in result.get("requirements") or [] if r.lower().startswith("scikit-learn")), None)


def _warn_on_skew(consumer: str, uri: str, result: dict[str, Any]) -> None:
    logged = _logged_sklearn(result)
    if logged and "==" in logged and result.get("sklearn") and logged.split("==")[1] != result["sklearn"]:
        warnings.warn(SmartmaintWarning(
            f"{consumer} loads {uri} with scikit-learn {result['sklearn']}, but it was logged with {logged}: "
            "MLflow only warns; predictions may differ. Pin the same version in both images."
        ), stacklevel=2)
