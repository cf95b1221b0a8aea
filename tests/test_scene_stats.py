"""The generator's scene statistics are data (harness/world/scene_stats.json) derived from the real
games by a script in the package: recounting them from ALFWORLD_DATA gives the shipped file, and
vocab exposes them with the types the generator relies on (tuples, int histogram keys, order)."""

from __future__ import annotations

import json
from pathlib import Path

from harness.world import vocab as V
from harness.world.scene_stats import encode, write_scene_stats

TABLES = ("GOALS", "OBJECT_POOL", "OPENABLE_RATE", "RECEPTACLE_POOL", "TARGET_COUNTS")


def test_shipped_tables_are_what_the_script_counts(alfworld_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "scene_stats.json"
    stats = write_scene_stats(alfworld_root, out)
    assert sorted(stats) == list(TABLES)
    for name in TABLES:
        assert stats[name] == getattr(V, name), name
    assert out.read_text() == V.SCENE_STATS_FILE.read_text()  # byte for byte: a rerun leaves no diff


def test_the_file_round_trips() -> None:
    shipped = {name: getattr(V, name) for name in TABLES}
    assert encode(shipped) == V.SCENE_STATS_FILE.read_text()
    assert sorted(json.loads(V.SCENE_STATS_FILE.read_text())) == list(TABLES)


def _hist(h: object) -> None:
    assert isinstance(h, dict) and h
    assert all(type(k) is int and type(v) is int and v > 0 for k, v in h.items())
    assert list(h) == sorted(h)  # the generator's weighted draws walk them in order


def test_loaded_tables_keep_their_types() -> None:
    assert all(type(r) is float and 0 < r <= 1 for r in V.OPENABLE_RATE.values())
    assert set(V.OPENABLE_RATE) <= V.OPENABLE_TYPES
    for pools in (V.RECEPTACLE_POOL, V.OBJECT_POOL):
        assert list(pools) == list(V.ROOM_KINDS)
        for pool in pools.values():
            assert list(pool) == sorted(pool)
    for room, pool in V.RECEPTACLE_POOL.items():
        for rtype, entry in pool.items():
            assert rtype in V.RECEPTACLE_TYPES and type(entry) is tuple and len(entry) == 2, (room, rtype)
            assert type(entry[0]) is float
            _hist(entry[1])
    for room, pool in V.OBJECT_POOL.items():
        for otype, entry in pool.items():
            assert otype in V.OBJECT_TYPES and type(entry) is tuple and len(entry) == 3, (room, otype)
            share, hist, where = entry
            assert type(share) is float
            _hist(hist)
            assert where is None or (type(where) is dict and all(type(n) is int for n in where.values()))
    assert list(V.GOALS) == sorted(V.GOALS)
    for goals in V.GOALS.values():
        assert type(goals) is tuple
        for g in goals:
            assert type(g) is tuple and [type(x) for x in g] == [str, str, str, int]
    for hist in V.TARGET_COUNTS.values():
        _hist(hist)
