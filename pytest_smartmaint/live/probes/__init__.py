"""The scripts that run inside containers, each a module of this package, read as package resources.

Each is run as ``python -c <source> <json arg>`` and prints one JSON document. Standard library
only at module level: images differ in what they have, and a missing package is a finding to
report, not a crash of the probe. Being real files, they are linted, type-checked and unit-tested
on the host (tests/test_probes.py) like the rest of the plugin. The record each one prints, and its
parsing, is in ``live/facts.py``; the record names its probe (``PROBE``), and ``live/probing.py`` runs it.
"""

from __future__ import annotations

from importlib.resources import files


def source(name: str) -> str:
    """The text of the probe module ``name`` (``facts``, ``load_model``...)."""
    return files(__package__).joinpath(f"{name}.py").read_text(encoding="utf-8")
