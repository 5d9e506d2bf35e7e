"""One contract between the desktop app and the engine: engine.api.EngineProtocol.

`Engine` and the desktop's test double implement it with the same signatures (names, kinds,
defaults and annotations of every parameter, and the return annotation), and the bridge calls
nothing outside it, so a test that passes against the fake says something about the real engine.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from desktop.testing import FakeEngine
from engine.api import Engine, EngineProtocol

BRIDGE = Path(__file__).resolve().parent.parent / "desktop" / "engine_bridge.py"


def contract_members() -> list[str]:
    return sorted(name for name, value in vars(EngineProtocol).items()
                  if not name.startswith("_") and (callable(value) or isinstance(value, property)))


def shape(cls: type, name: str) -> tuple:
    """(kind, [(parameter, kind, default, annotation)], return annotation) of a method or property."""
    member = inspect.getattr_static(cls, name)
    if isinstance(member, property):
        sig = inspect.signature(member.fget)
        return "property", [], str(sig.return_annotation)
    sig = inspect.signature(member)
    params = [(p.name, p.kind.name, repr(p.default), str(p.annotation)) for p in sig.parameters.values()]
    return "method", params, str(sig.return_annotation)


def test_the_contract_covers_what_the_desktop_needs():
    assert {"search", "search_file", "similar", "record_feedback", "activate_pack", "rollback_pack",
            "index", "pack_error"} <= set(contract_members())


@pytest.mark.parametrize("name", contract_members())
def test_engine_and_fake_match_the_contract(name):
    expected = shape(EngineProtocol, name)
    assert shape(Engine, name) == expected, f"engine.api.Engine.{name} differs from EngineProtocol"
    assert shape(FakeEngine, name) == expected, f"desktop.testing.FakeEngine.{name} differs from EngineProtocol"


def test_signature_comparison_sees_a_difference():
    class Drifted(FakeEngine):
        def record_feedback(self, query: str, hit, vote: int) -> None:  # query_path missing
            pass

    assert shape(Drifted, "record_feedback") != shape(EngineProtocol, "record_feedback")


def test_the_bridge_calls_only_the_contract():
    tree = ast.parse(BRIDGE.read_text(encoding="utf-8"))
    used = {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
            and node.value.attr in ("engine", "_engine")}
    assert used and used <= set(contract_members()), used - set(contract_members())


def test_runtime_packages_do_not_use_test_code():
    """Test-only code lives in tests/ (tiny model packs) or is named as such (desktop/testing.py,
    used only by the --fake demo and screenshots); the runtime packages import neither."""
    root = BRIDGE.parent.parent
    allowed = {"desktop/testing.py", "desktop/app.py", "desktop/screenshots.py"}
    offenders = []
    for path in sorted((root / "engine").rglob("*.py")) + sorted((root / "desktop").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                if name == "tests" or name.startswith("tests.") or (name == "desktop.testing" and rel not in allowed):
                    offenders.append(f"{rel}: {name}")
    assert not offenders, offenders
    assert not (root / "engine" / "encoders" / "tiny.py").exists()
