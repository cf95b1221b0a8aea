"""The expert's search priors are data (harness/world/priors.json) derived from the real games by
a script in the package: recounting them from ALFWORLD_DATA gives the shipped table."""

from __future__ import annotations

import json
from pathlib import Path

from harness.world.priors import PRIORS, PRIORS_FILE, prior, write_priors


def test_shipped_table_is_what_the_script_counts(alfworld_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "priors.json"
    table = write_priors(str(alfworld_root), out)
    assert table == PRIORS and json.loads(out.read_text()) == PRIORS
    assert out.read_text() == PRIORS_FILE.read_text()  # byte for byte: a rerun leaves no diff


def test_prior_reads_type_constants() -> None:
    assert prior("appletype", "fridgetype") == prior("apple", "fridge") > prior("apple", "countertop") > 0
    assert prior("apple", "toilet") == 0.0 and prior("nosuchthing", "fridge") == 0.0
