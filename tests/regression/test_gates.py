"""Your quantization gates as pytest tests: one test per level, for any CI that reads pytest.

    harness build tiny --from-merged DIR --levels f16,q8_0,q6_k,q5_k_m,q4_k_m,q3_k_m,q2_k
    HARNESS_REGRESS_MODEL=tiny pytest tests/regression --junitxml=regress.xml

It runs ``harness regress`` once (resumable: a rerun only does what changed) and turns the gate
results of each level into one test: passed when its gates pass, failed with every failing gate
in the message, skipped when the level is not registered or no gate applies to it. Without
``HARNESS_REGRESS_MODEL`` the whole module is skipped, so the project's own test run never
needs a model.

Environment:

* ``HARNESS_REGRESS_MODEL``: NAME whose levels are registered as ``NAME:<level>`` (required).
* ``HARNESS_REGRESS_GATES``: the gates file (default ``regress/gates.yaml``).
* ``HARNESS_REGRESS_LEVELS``: comma-separated levels (default: the levels the gates file names).
* ``HARNESS_REGRESS_BASELINE``: the baseline level (default ``f16``).
* ``HARNESS_REGRESS_SUITE``: the suite (default ``synthetic-smoke``).
* ``HARNESS_REGRESS_OUT``: output folder (default ``runs/regress-pytest-<NAME>``).
* ``HARNESS_REGRESS_ARGS``: more ``harness regress`` options, e.g. ``--limit 6 --max-steps 20``.

The model store is the one ``HARNESS_HOME`` names when pytest starts (the project's test
fixtures point it at a temporary folder during each test; this module uses the original).
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
MODEL = os.environ.get("HARNESS_REGRESS_MODEL", "").strip()
HOME = os.environ.get("HARNESS_HOME")  # captured before the project's fixtures replace it
GATES = Path(os.environ.get("HARNESS_REGRESS_GATES") or REPO / "regress" / "gates.yaml")
BASELINE = os.environ.get("HARNESS_REGRESS_BASELINE", "f16").strip()

if not MODEL:
    pytest.skip(
        "set HARNESS_REGRESS_MODEL=NAME to run the quantization gates of NAME's levels",
        allow_module_level=True,
    )


def _levels() -> list[str]:
    if env := os.environ.get("HARNESS_REGRESS_LEVELS", "").strip():
        return [x.strip() for x in env.split(",") if x.strip()]
    from harness.regress.report import load_gates

    return [lv for lv in load_gates(GATES) if lv != "default" and lv != BASELINE]


def _registered(model: str) -> bool:
    from harness.backends.resolve import resolve_backend_name
    from harness.errors import HarnessError

    with pytest.MonkeyPatch.context() as mp:
        _real_home(mp)
        try:
            resolve_backend_name(model)
        except HarnessError:
            return False
    return True


def _real_home(mp: pytest.MonkeyPatch) -> None:
    if HOME is None:
        mp.delenv("HARNESS_HOME", raising=False)
    else:
        mp.setenv("HARNESS_HOME", HOME)


def _model(level: str) -> str:
    return level if ":" in level else f"{MODEL}:{level}"


LEVELS = _levels()


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    """Runs ``harness regress`` over the registered levels and returns its results.json."""
    from harness.cli import main

    if not _registered(_model(BASELINE)):
        pytest.skip(f"the baseline {_model(BASELINE)} is not registered (harness build {MODEL} ...)")
    present = [lv for lv in LEVELS if _registered(_model(lv))]
    out = Path(os.environ.get("HARNESS_REGRESS_OUT") or REPO / "runs" / f"regress-pytest-{MODEL}")
    args = ["regress", MODEL, "--levels", ",".join([BASELINE, *present]), "--baseline", BASELINE,
            "--suite", os.environ.get("HARNESS_REGRESS_SUITE", "synthetic-smoke"), "--gates", str(GATES),
            "--out", str(out), *shlex.split(os.environ.get("HARNESS_REGRESS_ARGS", ""))]  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        _real_home(mp)
        try:
            main(args)
        except SystemExit as e:
            if e.code not in (0, 3):  # 3: some gate failed, which the tests below report
                pytest.fail(f"harness {shlex.join(args)} exited with {e.code}")
    return json.loads((out / "results.json").read_text())


@pytest.mark.parametrize("level", LEVELS)
def test_level_passes_its_gates(level: str, results: dict[str, Any]) -> None:
    if level not in results["levels"]:
        pytest.skip(f"{_model(level)} is not registered")
    mine = [g for g in results["gates"]["results"] if g["level"] == level]
    if not mine:
        pytest.skip(f"no gate in {GATES} applies to {level}")
    failed = [f"{g['gate']}: {g['message']}" for g in mine if g["status"] == "fail"]
    assert not failed, f"{level} regressed vs {results['run']['baseline']}:\n  " + "\n  ".join(failed)
