"""The conduct engine compiled to C when a wheel is built (see README, "Performance").

pyproject.toml holds everything else about the package. This file adds one thing: in a
wheel (``pip wheel .``, ``pip install .``), the modules of ``rules/`` and
``bridge/evaluate.py`` (`rules eval`'s reading and writing of lines, as costly as the
judging) are compiled with mypyc, the compiler of the type checker the project already
runs in strict mode; the same source, about 1.1-1.5x the messages per second. An editable
install (``pip install -e``, what ``scripts/dev`` makes) stays interpreted, so an edit is
never hidden behind a compiled module built before it. ``MODBRIDGE_COMPILE=0`` builds an
interpreted wheel, and so does a host without a C compiler or Python's headers (with a
warning): same verdicts, slower.

Left interpreted: rules/__init__.py, rules/policy.py and bridge/eval_input.py (pydantic
models gain nothing, and mypyc cannot build a module that defines one).
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup

ROOT = Path(__file__).resolve().parent
INTERPRETED = {"__init__.py", "policy.py"}
WHEEL_COMMANDS = {"bdist_wheel", "build", "build_ext", "install"}


def can_compile() -> bool:
    """Whether this host has the C compiler and the headers a compiled module needs."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if shutil.which(compiler) is None or not headers.exists():
        print(f"modbridge: no {compiler} or no {headers}: the engine stays interpreted")
        return False
    return True


def compiled_modules() -> list[Extension]:
    """mypyc's extension modules for the engine, or none for an editable or opted-out build."""
    # setuptools runs this file for each step of a build: compile when it builds a wheel (or
    # the extensions themselves), not when it asks for requirements or metadata, nor for an
    # editable install ("editable_wheel")
    if os.environ.get("MODBRIDGE_COMPILE", "1") == "0" or WHEEL_COMMANDS.isdisjoint(sys.argv):
        return []
    if not can_compile():
        return []
    from mypyc.build import mypycify

    sources = sorted(
        f"rules/{path.name}"
        for path in (ROOT / "rules").glob("*.py")
        if path.name not in INTERPRETED
    )
    sources.append("bridge/evaluate.py")
    # group_name keeps mypyc's shared library inside the package (rules/native__mypyc*.so)
    return mypycify(sources, opt_level="3", group_name="rules.native")


setup(ext_modules=compiled_modules())
