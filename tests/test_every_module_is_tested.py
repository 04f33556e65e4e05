"""Every module of the project is reached from a test: imported by a test file, imported (at any
depth, function-level imports too) by a module a test reaches, or run by a test by name (a quoted
module name as in `python -m` or `runpy`, or its file path as Locust takes it), or started with
`-m` by a module a test reaches (a node's read workers). A new module that no test reaches fails
here.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
PACKAGES = ("chain", "nodes", "contracts", "simulator", "benchmarks")


def module_name(path: Path) -> str:
    """`nodes/cli/up.py` -> `nodes.cli.up`; a package's `__init__.py` is the package."""
    return ".".join(path.relative_to(REPOSITORY).with_suffix("").parts).removesuffix(".__init__")


def imported_names(path: Path) -> set[str]:
    """Modules a file imports anywhere in it, with their parent packages (`from a import b`
    counts `a` and, when it is a module, `a.b`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        found: list[str] = []
        if isinstance(node, ast.Import):
            found = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        for name in found:
            parts = name.split(".")
            names.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))
    return names


def reached_modules(modules: dict[str, Path], test_files: list[Path]) -> set[str]:
    """The modules the tests import, run by name, or reach through other modules."""
    text = "\n".join(path.read_text(encoding="utf-8") for path in test_files)
    frontier = [name for name, path in modules.items()
                if f'"{name}"' in text or str(path.relative_to(REPOSITORY)) in text]
    for path in test_files:
        frontier.extend(imported_names(path))
    reached: set[str] = set()
    while frontier:
        name = frontier.pop()
        if name in modules and name not in reached:
            reached.add(name)
            frontier.extend(imported_names(modules[name]))
            frontier.extend(run_by_name(modules, modules[name]))
    return reached


def run_by_name(modules: dict[str, Path], path: Path) -> list[str]:
    """Modules a module starts by name (`sys.executable, "-m", "nodes.cli.read_worker"`)."""
    text = path.read_text(encoding="utf-8")
    return [name for name in modules if f'"-m", "{name}"' in text]


def test_every_module_is_reached_from_a_test() -> None:
    modules = {module_name(path): path for package in PACKAGES
               for path in (REPOSITORY / package).rglob("*.py")}
    test_files = sorted((REPOSITORY / "tests").rglob("*.py"))
    missing = sorted(set(modules) - reached_modules(modules, test_files))
    assert missing == [], f"modules no test reaches: {missing}"


def test_the_walk_follows_imports_and_names(tmp_path: Path) -> None:
    lone = REPOSITORY / "simulator" / "launcher.py"
    kernel = REPOSITORY / "simulator" / "kernel.py"
    modules = {"simulator.launcher": lone, "simulator.kernel": kernel}
    test = tmp_path / "test_x.py"
    test.write_text("import simulator.kernel\n", encoding="utf-8")
    assert reached_modules(modules, [test]) == {"simulator.kernel"}
    test.write_text('run(["-m", "simulator.launcher"])\n', encoding="utf-8")
    assert reached_modules(modules, [test]) == {"simulator.launcher"}
