"""A Hugging Face byte-level BPE tokenizer as GGUF metadata (``tokenizer.ggml.*``).

Used by ``train.convert``. Writes what llama.cpp's GPT-2 BPE tokenizer reads: the token list
padded to the embedding rows with ``[PADn]`` (type UNUSED), token types (NORMAL / CONTROL for
special added tokens / USER_DEFINED for the other added tokens), the merges, the pre-tokenizer
name (``tokenizer.ggml.pre``), the bos/eos/pad/unk ids, ``add_bos_token`` / ``add_eos_token`` (as
the HF tokenizer actually behaves) and the chat template.

The pre-tokenizer name is read off the tokenizer's own pre-tokenizer (Qwen2's split regex →
``qwen2``, Llama 3's → ``llama-bpe``, digits + GPT-2 regex → ``smollm``, plain GPT-2 → ``gpt-2``);
failing that, llama.cpp's fingerprint (sha256 of the ids of a probe text) is tried; an unknown
pre-tokenizer is an error, since llama.cpp would otherwise tokenize differently from training.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

from harness.errors import HarnessError


class ConvertError(HarnessError, ValueError):
    """A checkpoint that cannot be converted to GGUF (bad config, tokenizer or weights)."""


QWEN2_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
LLAMA3_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
SPLIT_REGEXES = {QWEN2_REGEX: "qwen2", LLAMA3_REGEX: "llama-bpe"}

# llama.cpp's probe text and fingerprints (convert_hf_to_gguf.py, get_vocab_base_pre).
PROBE_TEXT = (
    "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ 🦙🦙 "
    "3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ "
    "------======= нещо на Български ''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, "
    "'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL"
)
PROBE_HASHES = {
    "e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea": "qwen2",
    "0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5": "llama-bpe",
    "855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249": "smollm",
    "3ce83efda5659b07b1ad37ca97ca5797ea4285d9b9ab0dc679e4a720c9da7454": "gpt-2",
}
SUPPORTED_PRE = sorted(set(SPLIT_REGEXES.values()) | set(PROBE_HASHES.values()))

# gguf.TokenType values
NORMAL, CONTROL, USER_DEFINED, UNUSED = 1, 3, 4, 5


@dataclass
class Vocab:
    tokens: list[str]
    toktypes: list[int]
    merges: list[str]
    pre: str
    bos_id: int | None
    eos_id: int | None
    pad_id: int | None
    unk_id: int | None
    add_bos: bool
    add_eos: bool
    chat_template: str | None


def _pre_from_structure(pre: dict[str, Any] | None) -> str | None:
    """The llama.cpp pre-tokenizer name for a tokenizer.json ``pre_tokenizer`` block, if known."""
    if not pre:
        return None
    steps = pre["pretokenizers"] if pre.get("type") == "Sequence" else [pre]
    kinds = [s.get("type") for s in steps]
    last = steps[-1]
    if kinds[-1] != "ByteLevel" or last.get("add_prefix_space"):
        return None
    if kinds == ["Split", "ByteLevel"] and not last.get("use_regex", True):
        split = steps[0]
        regex = (split.get("pattern") or {}).get("Regex")
        if split.get("behavior") == "Isolated" and not split.get("invert"):
            return SPLIT_REGEXES.get(regex)
        return None
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits") and last.get("use_regex", True):
        return "smollm"
    if kinds == ["ByteLevel"] and last.get("use_regex", True):
        return "gpt-2"
    return None


def detect_pre(tokenizer_json: dict[str, Any], hf_tokenizer: Any) -> str:
    """``tokenizer.ggml.pre`` for a tokenizer, or ConvertError when llama.cpp has no match."""
    found = _pre_from_structure(tokenizer_json.get("pre_tokenizer"))
    if found:
        return found
    ids = hf_tokenizer.encode(PROBE_TEXT)  # as llama.cpp hashes it, specials included
    digest = sha256(str(ids).encode()).hexdigest()
    if digest in PROBE_HASHES:
        return PROBE_HASHES[digest]
    shown = json.dumps(tokenizer_json.get("pre_tokenizer"))[:160]
    raise ConvertError(
        f"unknown BPE pre-tokenizer {shown} (probe hash {digest[:12]}): llama.cpp would split text "
        f"differently from training; supported: {', '.join(SUPPORTED_PRE)}"
    )


def _merges(model: dict[str, Any]) -> list[str]:
    return [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]


def _special_id(tok: Any, attr: str, config: dict[str, Any], key: str) -> int | None:
    value = getattr(tok, attr, None)
    if value is None:
        value = config.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
    return int(value) if value is not None else None


def load_vocab(model_dir: str | Path, n_rows: int, config: dict[str, Any] | None = None) -> Vocab:
    """Read the tokenizer saved in ``model_dir`` (``tokenizer.json`` + config) for ``n_rows``
    embedding rows."""
    model_dir = Path(model_dir)
    tj_path = model_dir / "tokenizer.json"
    if not tj_path.is_file():
        hint = (
            " (a SentencePiece tokenizer.model is not supported)"
            if (model_dir / "tokenizer.model").exists()
            else ""
        )
        raise ConvertError(
            f"missing tokenizer files: {model_dir} has no tokenizer.json{hint}; "
            "save the fast tokenizer next to the weights with tokenizer.save_pretrained(MODEL_DIR)"
        )
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(model_dir))
    except Exception as e:  # a broken tokenizer_config.json and the like
        raise ConvertError(f"cannot load the tokenizer in {model_dir}: {str(e).splitlines()[0]}") from e
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:
        raise ConvertError(f"{model_dir}: the tokenizer is not a fast (tokenizers) one; save tokenizer.json")
    # What the loaded tokenizer really runs: transformers' model-specific classes may rebuild
    # parts of tokenizer.json (Qwen2Tokenizer sets Qwen2's pre-tokenizer whatever the file says).
    tj = json.loads(backend.to_str())
    model = tj.get("model") or {}
    if model.get("type") != "BPE" or model.get("byte_fallback"):
        raise ConvertError(
            f"{tj_path}: only byte-level BPE tokenizers are supported (got model type {model.get('type')!r})"
        )
    pre = detect_pre(tj, tok)

    vocab: dict[str, int] = tok.get_vocab()
    if max(vocab.values()) >= n_rows:
        raise ConvertError(
            f"tokenizer has id {max(vocab.values())} but the model has only {n_rows} embedding rows: "
            "the tokenizer does not belong to these weights"
        )
    added = tok.added_tokens_decoder  # id -> AddedToken
    reverse = {i: t for t, i in vocab.items()}
    tokens: list[str] = []
    toktypes: list[int] = []
    for i in range(n_rows):
        if i not in reverse:
            tokens.append(f"[PAD{i}]")
            toktypes.append(UNUSED)
        elif i in added:
            tokens.append(reverse[i])
            toktypes.append(CONTROL if added[i].special else USER_DEFINED)
        else:
            tokens.append(reverse[i])
            toktypes.append(NORMAL)

    config = config or {}
    bos = _special_id(tok, "bos_token_id", config, "bos_token_id")
    eos = _special_id(tok, "eos_token_id", config, "eos_token_id")
    pad = _special_id(tok, "pad_token_id", config, "pad_token_id")
    unk = getattr(tok, "unk_token_id", None)
    # What the HF tokenizer really does on encode, so llama.cpp's add_bos matches it.
    with_sp = tok.encode("a", add_special_tokens=True)
    without = tok.encode("a", add_special_tokens=False)
    add_bos = bos is not None and len(with_sp) > len(without) and with_sp[0] == bos
    add_eos = eos is not None and len(with_sp) > len(without) and with_sp[-1] == eos
    template = tok.chat_template
    if isinstance(template, dict):
        template = template.get("default") or next(iter(template.values()), None)
    return Vocab(
        tokens=tokens,
        toktypes=toktypes,
        merges=_merges(model),
        pre=pre,
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        add_bos=add_bos,
        add_eos=add_eos,
        chat_template=template or None,
    )


def write_vocab(writer: Any, vocab: Vocab) -> None:
    """Add the ``tokenizer.ggml.*`` keys to a ``gguf.GGUFWriter``."""
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(vocab.pre)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.toktypes)
    writer.add_token_merges(vocab.merges)
    for value, add in (
        (vocab.bos_id, writer.add_bos_token_id),
        (vocab.eos_id, writer.add_eos_token_id),
        (vocab.unk_id, writer.add_unk_token_id),
        (vocab.pad_id, writer.add_pad_token_id),
    ):
        if value is not None:
            add(value)
    writer.add_add_bos_token(vocab.add_bos)
    writer.add_add_eos_token(vocab.add_eos)
    if vocab.chat_template:
        writer.add_chat_template(vocab.chat_template)
