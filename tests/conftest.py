from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


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
