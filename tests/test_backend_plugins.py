"""Third-party backends through the ``react_harness.backends`` entry-point group: a real
distribution (dist-info with entry_points.txt) on sys.path, found by importlib.metadata."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.backends.registry import (
    _FACTORIES,
    _POLICIES,
    BUILTIN,
    available_backends,
    create_backend,
    is_policy,
)
from harness.errors import UsageError

PLUGIN = """
from harness.backends.policies import ExpertPolicy
from harness.backends.registry import register_backend
from harness.backends.scripted import ScriptedBackend


def make(model="", **kwargs):
    return ScriptedBackend(model=model, replies=["think: a plugin answers"])


@register_backend("fakepolicy", policy=True)
def make_policy(model="", **kwargs):
    return ExpertPolicy(model=model)
"""


@pytest.fixture
def plugin_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "fake_harness_plugin.py").write_text(PLUGIN)
    info = tmp_path / "fake_harness_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-harness-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[react_harness.backends]\nfakeplug = fake_harness_plugin:make\nbrokenplug = no_such_module_xyz:make\n"
        "fakepolicy = fake_harness_plugin:make_policy\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("fakeplug", "brokenplug", "fakepolicy"):
        _FACTORIES.pop(name, None)
        _POLICIES.discard(name)
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


def test_a_plugin_policy_is_playable_by_name(plugin_dist: Path, tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from harness.cli import cli

    assert is_policy("fakepolicy") and not is_policy("fakeplug")
    out = tmp_path / "run"
    args = ["bench", "fakepolicy", "--suite", "synthetic-smoke", "--limit", "1", "--out", str(out)]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    assert res["run"]["backend"] == "fakepolicy" and res["episodes"][0]["won"]


def test_builtin_policy_flags_match_their_registrations() -> None:
    import importlib

    for name, builtin in BUILTIN.items():
        importlib.import_module(builtin.module)
        assert (name in _POLICIES) == builtin.policy, name
