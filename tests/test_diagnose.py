"""``harness diagnose``: the rules on hand-made records, stage discovery, and purpose-broken builds
of a tiny model — wrong rope base in the GGUF, a TEMPLATE without the assistant header, no
``<|im_end|>`` stop on a GGUF whose EOS is ``<|endoftext|>``, a wrong pre-tokenizer, a q2_k level,
an Ollama server rendering differently — each named at the right stage with the right cause."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.diagnose import report as R
from harness.diagnose.run import DiagnoseConfig, Stage, order_stages, parse_stage, stages_from_build
from harness.errors import UsageError

TH = dict(R.DEFAULT_THRESHOLDS)
ASSISTANT_HEADER = '{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant\n{{ end }}'


# ------------------------------------------------------------------------------ rules
def rec(label: str, kind: str = "gguf", level: str | None = "f16", **kw: Any) -> dict[str, Any]:
    base = {"label": label, "kind": kind, "level": level, "prompt": {"ids_equal": True, "text_equal": True},
            "stop": {"end_of_turn": "<|im_end|>", "runs_past": [], "stops": {}}}  # fmt: skip
    return {**base, **kw}


def div(kld: float) -> dict[str, Any]:
    return {"vs_parent": {"mean_kld": kld, "same_top1": 0.5, "ppl_ratio": 1.1, "positions": 10}}


def causes(r: dict, parent: dict, **th: Any) -> list[str]:
    return [f["cause"] for f in R.findings(r, parent, {**TH, **th})]


def test_rules_name_each_cause() -> None:
    merged = rec("merged", "merged", None)
    f16 = rec("f16")
    assert causes(rec("f16", divergence=div(0.001)), merged) == []
    diff = {"prompt": 0, "index": 7, "stage": "'a⟦⟧'", "parent": "'a⟦<|im_start|>⟧'"}
    t = rec("f16", prompt={"ids_equal": False, "text_equal": False,
                           "first_diff": {**diff, "missing_at_end": "<|im_start|>assistant\n"}})  # fmt: skip
    (f,) = R.findings(t, merged, TH)
    assert f["cause"] == "template" and "assistant header" in f["message"] and "token 7" in f["evidence"][0]
    tok = rec(
        "f16", tokenizer_pre="gpt-2", prompt={"ids_equal": False, "text_equal": True, "first_diff": diff}
    )
    (f,) = R.findings(tok, merged, TH)
    assert f["cause"] == "tokenizer" and "'gpt-2'" in f["evidence"][1]
    cross = rec("f16", prompt={"ids_equal": False, "text_equal": False, "first_diff": diff,
                               "tokenizer_equal": False, "tokenizer_diff": diff})  # fmt: skip
    assert causes(cross, merged) == ["template", "tokenizer"]
    stop = {"end_of_turn": "<|im_end|>", "runs_past": ["ollama"], "stop_strings": [],
            "runtimes": {"ollama": ["<|endoftext|>"], "llama.cpp": ["<|im_end|>"]},
            "stops": {"ollama": None, "llama.cpp": "end-of-generation token"}}  # fmt: skip
    (f,) = R.findings(rec("f16", stop=stop), merged, TH)
    assert f["cause"] == "stop" and "PARAMETER stop <|im_end|>" in f["message"]
    conv = rec("f16", divergence=div(1.9), meta_mismatch=["qwen2.rope.freq_base is 10000 …"])
    (f,) = R.findings(conv, merged, TH)
    assert f["cause"] == "conversion" and "rope.freq_base" in f["evidence"][1]
    assert causes(rec("merged", "merged", None, divergence=div(0.2)), rec("adapter", "adapter", None)) == [
        "merge"
    ]
    assert causes(rec("q4_k_m", level="q4_k_m", divergence=div(0.05)), f16) == []
    assert causes(rec("q2_k", level="q2_k", divergence=div(1.7)), f16) == ["quantization"]
    assert causes(rec("q2_k", level="q2_k", divergence=div(0.05)), f16, kld_quant=0.02) == ["quantization"]
    served = rec("ollama:x", "ollama", None, agreement={"vs_parent": 0.2, "steps": 10})
    assert causes(served, f16) == ["serving"]
    worse = rec("q8_0", level="q8_0", episodes={"success_rate": 0.1, "episodes": 10})
    assert causes(worse, {**f16, "episodes": {"success_rate": 0.9}}) == []  # opt-in
    assert causes(worse, {**f16, "episodes": {"success_rate": 0.9}}, max_success_drop=0.3) == ["episodes"]
    assert R.findings(conv, None, TH) == []  # the reference stage has nothing to compare with


def test_verdict_is_the_first_failing_stage_in_pipeline_order() -> None:
    a = rec(
        "f16", findings=[{"cause": "conversion", "message": "m", "evidence": ["e"], "check": "divergence"}]
    )
    b = rec(
        "q2_k", findings=[{"cause": "quantization", "message": "m", "evidence": [], "check": "divergence"}]
    )
    v = R.verdict([rec("merged", findings=[]), a, b])
    assert (
        v is not None and v["stage"] == "f16" and v["cause"] == "conversion" and v["also_flagged"] == ["q2_k"]
    )
    assert v["likely_cause"] == R.CAUSES["conversion"]
    assert R.verdict([rec("merged", findings=[])]) is None


def test_comparison_helpers() -> None:
    assert R.first_diff([1, 2, 3], [1, 2, 3]) is None
    assert R.first_diff([1, 2, 3], [1, 5, 3]) == 1 and R.first_diff([1, 2], [1, 2, 3]) == 2
    assert R.context(list("abcdef"), 2, width=1) == repr("b⟦c⟧d")
    s = R.stop_identity(
        {"stop_strings": ["<|im_start|>"], "runtimes": {"a": ["<|im_end|>"], "b": []}}, "<|im_end|>"
    )
    assert s["stops"]["a"] == "end-of-generation token" and s["runs_past"] == ["b"]
    s = R.stop_identity({"stop_strings": ["<|im_end|>"], "runtimes": {"b": []}}, "<|im_end|>")
    assert s["stops"]["b"] == "stop string '<|im_end|>'" and not s["runs_past"]
    meta = {"general.architecture": "qwen2", "qwen2.rope.freq_base": 1e4, "qwen2.block_count": 2,
            "qwen2.attention.layer_norm_rms_epsilon": 9.99999997e-07}  # fmt: skip
    cfg = {"rope_parameters": {"rope_theta": 1e6}, "num_hidden_layers": 2, "rms_norm_eps": 1e-6}
    assert R.meta_mismatch(meta, cfg) == [
        "qwen2.rope.freq_base is 10000 in the GGUF but rope_parameters.rope_theta is 1e+06 in config.json"
    ]


# ------------------------------------------------------------------------------ stages
def test_stage_specs_and_order(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="KIND"):
        parse_stage("weights=/x")
    with pytest.raises(Exception, match="not a checkpoint folder"):
        parse_stage(f"merged={tmp_path / 'nope'}")
    st = [Stage("ollama:m", "ollama", "m"), Stage("q2_k", "gguf", "b", "q2_k"), Stage("merged", "merged", "m"),
          Stage("f16", "gguf", "a", "f16"), Stage("adapter", "adapter", "a"), Stage("q8_0", "gguf", "c", "q8_0"),
          Stage("ollama:m:q2_k", "ollama", "m:q2_k", "q2_k")]  # fmt: skip
    got = [(s.label, s.parent) for s in order_stages(st)]
    assert got == [("adapter", None), ("merged", "adapter"), ("f16", "merged"), ("q8_0", "f16"),
                   ("q2_k", "f16"), ("ollama:m:q2_k", "q2_k"), ("ollama:m", "f16")]  # fmt: skip
    only = order_stages([Stage("q2_k", "gguf", "b", "q2_k"), Stage("q8_0", "gguf", "c", "q8_0")])
    assert [(s.label, s.parent) for s in only] == [("q8_0", None), ("q2_k", "q8_0")]


# ------------------------------------------------------------------------------ purpose-broken builds
def patch_gguf(src: Path, dst: Path, key: str, value: Any) -> Path:
    """A copy of ``src`` with one scalar (or same-length string) metadata value changed."""
    import gguf
    import numpy as np

    shutil.copy(src, dst)
    r = gguf.GGUFReader(dst, "r+")
    f = r.fields[key]
    part = f.parts[f.data[0]]
    part[:] = np.frombuffer(value.encode(), dtype=np.uint8) if isinstance(value, str) else value
    r.data.flush()
    del r
    return dst


@pytest.fixture(scope="module")
def pipe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("llama_cpp")
    pytest.importorskip("transformers")
    from test_backend_hf import tiny_model

    from harness.backends.hf import default_modelfile
    from train.convert import convert
    from train.quantize import quantize

    root = tmp_path_factory.mktemp("pipe")
    model = tiny_model(tmp_path_factory)
    f16 = Path(convert(model, root / "t.f16.gguf", "f16").path)
    ids = {t["content"]: t["id"] for t in json.loads((model / "tokenizer.json").read_text())["added_tokens"]}
    text = default_modelfile().read_text()
    assert ASSISTANT_HEADER in text and "PARAMETER stop <|im_end|>\n" in text
    (root / "noheader.Modelfile").write_text(text.replace(ASSISTANT_HEADER, ""))
    (root / "nostop.Modelfile").write_text(text.replace("PARAMETER stop <|im_end|>\n", ""))
    return {
        "model": model, "f16": f16, "root": root,
        "eos": patch_gguf(f16, root / "eos.f16.gguf", "tokenizer.ggml.eos_token_id", ids["<|endoftext|>"]),
        "q8_0": Path(quantize(f16, "q8_0", root / "t.q8_0.gguf").path),
        "q2_k": Path(quantize(f16, "q2_k", root / "t.q2_k.gguf").path),
        "rope": patch_gguf(f16, root / "rope.f16.gguf", "qwen2.rope.freq_base", 1e4),
        "pre": patch_gguf(f16, root / "pre.f16.gguf", "tokenizer.ggml.pre", "gpt-2"),
    }  # fmt: skip


def run(pipe: dict[str, Path], *specs: str, modelfile: str | None = None) -> dict[str, Any]:
    from harness.diagnose.run import diagnose
    from harness.serving.modelfile import load

    mf = load(pipe["root"] / modelfile) if modelfile else None
    stages = [parse_stage(f"merged={pipe['model']}")] + [parse_stage(f"gguf={pipe[s]}", mf) for s in specs]
    return diagnose("tiny", stages, DiagnoseConfig(conversations=2, agreement_turns=0, episodes=0))


def test_healthy_build_passes(pipe: dict[str, Path]) -> None:
    report = run(pipe, "f16", "q8_0")
    assert report["verdict"] is None and report["version"] == 1 and report["end_of_turn"] == "<|im_end|>"
    _, f16, q8 = report["stages"]
    assert f16["prompt"]["ids_equal"] and f16["prompt"]["tokenizer_equal"] and not f16["stop"]["runs_past"]
    assert f16["stop"]["stops"] == {
        "llama.cpp": "end-of-generation token",
        "ollama": "end-of-generation token",
    }
    assert f16["divergence"]["vs_parent"]["mean_kld"] < 1e-3 and f16["meta_mismatch"] == []
    assert q8["parent"] == "f16" and q8["divergence"]["vs_parent"]["mean_kld"] < 0.05
    assert "No stage passes" in R.to_markdown(report)


@pytest.mark.parametrize(
    ("specs", "modelfile", "stage", "cause", "evidence"),
    [
        (["rope"], None, "f16", "conversion", "rope.freq_base is 10000 in the GGUF"),
        (["f16"], "noheader.Modelfile", "f16", "template", "<|im_start|>"),
        (["eos"], "nostop.Modelfile", "f16", "stop", "ollama ends generation only on '<|endoftext|>'"),
        (["pre"], None, "f16", "tokenizer", "pre-tokenizer is 'gpt-2'"),
        (["f16", "q8_0", "q2_k"], None, "q2_k", "quantization", "vs f16"),
    ],
    ids=["rope-base", "no-assistant-header", "missing-stop", "pre-tokenizer", "q2_k"],
)
def test_broken_stage_is_named(pipe, specs, modelfile, stage, cause, evidence) -> None:
    v = run(pipe, *specs, modelfile=modelfile)["verdict"]
    assert v is not None and (v["stage"], v["cause"]) == (stage, cause), v
    assert any(evidence in e for e in v["evidence"]), v["evidence"]


def test_missing_stop_is_harmless_when_eos_is_end_of_turn(pipe: dict[str, Path]) -> None:
    assert run(pipe, "f16", modelfile="nostop.Modelfile")["verdict"] is None  # Ollama stops on EOS
    assert run(pipe, "eos")["verdict"] is None  # the Modelfile's stop catches <|im_end|>


def test_ollama_stage_render_is_checked(pipe: dict[str, Path], httpserver: Any) -> None:
    from werkzeug import Response

    from harness.diagnose.run import diagnose, gguf_metadata
    from harness.serving.modelfile import load

    eos = gguf_metadata(pipe["f16"])["tokenizer.ggml.eos_token_id"]
    meta = {"general.architecture": "qwen2", "tokenizer.ggml.eos_token_id": eos}
    httpserver.expect_request("/api/show", method="POST").respond_with_json(
        {"parameters": 'stop "<|im_start|>"\nstop "<|im_end|>"', "template": "", "model_info": meta}
    )
    served = {"mf": load(pipe["root"] / "nostop.Modelfile")}

    def chat(request: Any) -> Response:
        body = json.loads(request.data)
        assert body["_debug_render_only"] is True
        text = served["mf"].prompt(body["messages"])
        out = {"model": body["model"], "created_at": "2025-01-01T00:00:00Z", "done": True,
               "message": {"role": "assistant", "content": ""}, "_debug_info": {"rendered_template": text}}  # fmt: skip
        return Response(json.dumps(out), content_type="application/json")

    httpserver.expect_request("/api/chat", method="POST").respond_with_handler(chat)
    host = httpserver.url_for("/").rstrip("/")
    cfg = DiagnoseConfig(conversations=1, agreement_turns=0, episodes=0, host=host)
    stages = [parse_stage(f"gguf={pipe['f16']}"), parse_stage("ollama=tiny:f16")]
    report = diagnose("tiny", stages, cfg)
    assert report["verdict"] is None
    ollama = report["stages"][1]
    assert ollama["parent"] == "f16" and ollama["prompt"]["ids_equal"] and ollama["stop"]["stops"]["ollama"]
    served["mf"] = load(pipe["root"] / "noheader.Modelfile")
    v = diagnose("tiny", stages, cfg)["verdict"]
    assert v is not None and (v["stage"], v["cause"]) == ("ollama:tiny:f16", "template")


def test_build_then_diagnose_cli_gates(pipe: dict[str, Path], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from harness.cli import cli
    from train.build import Builder, BuildPlan

    bdir = tmp_path / "builds" / "tiny"
    plan = BuildPlan("tiny", bdir, from_merged=pipe["model"], levels=["f16", "q8_0", "q2_k"], backend="local")
    Builder(plan, log=lambda line: None).run()
    out = tmp_path / "report"
    args = ["diagnose", "tiny", "--build-dir", str(bdir), "--stage", f"merged={pipe['model']}", "--out", str(out),
            "--conversations", "1", "--agreement-turns", "1", "--episodes", "1", "--max-steps", "2", "--num-predict", "8", "--gate"]  # fmt: skip
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 1, r.output
    assert "first failing stage: q2_k" in r.output and "quantization" in r.output
    report = json.loads((out / "diagnose.json").read_text())
    assert [s["label"] for s in report["stages"]] == ["merged", "f16", "q8_0", "q2_k"]
    assert [s["modelfile_source"] for s in report["stages"][1:]] == ["tiny:f16", "tiny:q8_0", "tiny:q2_k"]
    assert all(s["episodes"]["episodes"] == 1 and s["agreement"]["steps"] == 1 for s in report["stages"])
    assert "`q2_k`" in (out / "diagnose.md").read_text()
    r = CliRunner().invoke(cli, [*args[:-1], "--kld-quant", "100"])  # q2_k tolerated: the gate passes
    assert r.exit_code == 0, r.output


def test_stages_from_build_and_lineage(pipe: dict[str, Path], tmp_path: Path) -> None:
    from harness.serving.store import register_local

    adapter, merged = tmp_path / "adapter", tmp_path / "merged"
    adapter.mkdir()
    merged.mkdir()
    (merged / "lineage.json").write_text(json.dumps({"version": 1, "adapter": {"path": str(adapter)}}))
    register_local("b:q8_0", pipe["q8_0"], None)
    (tmp_path / "gguf").mkdir()
    f16, q8 = (Path(shutil.copy(pipe[lv], tmp_path / "gguf" / pipe[lv].name)) for lv in ("f16", "q8_0"))
    steps = {
        "merge": {"outputs": [{"path": str(merged)}]},
        "convert": {"outputs": [{"path": str(f16)}]},
        "quantize": {"outputs": [{"path": str(q8)}]},
        "register": {"models": [{"name": "b:q8_0", "where": "local"}, {"name": "b:f16", "where": "ollama"}]},
    }
    (tmp_path / "build.json").write_text(json.dumps({"version": 1, "name": "b", "steps": steps}))
    got = order_stages(stages_from_build(tmp_path, host="http://127.0.0.1:9"))  # no Ollama there
    assert [(s.label, s.kind, s.parent) for s in got] == [
        ("sft", "adapter", None), ("merged", "merged", "sft"), ("f16", "gguf", "merged"),
        ("q8_0", "gguf", "f16")]  # fmt: skip
    assert got[2].modelfile_source == "default" and got[3].modelfile_source == "b:q8_0"
    (adapter / "adapter_config.json").write_text("{}")  # a LoRA adapter rather than a full fine-tune
    assert stages_from_build(tmp_path)[0].label == "adapter"
    with pytest.raises(Exception, match="harness build"):
        stages_from_build(tmp_path / "none")
    # a build.json edited to point outside its build folder is refused
    steps["quantize"]["outputs"] = [{"path": str(pipe["q8_0"])}]
    (tmp_path / "build.json").write_text(json.dumps({"version": 1, "name": "b", "steps": steps}))
    with pytest.raises(Exception, match="outside"):
        stages_from_build(tmp_path)


def test_cli_errors_are_one_line_and_defaults_match(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from harness.cli import main
    from harness.cli.diagnose import diagnose as command

    with pytest.raises(SystemExit) as e:
        main(["diagnose", "nope", "--build-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert (
        e.value.code == 1 and err.count("\n") == 1 and "--stage KIND=PATH" in err and "Traceback" not in err
    )
    with pytest.raises(SystemExit) as e:
        main(["diagnose", "x", "--stage", "weights=/x"])
    assert e.value.code == 1 and "KIND[:LABEL]=PATH" in capsys.readouterr().err
    defaults = {p.name: p.default for p in command.params}
    assert {k: defaults[k] for k in ("kld_float", "kld_quant")} == {
        k: R.DEFAULT_THRESHOLDS[k] for k in ("kld_float", "kld_quant")
    }


def test_gguf_stages_render_with_the_code_of_harness_prompt(tmp_path: Path) -> None:
    """Issue 13, point 9: diagnose's GGUF stages render as `harness prompt` does (serving.prompt
    builder_for): a GGUF chat template with tools wins over a TEMPLATE without, as in Ollama."""
    from ollama_api import gguf_file

    from harness.diagnose.handles import _GGUFHandle
    from harness.diagnose.stages import Stage
    from harness.serving.modelfile import Modelfile
    from harness.serving.prompt import explain

    jinja = ("{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
             "{% if tools %}{{ tools }}{% endif %}{% if add_generation_prompt %}[assistant] {% endif %}")  # fmt: skip
    gguf = gguf_file(tmp_path / "m.gguf", {"general.architecture": "llama", "tokenizer.chat_template": jinja})
    mf = Modelfile(from_=str(gguf), template="{{ range .Messages }}{{ .Content }}{{ end }}", system="sys")
    h = object.__new__(_GGUFHandle)  # no model load: only the rendering is under test
    h.stage, h.mf, h._builder = Stage("f16", "gguf", str(gguf), modelfile=mf), mf, None
    msgs = [{"role": "user", "content": "hi"}]
    assert h.render(msgs) == explain(mf, str(gguf), msgs)["prompt"] == "[system] sys\n[user] hi\n[assistant] "


def test_ollama_stage_episodes_spread_over_a_pool(pipe: dict[str, Path], tmp_path: Path) -> None:
    """``--host`` repeated: the first host serves the Ollama stage's checks, and its episodes
    are spread over every host, each game played once, the trace naming the host."""
    from pytest_httpserver import HTTPServer
    from werkzeug import Response

    from harness.bench.pool import HostSpec
    from harness.bench.traces import read_traces
    from harness.diagnose.run import diagnose, gguf_metadata
    from harness.serving.modelfile import load

    eos = gguf_metadata(pipe["f16"])["tokenizer.ggml.eos_token_id"]
    meta = {"general.architecture": "qwen2", "tokenizer.ggml.eos_token_id": eos}
    mf = load(pipe["root"] / "nostop.Modelfile")
    done = {"model": "m", "created_at": "2025-01-01T00:00:00Z", "message": {"role": "assistant", "content": ""},
            "done": True, "done_reason": "stop", "prompt_eval_count": 3, "eval_count": 1}  # fmt: skip

    def chat(request: Any) -> Response:
        body = json.loads(request.data)
        if body.get("_debug_render_only"):
            out = {**done, "_debug_info": {"rendered_template": mf.prompt(body["messages"])}}
            return Response(json.dumps(out), content_type="application/json")
        reply = {**done, "message": {"role": "assistant", "content": "look"}}
        return Response(json.dumps(reply) + "\n", content_type="application/x-ndjson")

    servers = [HTTPServer(host="127.0.0.1", port=0) for _ in range(2)]
    try:
        for s in servers:
            s.start()
            s.expect_request("/api/show", method="POST").respond_with_json(
                {"parameters": 'stop "<|im_start|>"\nstop "<|im_end|>"', "template": "", "model_info": meta}
            )
            s.expect_request("/api/version").respond_with_json({"version": "0.33.0"})
            s.expect_request("/api/tags").respond_with_json(
                {"models": [{"name": "tiny:f16", "model": "tiny:f16"}]}
            )
            s.expect_request("/api/chat", method="POST").respond_with_handler(chat)
        urls = [s.url_for("/").rstrip("/") for s in servers]
        cfg = DiagnoseConfig(conversations=1, agreement_turns=0, episodes=4, max_steps=2, host=urls[0],
                             hosts=[HostSpec(u, 1, "ollama") for u in urls], out_dir=tmp_path / "d")  # fmt: skip
        stages = [parse_stage(f"gguf={pipe['f16']}"), parse_stage("ollama=tiny:f16")]
        report = diagnose("tiny", stages, cfg)
        assert report["stages"][1]["episodes"]["episodes"] == 4
        traces = read_traces(tmp_path / "d" / "episodes" / "ollama-tiny-f16" / "traces.jsonl")
        assert len({t.game_id for t in traces}) == len(traces) == 4
        assert {t.host for t in traces} == set(urls)
    finally:
        for s in servers:
            s.clear()
            if s.is_running():
                s.stop()
