"""``harness report`` comparing runs: runs played in parts (joined by +) and the paired McNemar
table against the first run, on real bench runs of the built-in policies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli as run

from harness.bench.paired import mcnemar_exact
from harness.bench.suites import load_suite


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The expert in two parts of 6 games, and the random policy (8 steps) on all 12
    (synthetic-smoke)."""
    from harness.cli import main

    root = tmp_path_factory.mktemp("runs")
    ids = [e.id for e in load_suite("synthetic-smoke").games()]
    assert len(ids) == 12
    out: dict[str, Path] = {}
    plays = (
        ("exp-h1", "expert", ids[:6], []),
        ("exp-h2", "expert", ids[6:], []),
        ("rnd", "random", ids, ["--max-steps", "8"]),
    )
    for name, model, games, extra in plays:
        listed = root / f"{name}.txt"
        listed.write_text("\n".join(games) + "\n")
        out[name] = root / name
        main(
            [
                "bench",
                model,
                "--suite",
                "synthetic-smoke",
                "--games",
                str(listed),
                "--out",
                str(out[name]),
                *extra,
            ]
        )
    return out


def _won(run_dir: Path) -> dict[str, bool]:
    return {
        t["game_id"]: t["won"] for t in map(json.loads, (run_dir / "traces.jsonl").read_text().splitlines())
    }


def test_a_run_in_parts_is_paired_game_by_game_with_the_first(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    expert = {**_won(runs["exp-h1"]), **_won(runs["exp-h2"])}
    rnd = _won(runs["rnd"])
    assert len(expert) == 12 and set(expert) == set(rnd)
    only_expert = sum(expert[g] and not rnd[g] for g in rnd)
    only_random = sum(rnd[g] and not expert[g] for g in rnd)
    assert only_expert > only_random  # the expert wins what random does not
    joined = f"{runs['exp-h1']}+{runs['exp-h2']}"
    code, out, err = run(capsys, "report", str(runs["rnd"]), joined)
    assert code == 0, err
    row = next(ln for ln in out.splitlines() if ln.startswith("| exp-h1+exp-h2 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    wins = sum(expert.values())
    assert cells[1].startswith(f"{100 * wins / 12:.1f}%")
    assert cells[2:5] == ["12", str(only_expert), str(only_random)]
    assert cells[6] == f"{mcnemar_exact(only_random, only_expert):.3g}"
    assert f"| overall | {100 * sum(rnd.values()) / 12:.1f}% ({sum(rnd.values())}/12) |" in out


def test_parts_of_one_run_must_not_overlap_or_differ(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    twice = f"{runs['exp-h1']}+{runs['exp-h1']}"
    code, _, err = run(capsys, "report", str(runs["rnd"]), twice)
    assert code == 1 and "is in both" in err and len(err.strip().splitlines()) == 1
    mixed = f"{runs['exp-h1']}+{runs['rnd']}"
    code, _, err = run(capsys, "report", mixed)
    assert code == 1 and "must share the model" in err and "'expert'" in err and "Traceback" not in err
    code, _, err = run(capsys, "report", f"{runs['exp-h1']}+{runs['exp-h1'].parent / 'nope'}")
    assert code == 1 and "holds no traces.jsonl" in err
