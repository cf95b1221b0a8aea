"""Stages of a model's pipeline for ``harness diagnose``: what they are, where they come from
(``builds/NAME/build.json`` or ``--stage KIND=PATH``) and which stage each is compared with."""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, UsageError
from harness.serving.modelfile import Modelfile
from harness.serving.quant import FLOAT_LEVELS, LEVEL_ORDER

__all__ = ["DiagnoseConfig", "DiagnoseError", "Stage", "order_stages", "parse_stage", "stages_from_build"]

KINDS = ("adapter", "merged", "gguf", "ollama")


class DiagnoseError(HarnessError):
    """Stages that cannot be found or loaded; the message says which and what to do."""


@dataclass
class Stage:
    """One artifact of the pipeline."""

    label: str
    """``adapter``, ``merged``, ``f16``, ``q4_k_m``, ``ollama:NAME`` …"""
    kind: str
    """``adapter``, ``merged``, ``gguf`` or ``ollama``."""
    path: str
    """Checkpoint folder, GGUF file, or Ollama model name."""
    level: str | None = None
    modelfile: Modelfile | None = field(default=None, repr=False, compare=False)
    modelfile_source: str | None = None
    parent: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("modelfile")
        return d


@dataclass
class DiagnoseConfig:
    suite: str = "synthetic-smoke"
    conversations: int = 4
    """Gold trajectories for the prompt, stop, KLD and agreement checks."""
    agreement_turns: int = 6
    """Teacher-forced replies per trajectory (0: skip generation-based agreement)."""
    episodes: int = 4
    """Games played per stage (0: skip episodes)."""
    max_steps: int = 15
    num_predict: int = 48
    host: str | None = None
    """The Ollama server of ``ollama`` stages (their render, stop and agreement checks)."""
    hosts: list[Any] = field(default_factory=list)
    """A pool (:class:`harness.bench.pool.HostSpec`) that plays the episodes of ``ollama`` stages."""
    openai_mode: str = "chat"
    retries: int = 3
    out_dir: Path | None = None


# ------------------------------------------------------------------------------ stages
def _gguf_level(path: Path) -> str:
    from harness.serving.gguf_info import read_gguf_info

    q = read_gguf_info(path).quantization
    return (q or "gguf").lower()


def _default_modelfile() -> Modelfile:
    from harness.backends.hf import default_modelfile
    from harness.serving.modelfile import load

    return load(default_modelfile())


def parse_stage(spec: str, modelfile: Modelfile | None = None) -> Stage:
    """``KIND[:LABEL]=VALUE``: a folder (adapter, merged), a GGUF file or a locally registered
    name (gguf), an Ollama model name (ollama)."""
    head, sep, value = spec.partition("=")
    kind, _, label = head.partition(":")
    if not sep or not value or kind not in KINDS:
        raise UsageError(f"--stage {spec!r}: use KIND[:LABEL]=PATH with KIND one of {', '.join(KINDS)}")
    if kind == "ollama":
        tag = value.rpartition(":")[2].lower()
        return Stage(label or f"ollama:{value}", kind, value, tag if tag in LEVEL_ORDER else None)
    p = Path(value).expanduser()
    if kind == "gguf":
        if p.is_file():
            lv = _gguf_level(p)
            mf = modelfile or _default_modelfile()
            return Stage(label or lv, kind, str(p), lv, mf, "--modelfile" if modelfile else "default")
        from harness.serving.store import get_local

        entry = get_local(value)
        if entry is None:
            raise DiagnoseError(f"--stage {spec}: no GGUF file or locally registered model {value!r}")
        lv = _gguf_level(entry.check())
        return Stage(label or lv, kind, str(entry.check()), lv, entry.parsed_modelfile(), value)
    if not p.is_dir():
        raise DiagnoseError(f"--stage {spec}: {p} is not a checkpoint folder")
    return Stage(
        label or kind,
        kind,
        str(p),
        modelfile=modelfile,
        modelfile_source="--modelfile" if modelfile else None,
    )


def stages_from_build(build_dir: Path, host: str | None = None) -> list[Stage]:
    """The stages ``harness build`` recorded in ``build_dir/build.json`` (and the merged
    checkpoint's ``lineage.json``): training output, merged, float GGUF, levels, Ollama models."""
    f = build_dir / "build.json"
    if not f.is_file():
        raise DiagnoseError(
            f"{f} not found; build the model with 'harness build' or name stages with --stage KIND=PATH"
        )
    from harness._util.jsonfile import read_json
    from harness._util.paths import recorded_path

    steps = read_json(f, "build record", DiagnoseError, "rebuild with 'harness build'").get("steps", {})

    def outs(step: str) -> list[Path]:
        recs = steps.get(step, {}).get("outputs", [])
        if step in ("convert", "quantize"):  # written by the build, so inside its folder
            return [recorded_path(o["path"], build_dir, f"{f} ({step})") for o in recs]
        return [Path(o["path"]) for o in recs]

    def trained(path: str) -> Stage:  # a LoRA adapter, or a full fine-tune's model folder
        return Stage("adapter" if Path(path, "adapter_config.json").is_file() else "sft", "adapter", path)

    out = [trained(str(p)) for p in outs("sft")]
    for p in outs("merge"):
        lineage = p / "lineage.json"
        adapter = (
            json.loads(lineage.read_text()).get("adapter", {}).get("path") if lineage.is_file() else None
        )
        if not out and adapter and Path(adapter).is_dir():
            out.append(trained(adapter))
        out.append(Stage("merged", "merged", str(p)))
    ggufs = {_gguf_level(p): p for p in [*outs("convert"), *outs("quantize")] if p.is_file()}
    mfs: dict[str, tuple[Modelfile, str]] = {}
    for m in steps.get("register", {}).get("models", []):
        lv = m["name"].rpartition(":")[2]
        if m.get("where") == "local":
            from harness.serving.store import get_local

            entry = get_local(m["name"])
            if entry is not None:
                mfs[lv] = (entry.parsed_modelfile(), m["name"])
        elif m.get("where") == "ollama":
            from harness.backends import ollama

            if ollama.is_reachable(host):
                out.append(Stage(f"ollama:{m['name']}", "ollama", m["name"], lv))
                with contextlib.suppress(HarnessError):  # a model removed since: its GGUF gets the default
                    mfs[lv] = (_ollama_modelfile(m["name"], host), f"ollama:{m['name']}")
    for lv, p in ggufs.items():
        mf, src = mfs.get(lv) or (_default_modelfile(), "default")
        out.append(Stage(lv, "gguf", str(p), lv, mf, src))
    return out


def _ollama_modelfile(name: str, host: str | None) -> Modelfile:
    """The Modelfile Ollama holds for ``name`` (what its GGUF is served with)."""
    from harness.backends.ollama import OllamaServer
    from harness.serving.modelfile import parse

    server = OllamaServer(host)
    try:
        return parse(str(server.show(name).get("modelfile") or ""), source=f"ollama show {name}")
    finally:
        server.close()


def _rank(st: Stage) -> tuple[int, int]:
    lv = LEVEL_ORDER.index(st.level) if st.level in LEVEL_ORDER else len(LEVEL_ORDER)
    return KINDS.index(st.kind), lv


def order_stages(stages: list[Stage]) -> list[Stage]:
    """Pipeline order, later duplicates of a label replacing earlier ones, parents assigned."""
    by_label: dict[str, Stage] = {}
    for st in stages:
        by_label[st.label] = st
    ordered = sorted(by_label.values(), key=_rank)
    last_hf: str | None = None
    float_gguf: str | None = None
    ggufs: dict[str, str] = {}
    for st in ordered:
        if st.kind in ("adapter", "merged"):
            st.parent, last_hf = last_hf, st.label
        elif st.kind == "gguf":
            st.parent = float_gguf or last_hf if st.level not in FLOAT_LEVELS else last_hf
            float_gguf = float_gguf or (st.label if st.level in FLOAT_LEVELS else None)
            ggufs.setdefault(st.level or st.label, st.label)
        else:
            st.parent = ggufs.get(st.level or "") or float_gguf or next(iter(ggufs.values()), None) or last_hf
    if ordered and ordered[0].parent is None:
        first = ordered[0]
        for st in ordered[1:]:
            st.parent = st.parent or first.label
    return ordered


# ------------------------------------------------------------------------------ stage handles
