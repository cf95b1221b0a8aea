"""`harness register` makes the intended template win (issue 13, point 1, last bullet): a GGUF the
project converted gets the Modelfile TEMPLATE written as its chat template, so current Ollama
(server/images.go shouldPreferChatTemplate) does not prefer a richer GGUF template; for any other
GGUF the register output says which template Ollama will use."""

from __future__ import annotations

from pathlib import Path

import pytest
from ollama_api import gguf_file

from harness.backends import catalog
from harness.serving import gotemplate
from harness.serving.gguf_info import CONVERTER_KEY, read_gguf_info
from harness.serving.jinja_from_go import Untranslatable, jinja_from_go
from harness.serving.modelfile import load
from harness.serving.prompt import choose_template, render_jinja

MODELFILES = sorted((Path(__file__).resolve().parents[1] / "modelfiles").glob("*.Modelfile"))
QWEN = next(p for p in MODELFILES if p.name.startswith("qwen2.5"))
# a Qwen2.5-style chat template: tools and tool calls, so it beats a TEMPLATE without .Tools
TOOLS_JINJA = (
    "{% if tools %}<|im_start|>system\n<tools>{{ tools | tojson }}</tools><|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
    "{% if m.tool_calls %}<tool_call>{{ m.tool_calls | tojson }}</tool_call>{% endif %}<|im_end|>\n"
    "{% endfor %}{% if m and m.role == 'tool' %}<tool_response>{% endif %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CHAT = [
    {"role": "system", "content": "You are terse."}, {"role": "user", "content": "look"},
    {"role": "assistant", "content": "think: where am I"}, {"role": "user", "content": "You are in a room."},
    {"role": "user", "content": "Go on."}, {"role": "assistant", "content": "go to cabinet 1"},
    {"role": "tool", "content": "ok"}, {"role": "user", "content": "café ✓ \"quoted\" {{ braces }}"},
]  # fmt: skip


@pytest.mark.parametrize("path", MODELFILES, ids=lambda p: p.name)
def test_shipped_templates_written_as_jinja_render_the_same_prompt(path: Path) -> None:
    mf = load(path)
    jinja = jinja_from_go(mf.template)
    for n in range(1, len(CHAT) + 1):
        want = gotemplate.parse(mf.template).render(CHAT[:n])
        assert render_jinja(jinja, CHAT[:n]) == want
    assert choose_template(mf, jinja).source == "modelfile"  # no capability the TEMPLATE lacks


@pytest.mark.parametrize(
    ("template", "words"),
    [('{{ $x := 1 }}{{ range .Messages }}{{ $x = 2 }}{{ end }}', "'=' assignment"),
     ("{{ range .Messages }}{{ .Content }}{{ end }}{{ if .Tools }}{{ json .Tools }}{{ end }}", ".Tools"),
     ("{{ .System }}{{ .Prompt }}", "not a .Messages template"),
     ('{{ range .Messages }}{{ printf "%s" .Content }}{{ end }}', "'printf'")],
)  # fmt: skip
def test_what_cannot_be_translated_is_refused(template: str, words: str) -> None:
    with pytest.raises(Untranslatable, match=words):
        jinja_from_go(template)


def _project_gguf(path: Path, converted: bool) -> Path:
    kv: dict = {
        "general.architecture": "qwen2",
        "general.file_type": 1,
        "tokenizer.chat_template": TOOLS_JINJA,
    }
    if converted:
        kv[CONVERTER_KEY] = "train/convert.py"
    return gguf_file(path, kv)


def test_a_converted_gguf_gets_the_template_as_its_chat_template(tmp_path: Path) -> None:
    mf = load(QWEN)
    assert choose_template(mf, TOOLS_JINJA).source == "gguf"  # as converted, Ollama would prefer it
    result = catalog.register("qwen-react", _project_gguf(tmp_path / "q.gguf", True), mf, backend="local")
    stored = read_gguf_info(catalog.get_local("qwen-react").gguf)
    assert stored.chat_template == jinja_from_go(mf.template)
    assert stored.converter == "train/convert.py" and stored.architecture == "qwen2"
    assert choose_template(mf, stored.chat_template).source == "modelfile"
    assert "rewritten from the TEMPLATE" in result.template
    assert read_gguf_info(tmp_path / "q.gguf").chat_template == TOOLS_JINJA  # the source is untouched
    assert not list((tmp_path.parent).glob("**/tmp/q.gguf"))
    # the manifest names the user's file, not the deleted temporary copy; a rerun is unchanged
    assert catalog.get_local("qwen-react").source == str((tmp_path / "q.gguf").resolve())
    again = catalog.register("qwen-react", tmp_path / "q.gguf", mf, backend="local")
    assert again.status == "unchanged"


def test_a_foreign_gguf_is_kept_and_the_output_says_which_template_wins(tmp_path: Path) -> None:
    mf = load(QWEN)
    result = catalog.register("qwen-foreign", _project_gguf(tmp_path / "f.gguf", False), mf, backend="local")
    assert read_gguf_info(catalog.get_local("qwen-foreign").gguf).chat_template == TOOLS_JINJA
    assert "GGUF's own chat template, NOT the Modelfile TEMPLATE" in result.template
    assert "OLLAMA_GO_TEMPLATE=1" in result.template and "tools" in result.template


def test_the_cli_prints_the_template_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from harness.cli import main

    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    gguf = _project_gguf(tmp_path / "f.gguf", False)
    main(["register", "m", "--gguf", str(gguf), "--modelfile", str(QWEN), "--backend", "local"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("m: registered in the local store") and "NOT the Modelfile TEMPLATE" in out[1]


def test_metadata_rewrite_keeps_the_tensors(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    import numpy as np

    src = tmp_path / "t.gguf"
    w = gguf.GGUFWriter(str(src), arch="llama")
    w.add_chat_template("short")
    w.add_custom_alignment(64)
    data = np.arange(48, dtype=np.float32).reshape(3, 16)
    w.add_tensor("token_embd.weight", data)
    w.add_tensor("output.weight", data * 2)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    from harness.serving.gguf_edit import set_metadata_string

    info, raw = read_gguf_info(src), src.read_bytes()  # the one reader gives the spans gguf_edit splices
    assert info.alignment == 64 and info.tensor_infos[1] <= info.data_end
    assert all(raw[a + 8 : a + 8 + len(k)] == k.encode() for k, (a, _) in info.kv_spans.items())
    for value in ("a much longer chat template " * 7, "x"):
        dst = tmp_path / "out.gguf"
        set_metadata_string(src, dst, "tokenizer.chat_template", value)
        r = gguf.GGUFReader(str(dst))
        assert r.fields["tokenizer.chat_template"].contents() == value
        assert r.fields["general.alignment"].contents() == 64
        got = {t.name: np.array(t.data) for t in r.tensors}
        assert np.array_equal(got["token_embd.weight"], data) and np.array_equal(
            got["output.weight"], data * 2
        )
    set_metadata_string(src, dst, "react_harness.converter", "added")  # an absent key is added
    assert read_gguf_info(dst).converter == "added" and read_gguf_info(dst).chat_template == "short"
