"""The package's build backend: setuptools', asking for the engine's compiler only for wheels.

setup.py compiles rules/ with mypyc when a wheel is built (``pip wheel .``, ``pip install .``).
The compiler and the packages whose types it reads are needed for that build alone: an
editable install (``scripts/dev``, at every run) would otherwise install them into a fresh
build environment each time, for nothing. Everything else is setuptools' own backend.
"""

from __future__ import annotations

from setuptools import build_meta
from setuptools.build_meta import *  # noqa: F403  (the whole PEP 517 interface, as is)

# what mypyc needs to compile rules/: mypy (one version with the dev extra's), and the types
# of the packages rules/ imports
COMPILER = ["mypy>=2.4,<2.5", "pydantic>=2.10", "phonenumbers>=9.0"]


def get_requires_for_build_wheel(config_settings: dict[str, object] | None = None) -> list[str]:
    """setuptools' requirements for a wheel, and the compiler."""
    return [*build_meta.get_requires_for_build_wheel(config_settings), *COMPILER]
