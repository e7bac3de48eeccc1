"""The scripts that run inside containers, each a module of this package, read as package resources.

Each is run as ``python -c <source> <json arg>`` and prints one JSON document. Standard library
only at module level: images differ in what they have, and a missing package is a finding to
report, not a crash of the probe. Being real files, they are linted, type-checked and unit-tested
on the host (tests/test_probes.py) like the rest of the plugin.
"""

from __future__ import annotations

from importlib.resources import files


def source(name: str) -> str:
    """The text of the probe module ``name`` (``facts``, ``load_model``...)."""
    return files(__package__).joinpath(f"{name}.py").read_text(encoding="utf-8")


FACTS = source("facts")  # uid, gid, mounts, packages, and an API call under the service's own tracking URI
AUDIO_ROUNDTRIP = source("audio_roundtrip")
REGISTER_MODEL = source("register_model")
LOAD_MODEL = source("load_model")
REGISTRY_LOOKUP = source("registry_lookup")
SERVER_FACTS = source("server_facts")
REMOVE_SMOKE_MODEL = source("remove_smoke_model")
LOAD_REGISTRY = source("load_registry")
CONNECT = source("connect")
TEST_TOOLING = source("test_tooling")
SCHEMA_HISTORY = source("schema_history")  # the installed MLflow's migrations, for backend-schema
WRITE_BURST = source("write_burst")  # concurrent REST writes, every error counted (sqlite-backend)
