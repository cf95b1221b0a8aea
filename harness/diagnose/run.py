"""``harness diagnose``: the pipeline stage where a model loses quality, with the evidence.

    harness diagnose tiny                      # stages from builds/tiny/build.json (+ lineage)
    harness diagnose my-qwen --stage merged=./merged --stage gguf=./my.q4_k_m.gguf --gate

Stages, in pipeline order: ``adapter`` (the training output: LoRA on its base through peft, or a
full fine-tune), ``merged``, the float GGUF, each quantization level, and the Ollama models
(when a server answers). Each stage is compared with its parent (a level with the float GGUF, a
GGUF with the last checkpoint, an Ollama model with the GGUF it was registered from), on the
expert's gold ReAct trajectories:

1. prompt identity: the ids each stage receives for the same conversation (checkpoint stages
   render the training chat template, GGUF stages their Modelfile TEMPLATE, Ollama its own
   render via ``_debug_render_only``), with the first differing token in context;
2. stop identity: the end-of-turn token, and whether each runtime stops on it (transformers on
   ``generation_config``; llama.cpp on its end-of-generation set; Ollama's engine only on
   ``tokenizer.ggml.eos_token_id(s)``; all on the Modelfile's ``stop`` strings);
3. token KLD / top-1 agreement on the same ids (full-vocabulary logits at the agent's decision
   tokens) and teacher-forced action agreement (:mod:`harness.analysis.agreement`);
4. episodes on a suite (:func:`harness.bench.runner.run_suite`).

:mod:`harness.diagnose.report` turns the measurements into findings and names the first stage
that fails, with its likely cause.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from harness.errors import HarnessError, UsageError
from harness.serving.modelfile import Modelfile

__all__ = ["DiagnoseConfig", "Stage", "diagnose", "order_stages", "parse_stage", "stages_from_build"]

KINDS = ("adapter", "merged", "gguf", "ollama")
FLOAT_LEVELS = ("f32", "bf16", "f16")
LEVEL_ORDER = ("f32", "bf16", "f16", "q8_0", "q6_k", "q5_k_m", "q5_k_s", "q5_1", "q5_0", "q4_k_m",
               "q4_k_s", "q4_1", "q4_0", "iq4_nl", "iq4_xs", "q3_k_l", "q3_k_m", "q3_k_s", "q2_k")  # fmt: skip
Messages = list[dict[str, str]]


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
    steps = json.loads(f.read_text()).get("steps", {})

    def outs(step: str) -> list[Path]:
        return [Path(o["path"]) for o in steps.get(step, {}).get("outputs", [])]

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
class _Handle(Protocol):
    """A loaded stage: what the checks need from it."""

    stage: Stage
    has_logits: bool

    def render(self, messages: Messages) -> str: ...
    def tokenize(self, text: str) -> list[int] | None: ...
    def pieces(self, ids: list[int]) -> list[str]: ...
    def logits_at(self, tokens: list[int], positions: list[int]) -> np.ndarray: ...
    def stops(self) -> dict[str, Any]:
        """``{"stop_strings": [...], "runtimes": {runtime: [end-of-generation token texts]}}``."""
        ...

    def meta(self) -> dict[str, Any]: ...
    def backend(self) -> Any: ...
    def close(self) -> None: ...


def _stop_strings(mf: Modelfile | None) -> list[str]:
    return [str(s) for s in (mf.parameters.get("stop", []) if mf else [])]


class _HFHandle:
    has_logits = True

    def __init__(self, st: Stage) -> None:
        from harness.backends.hf import HFBackend

        self.stage = st
        self.be = HFBackend(st.label, st.path, st.modelfile, template="modelfile" if st.modelfile else "auto")
        if getattr(self.be.tokenizer, "chat_template", None):
            self.be.template = "tokenizer"  # the training format: what a notebook sends

    def render(self, messages: Messages) -> str:
        if messages and messages[-1]["role"] == "assistant" and self.be.template == "tokenizer":
            full = self.be.tokenizer.apply_chat_template(messages, tokenize=False)
            end = full.rfind(messages[-1]["content"])
            return full if end < 0 else full[: end + len(messages[-1]["content"])]  # no end marker
        return self.be.render_prompt(messages)

    def tokenize(self, text: str) -> list[int]:
        return self.be.tokenize(text)

    def pieces(self, ids: list[int]) -> list[str]:
        return [self.be.detokenize([i]) for i in ids]

    def logits_at(self, tokens: list[int], positions: list[int]) -> np.ndarray:
        return self.be.logits(tokens, positions)

    def stops(self) -> dict[str, Any]:
        eog = sorted(self.be.detokenize([i]) for i in self.be.eog_ids)
        return {"stop_strings": _stop_strings(self.be.modelfile), "runtimes": {"transformers": eog}}

    def meta(self) -> dict[str, Any]:
        cfg_file = Path(self.stage.path, "config.json")
        return {"config": json.loads(cfg_file.read_text())} if cfg_file.is_file() else {}

    def backend(self) -> Any:
        return self.be

    def close(self) -> None:
        self.be.close()


def gguf_metadata(path: str | Path) -> dict[str, Any]:
    """Scalar metadata of a GGUF (and ``tokenizer.ggml.eos_token_ids``), arrays left out."""
    import gguf

    r = gguf.GGUFReader(str(path))
    out: dict[str, Any] = {}
    for k, f in r.fields.items():
        if k.startswith("GGUF.") or (len(f.data) != 1 and k != "tokenizer.ggml.eos_token_ids"):
            continue
        v = f.contents()
        if not (isinstance(v, str) and len(v) > 200):
            out[k] = v
    return out


class _Vocab:
    """A GGUF's vocabulary alone (llama.cpp, no tensors): tokenize, token pieces, EOG flags."""

    def __init__(self, path: str) -> None:
        import llama_cpp
        import llama_cpp._logger

        self._lib = llama_cpp
        llama_cpp._logger.set_verbose(False)
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        self._model = llama_cpp.llama_model_load_from_file(path.encode(), params)
        if not self._model:
            raise DiagnoseError(f"llama.cpp cannot read the vocabulary of {path}")
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)
        self.n = llama_cpp.llama_vocab_n_tokens(self._vocab)

    def tokenize(self, text: str) -> list[int]:
        raw = text.encode("utf-8")
        buf = (self._lib.llama_token * (len(raw) + 8))()
        n = self._lib.llama_tokenize(self._vocab, raw, len(raw), buf, len(buf), True, True)
        return list(buf[:n])

    def pieces(self, ids: list[int]) -> list[str]:
        import ctypes

        buf = ctypes.create_string_buffer(512)
        out = []
        for i in ids:
            n = self._lib.llama_token_to_piece(self._vocab, i, buf, len(buf), 0, True)
            out.append(buf.raw[: max(n, 0)].decode("utf-8", "replace"))
        return out

    def eog(self) -> list[int]:
        return [i for i in range(self.n) if self._lib.llama_vocab_is_eog(self._vocab, i)]

    def close(self) -> None:
        if self._model:
            self._lib.llama_model_free(self._model)
            self._model = None


class _GGUFHandle:
    has_logits = True

    def __init__(self, st: Stage, n_ctx: int) -> None:
        from harness.analysis.llamacpp_logits import LlamaCppLogits

        self.stage, self.mf = st, st.modelfile or Modelfile(from_=st.path)
        self.src = LlamaCppLogits(st.path, st.label, n_ctx=n_ctx)
        self.vocab = _Vocab(st.path)
        self._be: Any = None

    def render(self, messages: Messages) -> str:
        return self.mf.prompt(messages)

    def tokenize(self, text: str) -> list[int]:
        return self.src.tokenize(text)

    def pieces(self, ids: list[int]) -> list[str]:
        return self.vocab.pieces(ids)

    def logits_at(self, tokens: list[int], positions: list[int]) -> np.ndarray:
        return self.src.logits_at(tokens, positions)

    def stops(self) -> dict[str, Any]:
        eog = self.vocab.eog()
        meta = gguf_metadata(self.stage.path)
        declared = [
            meta.get("tokenizer.ggml.eos_token_id"),
            *(meta.get("tokenizer.ggml.eos_token_ids") or []),
        ]
        return {
            "stop_strings": _stop_strings(self.mf),
            "runtimes": {
                "llama.cpp": sorted(set(self.pieces(eog))),
                "ollama": sorted(set(self.pieces([int(i) for i in declared if i is not None]))),
            },
        }

    def meta(self) -> dict[str, Any]:
        return {"gguf": gguf_metadata(self.stage.path)}

    def backend(self) -> Any:
        if self._be is None:
            from harness.backends.llamacpp import LlamaCppBackend

            self.src.close()  # one model in memory at a time
            self._be = LlamaCppBackend(self.stage.label, gguf=self.stage.path, modelfile=self.mf)
        return self._be

    def close(self) -> None:
        self.src.close()
        self.vocab.close()
        if self._be is not None:
            self._be.close()


class _OllamaHandle:
    has_logits = False

    def __init__(self, st: Stage, host: str | None, vocab_gguf: str | None) -> None:
        from harness.backends.ollama import OllamaServer

        self.stage, self.server = st, OllamaServer(host)
        self.show = self.server.show(st.path)
        self.vocab = _Vocab(vocab_gguf) if vocab_gguf else None

    def render(self, messages: Messages) -> str:
        body = {"model": self.stage.path, "messages": messages, "stream": False, "_debug_render_only": True}
        with self.server.errors(self.stage.path, action="render-only chat"):
            r = self.server._http.post("/api/chat", json=body)
            r.raise_for_status()
        info = r.json().get("_debug_info") or {}
        if "rendered_template" not in info:
            raise DiagnoseError(
                f"Ollama at {self.server.host} does not support _debug_render_only; update it"
            )
        return str(info["rendered_template"])

    def tokenize(self, text: str) -> list[int] | None:
        return self.vocab.tokenize(text) if self.vocab else None

    def pieces(self, ids: list[int]) -> list[str]:
        return self.vocab.pieces(ids) if self.vocab else [str(i) for i in ids]

    def stops(self) -> dict[str, Any]:
        stops = []
        for line in str(self.show.get("parameters") or "").splitlines():
            key, _, value = line.strip().partition(" ")
            if key == "stop":
                stops.append(value.strip().strip('"'))
        info = self.show.get("model_info") or {}
        ids = [info.get("tokenizer.ggml.eos_token_id"), *(info.get("tokenizer.ggml.eos_token_ids") or [])]
        return {
            "stop_strings": stops,
            "runtimes": {"ollama": sorted(set(self.pieces([int(i) for i in ids if i is not None])))},
        }

    def logits_at(self, tokens: list[int], positions: list[int]) -> np.ndarray:
        raise DiagnoseError("Ollama exposes no full-vocabulary logits")

    def meta(self) -> dict[str, Any]:
        return {"details": self.show.get("details") or {}}

    def backend(self) -> Any:
        from harness.backends.ollama import OllamaBackend

        return OllamaBackend(model=self.stage.path, server=self.server)

    def close(self) -> None:
        if self.vocab is not None:
            self.vocab.close()
        self.server.close()


def open_stage(st: Stage, stages: dict[str, Stage], cfg: DiagnoseConfig, n_ctx: int) -> _Handle:
    if st.kind in ("adapter", "merged"):
        return _HFHandle(st)
    if st.kind == "gguf":
        return _GGUFHandle(st, n_ctx)
    parent = stages.get(st.parent or "")
    return _OllamaHandle(st, cfg.host, parent.path if parent is not None and parent.kind == "gguf" else None)


# ------------------------------------------------------------------------------ the run
def end_of_turn(h: _Handle) -> tuple[int | None, str | None]:
    """The token that ends an assistant turn in ``h``'s rendering (``<|im_end|>`` for ChatML)."""
    reply = "go to desk 1"
    full = h.render([{"role": "user", "content": "hi"}, {"role": "assistant", "content": reply},
                     {"role": "user", "content": "OK."}])  # fmt: skip
    cut = full.find(reply) + len(reply)
    ids, head = h.tokenize(full), h.tokenize(full[:cut])
    if not ids or not head or ids[: len(head)] != head or len(ids) == len(head):
        return None, None
    return ids[len(head)], h.pieces([ids[len(head)]])[0]


def _measure(
    h: _Handle, st: Stage, ctx: dict[str, Any], cfg: DiagnoseConfig, step: Callable[[str], None]
) -> dict:
    from harness.agent.protocol import REPLY_STOPS
    from harness.analysis.agreement import teacher_forced
    from harness.backends.base import ChatOptions

    step("prompt")
    m: dict[str, Any] = {"texts": [h.render(p) for p in ctx["prompts"]]}
    m["ids"] = [h.tokenize(t) for t in m["texts"]]
    m["pieces"] = [h.pieces(i) if i is not None else [] for i in m["ids"]]
    if isinstance(h, _HFHandle):  # keep the tokenizer (not the model) for cross-tokenization
        tok = h.be.tokenizer
        m["tokenize"] = lambda text: list(tok.encode(text, add_special_tokens=True))
        m["pieces_of"] = lambda ids: [tok.decode([i], skip_special_tokens=False) for i in ids]
    if "seqs" not in ctx and h.has_logits:
        from harness.analysis.llamacpp_logits import decision_tokens

        seqs = [decision_tokens(c, h.render, h.tokenize) for c in ctx["conversations"]]
        ctx["seqs"] = [(t, p) for t, p in seqs if p]
        ctx["eot_id"], ctx["eot"] = end_of_turn(h)
    step("stop")
    m["stop"], m["meta"] = h.stops(), h.meta()
    if h.has_logits and ctx.get("seqs"):
        step("logits")
        m["rows"] = [h.logits_at(t, p) for t, p in ctx["seqs"]]
    options = ChatOptions(num_predict=cfg.num_predict, stop=list(REPLY_STOPS))
    if cfg.agreement_turns:
        step("agreement")
        m["steps"] = teacher_forced(ctx["trajectories"], h.backend(), options, max_turns=cfg.agreement_turns)
    if cfg.episodes:
        step("episodes")
        from harness.bench.runner import RunConfig, run_suite
        from harness.bench.scoring import compute

        run = RunConfig(suite=ctx["suite"].name, model=st.label, backend=st.kind, max_steps=cfg.max_steps,
                        limit=cfg.episodes, options=options)  # fmt: skip
        folder = ctx["out"] / "episodes" / "".join(c if c.isalnum() or c in "-_." else "-" for c in st.label)
        shutil.rmtree(folder, ignore_errors=True)  # a fresh run: the stage's weights may have changed
        be = h.backend()
        m["episodes"] = compute(run_suite(ctx["suite"], lambda: be, run, folder)).to_dict()
    return m


def diagnose(
    name: str,
    stages: list[Stage],
    cfg: DiagnoseConfig,
    thresholds: dict[str, Any] | None = None,
    progress: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """Measure every stage, compare each with its parent, apply the rules; returns the report
    (also written as ``diagnose.json`` and ``diagnose.md`` in ``cfg.out_dir`` when set)."""
    import tempfile
    import time

    from harness.analysis.agreement import expert_trajectories
    from harness.bench.suites import load_suite
    from harness.diagnose import report as R

    if not stages:
        raise DiagnoseError(
            "no stages to diagnose: build the model with 'harness build' or give --stage KIND=PATH"
        )
    th = {**R.DEFAULT_THRESHOLDS, **(thresholds or {})}
    ordered = order_stages(stages)
    served = next((s.modelfile for s in ordered if s.kind == "gguf" and s.modelfile), None)
    for st in ordered:  # checkpoints get the served PARAMETERs (their prompt is the chat template)
        if st.kind in ("adapter", "merged") and st.modelfile is None and served is not None:
            st.modelfile, st.modelfile_source = served, "the GGUF stages' Modelfile"
    suite = load_suite(cfg.suite)
    trajs = expert_trajectories(suite, suite.games()[: cfg.conversations])
    if not trajs:
        raise DiagnoseError(f"suite {suite.name} gave no gold trajectories; use another --suite")
    tmp = None if cfg.out_dir else tempfile.TemporaryDirectory(prefix="diagnose-")
    ctx: dict[str, Any] = {
        "suite": suite, "trajectories": trajs, "out": Path(cfg.out_dir or tmp.name),  # type: ignore[union-attr]
        "conversations": [t.conversation() for t in trajs],
        "prompts": [t.messages(len(t.turns) - 1) for t in trajs],
    }  # fmt: skip
    by_label = {s.label: s for s in ordered}
    measured: dict[str, dict[str, Any]] = {}
    records: list[dict[str, Any]] = []
    try:
        for i, st in enumerate(ordered):
            step = (
                (lambda check, label=st.label: progress(label, check)) if progress else (lambda check: None)
            )
            step("load")
            try:
                h = open_stage(st, by_label, cfg, n_ctx=2048)
            except HarnessError as e:
                raise DiagnoseError(f"stage {st.label} ({st.path}): {e}") from None
            try:
                measured[st.label] = _measure(h, st, ctx, cfg, step)
            finally:
                h.close()
            par = measured.get(st.parent or "")
            ref = measured[ordered[0].label] if i else None
            rec = R.stage_record(st.to_dict(), measured[st.label], par, ref, ctx)
            parent_rec = next((r for r in records if r["label"] == st.parent), None)
            rec["findings"] = R.findings(rec, parent_rec, th)
            records.append(rec)
            later = {s.parent for s in ordered[i + 1 :]} | {ordered[0].label}
            for label, m in measured.items():  # free logits no later stage compares against
                if label not in later:
                    m.pop("rows", None)
    finally:
        if tmp is not None:
            tmp.cleanup()
    report = {
        "version": R.REPORT_VERSION, "name": name, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "suite": suite.name, "conversations": len(trajs), "end_of_turn": ctx.get("eot"),
        "thresholds": th, "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        "stages": records, "verdict": R.verdict(records),
    }  # fmt: skip
    if cfg.out_dir:
        from harness._util.atomic import atomic_write_text

        atomic_write_text(Path(cfg.out_dir) / "diagnose.json", json.dumps(report, indent=2, default=str))
        atomic_write_text(Path(cfg.out_dir) / "diagnose.md", R.to_markdown(report))
    return report
