"""The server's layers (docs/architecture.md) import downwards only."""

from __future__ import annotations

import ast
from pathlib import Path

API = Path(__file__).resolve().parents[2] / "api"
LAYERS = {
    "edge": {"core", "govern", "localdocs", "upstream", "store", "local", "translate", "wire", "config"},
    "core": {"govern", "localdocs", "upstream", "store", "local", "translate", "wire", "config"},
    "govern": {"store", "wire", "config"},
    "localdocs": {"wire", "config"},
    "upstream": {"local", "translate", "wire", "config"},
    "store": {"wire", "config"},
    "local": {"translate", "wire", "config"},
    "translate": {"wire"},
    "wire": set(),
    "config": set(),
}
"""Each layer (a folder of api/) and the layers below it that it may import."""


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_every_module_is_in_a_layer():
    loose = [path.name for path in API.glob("*.py") if path.name not in ("__init__.py", "__main__.py")]
    assert loose == [], "modules of api/ belong in a layer's folder"
    assert {path.name for path in API.iterdir() if path.is_dir() and path.name != "__pycache__"} == set(LAYERS)


def test_layers_import_downwards_only():
    upward = []
    for layer, below in LAYERS.items():
        for path in (API / layer).rglob("*.py"):
            for module in _imports(path):
                parts = module.split(".")
                if parts[0] == "api" and len(parts) > 1 and parts[1] in LAYERS and parts[1] not in below | {layer}:
                    upward.append(f"{path.relative_to(API.parent)} imports {module}")
    assert upward == []
