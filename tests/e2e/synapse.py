"""The tests' Synapse: the package's local launcher (devtools/synapse.py), which
`modbridge demo` uses too, plus where the project lives."""

from __future__ import annotations

from pathlib import Path

from devtools.synapse import (
    SERVER_NAME,
    RegisteredUser,
    SynapseError,
    SynapseServer,
    synapse_available,
    synapse_python,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]

__all__ = [
    "PROJECT_ROOT",
    "SERVER_NAME",
    "RegisteredUser",
    "SynapseError",
    "SynapseServer",
    "synapse_available",
    "synapse_python",
]
