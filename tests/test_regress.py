"""harness regress: statistics, gates, JUnit, teacher-forced agreement, decision tokens, and (on a
tiny model built here) llama.cpp logits, KLD per level and the command end to end."""

from __future__ import annotations

import itertools
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.analysis.agreement import expert_trajectories, from_trace, summarize, teacher_forced
from harness.analysis.llamacpp_logits import decision_tokens
from harness.backends.base import ChatOptions
from harness.backends.scripted import ScriptedBackend
from harness.bench.runner import RunConfig, run_suite
from harness.bench.suites import load_suite
from harness.bench.traces import EpisodeTrace
from harness.errors import UsageError
from harness.regress.report import (
    GATES,
    GatesError,
    check_gates,
    finish,
    gates_for,
    junit_xml,
    load_gates,
    parse_gates,
)
from harness.regress.run import bootstrap_delta_ci, mcnemar_exact, paired_comparison, resolve_levels
from harness.serving.modelfile import load as load_modelfile

REPO = Path(__file__).resolve().parent.parent
QWEN_MF = REPO / "modelfiles" / "qwen2.5-react.Modelfile"
LEVELS = ["f16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q3_k_m", "q2_k"]


# ------------------------------------------------------------------------------ statistics
def test_mcnemar_exact_matches_the_binomial_tail() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 0) == pytest.approx(2 / 32)
    assert mcnemar_exact(2, 10) == mcnemar_exact(10, 2)
    want = 2 * sum(math.comb(12, i) for i in range(3)) / 2**12
    assert mcnemar_exact(10, 2) == pytest.approx(want)
    assert mcnemar_exact(3, 3) == 1.0


def test_bootstrap_interval_brackets_the_delta_and_is_seeded() -> None:
    pairs = [(1, 1)] * 10 + [(1, 0)] * 6 + [(0, 1)] * 2 + [(0, 0)] * 12
    lo, hi = bootstrap_delta_ci(pairs, seed=3)
    assert lo <= (2 - 6) / 30 <= hi and lo < 0
    assert bootstrap_delta_ci(pairs, seed=3) == (lo, hi)
    assert bootstrap_delta_ci([(1, 1)] * 5) == (0.0, 0.0)


def _trace(game: str, task_type: str, won: bool, model: str = "m") -> EpisodeTrace:
    return EpisodeTrace(
        game_id=game, task_type=task_type, task="t", suite="s", model=model, backend="b", won=won
    )


def test_paired_comparison_counts_discordant_pairs_per_task_type() -> None:
    base = [_trace("a", "x", True), _trace("b", "x", True), _trace("c", "y", False), _trace("d", "y", True)]
    cand = [_trace("a", "x", True), _trace("b", "x", False), _trace("c", "y", True), _trace("z", "y", True)]
    p = paired_comparison(base, cand)
    assert (p["pairs"], p["both_won"], p["baseline_only"], p["candidate_only"]) == (3, 1, 1, 1)
    assert p["delta"] == 0.0 and p["p_value"] == 1.0
    assert p["by_task_type"]["x"]["baseline_only"] == 1 and p["by_task_type"]["y"]["delta"] == 1.0


def test_resolve_levels() -> None:
    lv, base = resolve_levels("tiny", "q8_0,q4_k_m,other:q4", "f16")
    assert [x.model for x in lv] == ["tiny:f16", "tiny:q8_0", "tiny:q4_k_m", "other:q4"]
    assert base.label == "f16" and lv[0] == base
    lv, base = resolve_levels(None, "a:1,b:2", "b:2")
    assert [x.model for x in lv] == ["b:2", "a:1"]
    with pytest.raises(UsageError, match="twice"):
        resolve_levels("t", "q8_0,q8_0", "f16")


# ------------------------------------------------------------------------------ gates
def test_sample_gates_file_parses_and_looks_up_levels() -> None:
    gates = load_gates(REPO / "regress" / "gates.yaml")
    assert gates["q8_0"]["max_mean_kld"] == 0.005 and "default" in gates
    assert gates_for(gates, "q8_0", "tiny:q8_0") is gates["q8_0"]
    assert gates_for(gates, "weird", "tiny:weird") is gates["default"]
    assert gates_for({"tiny:x": {"min_success": 0.1}}, "x", "tiny:x") == {"min_success": 0.1}


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"levels": {"q8_0": {"max_kld": 1}}}, "unknown gate 'max_kld'"),
        ({"levels": {"q8_0": {"min_agreement": 90}}}, "write 0.9 for 90"),
        ({"levels": {"q8_0": {"max_mean_kld": "low"}}}, "must be a number"),
        ({"q8_0": {"max_mean_kld": 1}}, "levels:"),
        ({"version": 2, "levels": {}}, "version 2"),
    ],
)
def test_bad_gates_say_what_is_wrong(data: dict, match: str) -> None:
    with pytest.raises(GatesError, match=match):
        parse_gates(data, "g.yaml")


def test_gates_and_suite_files_name_the_line(tmp_path: Path) -> None:
    """Gates and suites go through one YAML loader (pydantic models): the error names the line."""
    from harness._util.yamlfile import key_line
    from harness.bench.suites import load_suite_file
    from harness.errors import SuiteError
    from harness.regress.report import load_gates

    g = tmp_path / "g.yaml"
    g.write_text("version: 1\noptional: []\nlevels:\n  q8_0:\n    min_agreement: 95\n")
    with pytest.raises(GatesError, match=r"g\.yaml line 3: levels: q8_0: min_agreement is a fraction"):
        load_gates(g)
    g.write_text("version: 1\noptional: [nope]\nlevels: {}\n")
    with pytest.raises(GatesError, match=r"line 2: optional: unknown gate\(s\) nope"):
        load_gates(g)
    s = tmp_path / "s.yaml"
    s.write_text("# a suite\nname: x\nsource: synthetic\n\nper_task_type: 0\n")
    with pytest.raises(SuiteError, match=r"s\.yaml line 5: per_task_type: .*greater than or equal to 1"):
        load_suite_file(s)
    assert key_line("a:\n  b:\n    - 1\n    - 2\n", ["a", "b", 1]) == 4
    assert key_line("a: 1\n", ["zz"]) is None


def _row(model: str, **metrics: float | None) -> dict:
    base = {k: None for k in (m for m, *_ in GATES.values())}
    return {"model": model, "metrics": base | metrics}


def test_gates_pass_fail_skip_and_junit() -> None:
    levels = {
        "f16": _row("t:f16", success_drop_pt=0.0, mean_kld=None),
        "q8_0": _row("t:q8_0", success_drop_pt=0.0, mean_kld=0.001),
        "q2_k": _row("t:q2_k", success_drop_pt=12.5, mean_kld=0.4, agreement_baseline=None),
    }
    spec = {"levels": {"default": {"max_success_drop_pt": 5, "max_mean_kld": 0.01, "min_agreement": 0.9}}}
    # a metric that was not measured fails the gate (regress fails closed) …
    closed = {(r.level, r.gate): r.status for r in check_gates(levels, "f16", parse_gates(spec))}
    assert closed[("q8_0", "min_agreement")] == closed[("q2_k", "min_agreement")] == "fail"
    # … unless its phase was left out with --skip …
    skipped = check_gates(levels, "f16", parse_gates(spec), ["agreement"])
    assert {r.status for r in skipped if r.gate == "min_agreement"} == {"skip"}
    # … or the gates file says it may be absent
    gates = parse_gates({**spec, "optional": ["min_agreement"]})
    res = check_gates(levels, "f16", gates)
    assert {(r.level, r.gate): r.status for r in res} == {
        ("q8_0", "max_success_drop_pt"): "pass",
        ("q8_0", "max_mean_kld"): "pass",
        ("q8_0", "min_agreement"): "skip",
        ("q2_k", "max_success_drop_pt"): "fail",
        ("q2_k", "max_mean_kld"): "fail",
        ("q2_k", "min_agreement"): "skip",
    }
    fail = next(r for r in res if r.level == "q2_k" and r.gate == "max_mean_kld")
    assert "0.40000 > 0.01000" in fail.message
    root = ET.fromstring(junit_xml(res, "regress t"))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "6" and suite.get("failures") == "2"
    cases = suite.findall("testcase")
    assert {c.get("classname") for c in cases} == {"regress.q8_0", "regress.q2_k"}
    assert sum(c.find("failure") is not None for c in cases) == 2
    assert sum(c.find("skipped") is not None for c in cases) == 2


def test_a_tokenizer_mismatch_fails_whatever_the_gates_say() -> None:
    levels = {
        "f16": _row("t:f16"),
        "q4_k_m": {**_row("t:q4_k_m"), "tokenizer_mismatch": "token 7 is 5 where the baseline has 9"},
    }
    res = check_gates(levels, "f16", {})
    assert [(r.level, r.gate, r.status) for r in res] == [("q4_k_m", "same_tokenizer", "fail")]
    assert "token 7" in res[0].message


def test_finish_writes_versioned_reports(tmp_path: Path) -> None:
    episodes = {"overall": {"success_rate": 0.5, "success_ci": [0.2, 0.8], "progress_rate": 0.6,
                            "invalid_rate": 0.1, "parse_failure_rate": 0.0, "mean_steps": 12.0,
                            "gen_tokens_per_s": 100.0}, "by_task_type": {}}  # fmt: skip
    agree = {w: {"action_agreement": 0.9, "exact_agreement": 0.8, "by_task_type": {"x": {"action_agreement": 0.9}}}
             for w in ("expert", "baseline")}  # fmt: skip
    raw = {
        "suite": {"name": "s", "games": 4, "text_format": "2.1.1"},
        "gold": ["g1"],
        "levels": {
            lv: {"label": lv, "model": f"t:{lv}", "size": 2_000_000, "bpw": bpw, "quantization": lv.upper(),
                 "episodes": episodes, "paired": {"delta": 0.0, "delta_ci": [0, 0], "p_value": 1.0,
                                                   "by_task_type": {"x": {"delta": 0.0, "p_value": 1.0}}},
                 "agreement": agree, **({"divergence": {"mean_kld": kld, "p99_kld": kld * 2, "same_top1": 0.9,
                                                         "ppl_ratio": 1.01}} if kld else {})}
            for lv, bpw, kld in (("f16", 16.0, None), ("q4_k_m", 4.9, 0.03))
        },
    }  # fmt: skip
    run = {"name": "t", "baseline": "f16", "notes": ["a note"]}
    gates = parse_gates({"levels": {"q4_k_m": {"max_mean_kld": 0.01}}})
    res = finish(raw, run, gates, tmp_path, tmp_path / "j.xml")
    data = json.loads((tmp_path / "results.json").read_text())
    assert (
        data["version"] == 1
        and data["gates"]["results"][0]["status"] == "fail" == res["gates"]["results"][0]["status"]
    )
    md = (tmp_path / "report.md").read_text()
    assert "| q4_k_m | Q4_K_M | 2.0 | 4.90 |" in md and "FAIL: max_mean_kld" in md and "- a note" in md
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and 'class="FAIL"' in html
    assert ET.parse(tmp_path / "j.xml").getroot().get("failures") == "1"


# ------------------------------------------------------------------------------ agreement
def test_teacher_forcing_feeds_the_reference_history() -> None:
    suite = load_suite("synthetic-smoke")
    trajs = expert_trajectories(suite, suite.games()[:2])
    answers = {(m[1]["content"], len(m)): reply for t in trajs for _, m, reply in t.decisions()}
    echo = ScriptedBackend(policy=lambda m: answers[(m[1]["content"], len(m))])  # the reference reply
    steps = teacher_forced(trajs, echo, ChatOptions())
    assert len(steps) == sum(len(t.turns) for t in trajs) == len(echo.calls)
    assert echo.calls[3] == trajs[0].messages(3) and all(s.agree and s.same_text for s in steps)
    s = summarize(steps)
    assert s.reply_agreement == 1.0 and s.action_agreement == 1.0 and s.commands > 0
    look = summarize(
        teacher_forced(trajs, ScriptedBackend(policy=lambda m: "Look."), ChatOptions(), max_turns=5)
    )
    assert look.steps == 10 and look.exact_agreement == 0.0
    assert set(look.by_task_type) == {t.task_type for t in trajs}


def test_from_trace_rebuilds_the_runner_history(tmp_path: Path) -> None:
    suite = load_suite("synthetic-smoke")
    replies = ["think: where is it?", "go to cabinet 1", "gibberish!!", "Action: look."] * 3
    be = ScriptedBackend(replies=list(replies))
    cfg = RunConfig(suite=suite.name, model="m", backend="scripted", max_steps=4, limit=1)
    (trace,) = run_suite(suite, lambda: be, cfg, tmp_path, workers=1)
    traj = from_trace(trace, suite.game(suite.games()[0]).reset())
    assert [traj.messages(i) for i in range(4)] == be.calls
    assert [t[0] for t in traj.turns] == ["think: where is it?", "go to cabinet 1", "gibberish!!", "look"]


# ------------------------------------------------------------------------------ decision tokens
def test_decision_tokens_cover_exactly_the_replies_and_their_end() -> None:
    mf = load_modelfile(QWEN_MF)
    suite = load_suite("synthetic-smoke")
    (traj,) = expert_trajectories(suite, suite.games()[:1])
    msgs = traj.messages()
    tokens, positions = decision_tokens(msgs, mf.prompt, lambda text: [ord(c) for c in text])
    predicted = "".join(chr(tokens[p + 1]) for p in positions)
    replies = [m["content"] for m in msgs if m["role"] == "assistant"]
    assert predicted == "".join(r + "<" for r in replies)  # each reply, then the first char of <|im_end|>
    assert "".join(map(chr, tokens)) == mf.prompt(msgs)[: len(tokens)]


# ------------------------------------------------------------------------------ a tiny model
@pytest.fixture(scope="module")
def tiny_levels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A random-init tiny Qwen2 converted and quantized to every level (GGUF paths)."""
    pytest.importorskip("llama_cpp")
    pytest.importorskip("transformers")
    from train.data import export
    from train.quantize import quantize
    from train.tiny import conversation_texts, make_tiny_model

    base = tmp_path_factory.mktemp("regress-tiny")
    export(load_suite("synthetic-smoke"), base / "data")
    model = make_tiny_model(base / "model", tokenizer="bpe:1024", texts=conversation_texts(base / "data"))
    from train.convert import convert

    f16 = Path(convert(model, base / "tiny.f16.gguf", "f16", name="tiny").path)
    out = {"f16": f16}
    for lv in LEVELS[1:]:
        out[lv] = Path(quantize(f16, lv, base / f"tiny.{lv}.gguf").path)
    return out


def test_level_info_reports_the_k_quant_fallback(tiny_levels: dict[str, Path]) -> None:
    """A level's row in the regress table says how many matrices llama.cpp stored outside the
    level's types, read from the file the store holds: none for the tiny model (its rows of 256
    divide), and the count, types and row length for rows that do not (SmolLM2's 576)."""
    from harness.regress.report import _fallback
    from harness.regress.run import level_info
    from harness.serving.quant import TensorTypes, fallback_note, tensor_types
    from harness.serving.store import register_local

    for lv in ("q4_k_m", "q2_k", "f16"):
        register_local(f"tiny-fb:{lv}", str(tiny_levels[lv]))
    for lv in ("q4_k_m", "q2_k"):
        info = level_info(f"tiny-fb:{lv}")
        n = len(tensor_types(tiny_levels[lv]).matrices)
        assert info["fallback"] == {"matrices": 0, "of": n, "types": [], "note": None} and n > 0
        assert _fallback(info["fallback"]) == "none"
    f16 = level_info("tiny-fb:f16")
    assert f16["fallback"] is None and _fallback(None) == "–"  # a float level has nothing to fall back from
    assert level_info("tiny-fb:q2_k")["bpw"] < level_info("tiny-fb:q4_k_m")["bpw"] < f16["bpw"]

    smol = TensorTypes(
        {"Q4_K": 1, "Q5_0": 2}, [("a", "Q4_K", 1536), ("b", "Q5_0", 576), ("c", "Q5_0", 576)], 0, 0
    )
    fb = smol.fallback("q4_k_m")
    assert [m[0] for m in fb] == ["b", "c"]
    assert fallback_note("q4_k_m", fb, 3) == (
        "2/3 matrices stored as Q5_0, not Q4_K/Q5_K/Q6_K: rows of 576 are not a multiple of 256, which k-quants need"
    )
    assert _fallback({"matrices": 2, "of": 3, "types": ["Q5_0"], "note": "…"}) == "2/3 → Q5_0"


def test_logits_at_positions_match_logits_all(tiny_levels: dict[str, Path]) -> None:
    import llama_cpp
    import numpy as np

    from harness.analysis.llamacpp_logits import LlamaCppLogits

    with LlamaCppLogits(tiny_levels["q4_k_m"], n_ctx=64, n_batch=32) as src:
        tokens = src.tokenize("<|im_start|>user\nopen the fridge 1 and look around<|im_end|>\n") * 5
        rows = src.logits_at(tokens, [0, 7, len(tokens) - 1])  # spans batches and grows the context
        assert src.n_ctx >= len(tokens) > 64
    llm = llama_cpp.Llama(model_path=str(tiny_levels["q4_k_m"]), n_ctx=256, logits_all=True, verbose=False)
    llm.eval(tokens)
    want = np.asarray(llm.scores[: len(tokens)])[[0, 7, len(tokens) - 1]]
    llm.close()
    assert rows.shape == want.shape and np.allclose(rows, want, atol=1e-4)


def test_kld_rises_monotonically_from_q8_0_to_q2_k(tiny_levels: dict[str, Path], tmp_path: Path) -> None:
    from harness.analysis.llamacpp_logits import BaselineLogits, GGUFModel

    render = load_modelfile(QWEN_MF).prompt
    suite = load_suite("synthetic-smoke")
    convs = [t.messages() for t in expert_trajectories(suite, suite.games()[:6])]
    ref = BaselineLogits(GGUFModel("f16", tiny_levels["f16"], render), convs, tmp_path)
    assert (tmp_path / "baseline.key").exists()
    div = {lv: ref.compare(GGUFModel(lv, tiny_levels[lv], render), convs) for lv in LEVELS[1:]}
    kld = [div[lv].mean_kld for lv in LEVELS[1:]]
    assert all(a < b for a, b in itertools.pairwise(kld)), dict(zip(LEVELS[1:], kld, strict=True))
    assert div["q8_0"].positions > 500 and div["q8_0"].same_top1 > div["q2_k"].same_top1
    again = BaselineLogits(GGUFModel("f16", tiny_levels["f16"], render), convs, tmp_path)
    assert again.key == ref.key


def test_regress_command_end_to_end_and_gates_catch_a_broken_level(
    tiny_levels: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.analysis.llamacpp_logits import zero_tensors
    from harness.cli import main
    from harness.serving.store import register_local

    mf = load_modelfile(QWEN_MF)
    for lv in ("f16", "q8_0", "q2_k"):
        register_local(f"tiny:{lv}", tiny_levels[lv], mf)
    zeroed = zero_tensors(tiny_levels["f16"], tmp_path / "broken.gguf", prefix="blk.")
    assert "blk.0.attn_q.weight" in zeroed
    register_local("tiny:broken", tmp_path / "broken.gguf", mf)
    gates = tmp_path / "gates.yaml"
    # the tiny baseline issues no command, so agreement with it is not measured: optional here
    gates.write_text("version: 1\noptional: [min_agreement]\nlevels:\n"
                     "  default: {max_mean_kld: 0.05, max_success_drop_pt: 0}\n"
                     "  q2_k: {max_mean_kld: 0.05, min_agreement: 0.5}\n")  # fmt: skip
    args = ["regress", "tiny", "--levels", "f16,q8_0,q2_k", "--suite", "synthetic-smoke", "--limit", "2",
            "--max-steps", "3", "--gold-games", "2", "--replay-turns", "4", "--num-predict", "16",
            "--gates", str(gates), "--out", str(tmp_path / "run"), "--junit", str(tmp_path / "ok.xml")]  # fmt: skip
    main(args)  # every gate passes (or is skipped): no SystemExit
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert list(res["levels"]) == ["f16", "q8_0", "q2_k"] and res["version"] == 1
    assert res["levels"]["q8_0"]["divergence"]["mean_kld"] < res["levels"]["q2_k"]["divergence"]["mean_kld"]
    assert res["levels"]["f16"]["agreement"]["baseline"]["exact_agreement"] == 1.0  # replay is deterministic
    assert len(list((tmp_path / "run" / "episodes" / "q8_0").glob("traces.jsonl"))) == 1
    assert (tmp_path / "run" / "report.html").exists() and "| q8_0 |" in (
        tmp_path / "run" / "report.md"
    ).read_text()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([*args[:3], "f16,q8_0,q2_k,broken", *args[4:-1], str(tmp_path / "bad.xml")])
    assert exc.value.code == 3
    err = capsys.readouterr().err
    assert "gate(s) failed: broken max_mean_kld" in err and "Traceback" not in err
    root = ET.parse(tmp_path / "bad.xml").getroot()
    failures = [c.get("classname") for c in root.iter("testcase") if c.find("failure") is not None]
    assert set(failures) == {"regress.broken"}


# ------------------------------------------------------------------------------ no GGUF levels
def test_policy_levels_run_without_a_gguf_and_skip_divergence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    gates = tmp_path / "g.yaml"
    gates.write_text(
        "version: 1\noptional: [max_mean_kld]\n"
        "levels:\n  default: {min_success: 1.0, max_mean_kld: 0.01, min_agreement: 1}\n"
    )
    main(["regress", "--backend", "expert", "--levels", "exp-a,exp-b", "--baseline", "exp-a", "--suite",
          "synthetic-smoke", "--limit", "2", "--gates", str(gates), "--out", str(tmp_path / "o")])  # fmt: skip
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    b = res["levels"]["exp-b"]
    assert b["metrics"]["success_rate"] == 1.0 and b["agreement"]["expert"]["action_agreement"] == 1.0
    assert b["agreement"]["baseline"]["exact_agreement"] == 1.0 and "divergence" not in b
    assert {g["gate"]: g["status"] for g in res["gates"]["results"]} == {
        "min_success": "pass", "max_mean_kld": "skip", "min_agreement": "pass"
    }  # fmt: skip
    assert "Ollama's API exposes no logits" in res["run"]["notes"][0]
    assert "no logits" in capsys.readouterr().err


def test_limit_draws_alfworld_games_round_robin_like_bench(tmp_path: Path) -> None:
    """--limit K on a real ALFWorld suite takes K games round-robin over task types, the same
    games harness bench plays; the baseline's trajectories (agreement) cover all of them."""
    from harness.bench.suites import draw
    from harness.bench.traces import read_traces
    from harness.cli import main

    suite = load_suite("alfworld-valid-seen")
    main(["regress", "--backend", "expert", "--levels", "exp-a,exp-b", "--baseline", "exp-a", "--suite",
          "alfworld-valid-seen", "--limit", "6", "--gold-games", "6", "--skip", "divergence",
          "--out", str(tmp_path / "o")])  # fmt: skip
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    want = [e.id for e in draw(suite.games(), 6)]
    assert res["suite"]["drawn"] == want and res["gold"] == want
    assert len({e.task_type for e in draw(suite.games(), 6)}) == 6  # suite order would give one type
    played = [t.game_id for t in read_traces(tmp_path / "o" / "episodes" / "exp-a" / "traces.jsonl")]
    assert sorted(played) == sorted(want)
    assert len(res["levels"]["exp-b"]["agreement"]["baseline"]["by_task_type"]) == 6


def test_ollama_levels_through_the_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pytest_httpserver")
    from pytest_httpserver import HTTPServer
    from werkzeug import Request, Response

    from harness.cli import main

    replies = {"m:f16": "go to cabinet 1", "m:q4_k_m": "look"}

    def chat(request: Request) -> Response:
        body = json.loads(request.data)
        done = {"model": body["model"], "created_at": "2024-01-01T00:00:00Z", "done": True, "done_reason": "stop",
                "message": {"role": "assistant", "content": replies[body["model"]]}, "prompt_eval_count": 20,
                "eval_count": 3, "eval_duration": 30_000_000, "total_duration": 40_000_000}  # fmt: skip
        return Response(json.dumps(done) + "\n", content_type="application/x-ndjson")

    tags = {"models": [{"name": n, "model": n, "size": 1000, "digest": f"d-{n}", "modified_at": "2024-01-01T00:00:00Z",
                        "details": {"quantization_level": n[2:].upper()}} for n in replies]}  # fmt: skip
    with HTTPServer() as server:
        server.expect_request("/api/version").respond_with_json({"version": "0.6.0"})
        server.expect_request("/api/tags").respond_with_json(tags)
        server.expect_request("/api/show", method="POST").respond_with_json(
            {
                "modelfile": "FROM x",
                "template": "{{ .Prompt }}",
                "details": {"format": "gguf"},
                "model_info": {},
            }
        )
        server.expect_request("/api/chat", method="POST").respond_with_handler(chat)
        monkeypatch.setenv("OLLAMA_HOST", server.url_for("/").rstrip("/"))
        main(["regress", "m", "--levels", "f16,q4_k_m", "--suite", "synthetic-smoke", "--limit", "2",
              "--max-steps", "3", "--gold-games", "1", "--out", str(tmp_path / "o")])  # fmt: skip
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    q4 = res["levels"]["q4_k_m"]
    assert q4["where"] == "remote" and q4["metrics"]["agreement_baseline"] == 0.0 and "divergence" not in q4
    assert res["levels"]["f16"]["metrics"]["agreement_baseline"] == 1.0
    (line,) = (tmp_path / "o" / "episodes" / "q4_k_m" / "traces.jsonl").read_text().splitlines()[:1]
    assert json.loads(line)["backend"] == "ollama"


@pytest.mark.slow
def test_pytest_entry_point_gives_one_test_per_level(tiny_levels: dict[str, Path], tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from harness.analysis.llamacpp_logits import zero_tensors
    from harness.serving.store import register_local

    mf = load_modelfile(QWEN_MF)
    for lv in ("f16", "q8_0", "q2_k"):
        register_local(f"tiny:{lv}", tiny_levels[lv], mf)
    zero_tensors(tiny_levels["f16"], tmp_path / "broken.gguf", prefix="blk.")
    register_local("tiny:broken", tmp_path / "broken.gguf", mf)
    gates = tmp_path / "gates.yaml"
    gates.write_text("version: 1\nlevels:\n  default: {max_mean_kld: 0.05}\n  q8_0: {max_mean_kld: 0.005}\n")
    env = dict(os.environ, HARNESS_REGRESS_MODEL="tiny", HARNESS_REGRESS_GATES=str(gates),
               HARNESS_REGRESS_LEVELS="q8_0,q2_k,q4_0,broken", HARNESS_REGRESS_OUT=str(tmp_path / "run"),
               HARNESS_REGRESS_ARGS="--limit 2 --max-steps 3 --gold-games 2 --replay-turns 4 --num-predict 16")  # fmt: skip
    r = subprocess.run([sys.executable, "-m", "pytest", "tests/regression", "-q", "-rA", "-p", "no:cacheprovider"],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 failed, 2 passed, 1 skipped" in r.stdout, r.stdout
    assert "test_level_passes_its_gates[broken]" in r.stdout and "tiny:q4_0 is not registered" in r.stdout
