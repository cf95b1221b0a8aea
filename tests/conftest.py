from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# tests/regression is the quantization-gate entry point for users' CI
# (HARNESS_REGRESS_MODEL=NAME pytest tests/regression); without a model it has nothing to test,
# so it is not collected rather than skipped (the machinery itself is tested in test_regress.py).
collect_ignore = [] if os.environ.get("HARNESS_REGRESS_MODEL") else ["regression"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def _alfworld_root() -> Path | None:
    value = os.environ.get("ALFWORLD_DATA")
    if not value:
        return None
    p = Path(value).expanduser().resolve()
    return p if (p / "json_2.1.1").is_dir() else None


@pytest.fixture(scope="session")
def alfworld_root() -> Path:
    root = _alfworld_root()
    if root is None:
        pytest.skip("ALFWORLD_DATA is unset or has no json_2.1.1/ (point it at the ALFWorld games)")
    return root


@pytest.fixture(scope="session")
def train_games(alfworld_root: Path) -> list[Path]:
    return sorted((alfworld_root / "json_2.1.1" / "train").glob("*/*/game.tw-pddl"))


@pytest.fixture(scope="session")
def valid_seen_games(alfworld_root: Path) -> list[Path]:
    return sorted((alfworld_root / "json_2.1.1" / "valid_seen").glob("*/*/game.tw-pddl"))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tests away from the user's data dir (model store, caches)."""
    home = tmp_path_factory.mktemp("harness-home")
    monkeypatch.setenv("HARNESS_HOME", str(home))


# --- CI cannot lie -------------------------------------------------------------------------------
# Under CI (the CI environment variable set), a skipped test fails unless it is marked slow,
# ollama or gpu: a missing llama_cpp / torch / transformers / peft / gguf (importorskip), missing
# game files or any other skip would otherwise let a broken install pass.
ALLOWED_SKIP_MARKERS = ("slow", "ollama", "gpu")


def _ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _fail_skip(report: pytest.TestReport | pytest.CollectReport, marked: bool) -> None:
    if _ci() and report.skipped and not marked and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (
            f"CI is set: a skip is a failure here unless marked {'/'.join(ALLOWED_SKIP_MARKERS)} ({reason})"
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    outcome = yield
    marked = any(m in item.keywords for m in ALLOWED_SKIP_MARKERS)
    _fail_skip(outcome.get_result(), marked)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> object:
    outcome = yield
    _fail_skip(outcome.get_result(), marked=False)
