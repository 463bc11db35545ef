"""The folders form a one-way stack: a package imports only the packages below it.

import-linter checks the same order in `scripts/dev test` (`[tool.importlinter]`); this test
reads every import statement itself (those inside functions too), so a module that reaches
upwards fails here with its file and line even where import-linter is not run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Top to bottom; packages on one floor are independent of each other.
STACK: list[set[str]] = [
    {"cli"},
    {"devtools"},
    {"bridge"},
    {"adapters", "storage", "rules"},
    {"domain"},
]
FLOOR = {package: floor for floor, packages in enumerate(STACK) for package in packages}


def _imported_packages(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module.split(".")[0]))
    return [(line, name) for line, name in found if name in FLOOR]


def upward_imports(root: Path) -> list[str]:
    """Every import, in the packages of ``root``, of a package on the same floor or above."""
    wrong = []
    for package, floor in FLOOR.items():
        for path in sorted((root / package).rglob("*.py")):
            for line, name in _imported_packages(path):
                if name != package and FLOOR[name] <= floor:
                    wrong.append(f"{path.relative_to(root)}:{line} imports {name}")
    return wrong


def test_no_package_imports_one_above_it_or_beside_it() -> None:
    assert upward_imports(ROOT) == []


@pytest.mark.parametrize(
    ("package", "body", "expected"),
    [
        ("domain", "from bridge.config import Settings\n", "domain/module.py:1 imports bridge"),
        ("rules", "from storage.db import Database\n", "rules/module.py:1 imports storage"),
        ("storage", "import rules.engine\n", "storage/module.py:1 imports rules"),
        (
            "bridge",
            "def demo() -> None:\n    from devtools.demo import run_demo\n",
            "bridge/module.py:2 imports devtools",
        ),
        ("adapters", "from cli.main import main\n", "adapters/module.py:1 imports cli"),
    ],
)
def test_an_upward_import_is_caught(tmp_path: Path, package: str, body: str, expected: str) -> None:
    for name in FLOOR:
        (tmp_path / name).mkdir()
    (tmp_path / package / "module.py").write_text(body)
    (tmp_path / "domain" / "fine.py").write_text("import json\n")
    (tmp_path / "bridge" / "fine.py").write_text("from storage.db import Database\n")
    assert upward_imports(tmp_path) == [expected]
