"""Third-party backends through the ``react_harness.backends`` entry-point group: a real
distribution (dist-info with entry_points.txt) on sys.path, found by importlib.metadata."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.backends.registry import _FACTORIES, available_backends, create_backend
from harness.errors import UsageError

PLUGIN = """
from harness.backends.scripted import ScriptedBackend


def make(model="", **kwargs):
    return ScriptedBackend(model=model, replies=["think: a plugin answers"])
"""


@pytest.fixture
def plugin_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "fake_harness_plugin.py").write_text(PLUGIN)
    info = tmp_path / "fake_harness_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-harness-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[react_harness.backends]\nfakeplug = fake_harness_plugin:make\nbrokenplug = no_such_module_xyz:make\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("fakeplug", "brokenplug"):
        _FACTORIES.pop(name, None)
    sys.modules.pop("fake_harness_plugin", None)


def test_an_entry_point_backend_works_like_a_builtin(plugin_dist: Path) -> None:
    assert "fakeplug" in available_backends()
    backend = create_backend("fakeplug", model="m")
    from harness.backends.base import ChatOptions

    assert backend.chat([{"role": "user", "content": "hi"}], ChatOptions()).text == "think: a plugin answers"


def test_a_broken_plugin_is_one_clear_error(plugin_dist: Path) -> None:
    with pytest.raises(UsageError, match=r"brokenplug.*failed to load"):
        create_backend("brokenplug")


def test_unknown_backend_lists_what_exists() -> None:
    with pytest.raises(UsageError, match=r"available: .*llamacpp"):
        create_backend("nope")
