"""The code's shape, checked: no import cycles in ``fer``, pages free of the heavy libraries, a
light vocabulary for the command line."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE_FORBIDDEN = {"keras", "cv2", "sklearn", "imblearn", "tensorflow", "jax"}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "fer":
                names |= {f"fer.{alias.name}" for alias in node.names}
    return names


def fer_graph() -> dict[str, set[str]]:
    graph = {}
    for path in (ROOT / "fer").glob("*.py"):
        used = {name.split(".")[1] for name in imported_modules(path) if name.startswith("fer.")}
        graph[path.stem] = used - {path.stem}
    return graph


def test_no_import_cycle_in_fer() -> None:
    graph = fer_graph()
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for used in sorted(graph.get(module, ())):
            assert state.get(used) != "open", f"import cycle: {' -> '.join([*trail, used])}"
            if used not in state:
                visit(used, [*trail, used])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert "runs" not in graph["train"] and "store" in graph["train"]  # the training core knows no supervisor


def test_pages_import_no_heavy_library() -> None:
    for page in [*(ROOT / "app_pages").glob("*.py"), ROOT / "streamlit_app.py"]:
        heavy = {name.split(".")[0] for name in imported_modules(page)} & PAGE_FORBIDDEN
        assert not heavy, f"{page.name} imports {sorted(heavy)}: pages lay out widgets and call fer"


@pytest.mark.parametrize(
    ("module", "heavy"),
    [
        # The CLI's option lists come from fer.vocab: `--help` loads no data or model stack.
        ("fer.cli", ("pyarrow", "imblearn", "keras", "sklearn")),
        # Listing runs and models, and drawing results, stay instant in the dashboard.
        ("fer.runs", ("keras", "tensorflow")),
        ("fer.predict", ("keras", "tensorflow")),
        ("fer.annotate", ("keras", "tensorflow", "plotly", "pandas")),
    ],
)
def test_light_modules_load_no_heavy_library(module: str, heavy: tuple[str, ...]) -> None:
    probe = f"import sys, {module}; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip() == "[]"
