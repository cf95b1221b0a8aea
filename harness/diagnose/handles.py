"""One handle per stage kind (checkpoint through transformers, GGUF through llama.cpp, Ollama):
tokenize a conversation, score tokens, play episodes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from harness.diagnose.stages import DiagnoseConfig, DiagnoseError, Stage
from harness.serving.modelfile import Modelfile

Messages = list[dict[str, str]]

__all__ = ["end_of_turn", "gguf_metadata", "open_stage"]


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
        self._builder: Any = None

    def render(self, messages: Messages) -> str:
        """The prompt ``harness prompt`` shows for this stage (serving.prompt.builder_for: the
        template current Ollama picks for this Modelfile and GGUF)."""
        if self._builder is None:
            from harness.serving.prompt import builder_for

            self._builder = builder_for(self.mf, self.stage.path)
        return self._builder.prompt(messages)

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
