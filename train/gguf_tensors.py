"""The checkpoint side of ``train.convert``: what a Hugging Face qwen2 / llama directory holds.

``read_hparams`` turns ``config.json`` into the :class:`Hparams` a GGUF needs; ``_plan`` reads the
safetensors headers (never the data) and maps every tensor to its GGUF name, type and file
offset, checked against the config, in llama.cpp's order; ``_load`` reads rows of one tensor as
float32 with plain file I/O; ``permute_qk`` is llama's q/k row reordering for llama.cpp's rope.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from train.gguf_vocab import ConvertError

ARCHITECTURES = {"Qwen2ForCausalLM": "qwen2", "LlamaForCausalLM": "llama"}

TOP_LEVEL = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
IN_BLOCK = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.o_proj.bias": "attn_output.bias",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
BLOCK_ORDER = {name: i for i, name in enumerate(IN_BLOCK.values())}
REQUIRED_IN_BLOCK = [n for n in IN_BLOCK.values() if n.endswith(".weight")]
SKIPPED = ("rotary_emb.inv_freq",)
BLOCK_RE = re.compile(r"^model\.layers\.(\d+)\.(.+)$")
SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


@dataclass
class Hparams:
    arch: str
    n_ctx: int
    n_embd: int
    n_ff: int
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int
    rope_base: float
    rms_eps: float
    tied: bool
    rope_linear_factor: float | None = None


@dataclass
class _Tensor:
    src: str  # HF name
    name: str  # GGUF name
    file: Path
    offset: int
    dtype: str
    shape: tuple[int, ...]
    qtype: Any  # gguf.GGMLQuantizationType
    permute_heads: int | None = None


# ----------------------------------------------------------------------------- config


def read_hparams(model_dir: Path) -> tuple[Hparams, dict[str, Any]]:
    """The hyperparameters a GGUF needs, and the raw config.json."""
    cfg_path = model_dir / "config.json"
    if not cfg_path.is_file():
        raise ConvertError(f"{model_dir} has no config.json: not a Hugging Face model directory")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConvertError(f"{cfg_path} is not valid JSON: {e}") from e
    names = cfg.get("architectures") or []
    arch = next((ARCHITECTURES[n] for n in names if n in ARCHITECTURES), None)
    if not names and cfg.get("model_type") in ARCHITECTURES.values():
        arch = cfg["model_type"]
    if arch is None:
        shown = ", ".join(names) or cfg.get("model_type") or "none given"
        raise ConvertError(
            f"unknown architecture in {cfg_path}: {shown}; supported: {', '.join(ARCHITECTURES)}"
        )

    def need(key: str) -> Any:
        if cfg.get(key) is None:
            raise ConvertError(f"{cfg_path} lacks {key!r}, which a {arch} GGUF needs")
        return cfg[key]

    n_embd, n_head = int(need("hidden_size")), int(need("num_attention_heads"))
    rope = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    rope_type = rope.get("rope_type") or rope.get("type") or "default"
    base = cfg.get("rope_theta") or rope.get("rope_theta") or 10000.0
    if rope_type not in ("default", "linear"):
        raise ConvertError(f"{cfg_path}: rope scaling {rope_type!r} is not supported (default, linear)")
    return Hparams(
        arch=arch,
        n_ctx=int(need("max_position_embeddings")),
        n_embd=n_embd,
        n_ff=int(need("intermediate_size")),
        n_layer=int(need("num_hidden_layers")),
        n_head=n_head,
        n_head_kv=int(cfg.get("num_key_value_heads") or n_head),
        head_dim=int(cfg.get("head_dim") or n_embd // n_head),
        rope_base=float(base),
        rms_eps=float(cfg.get("rms_norm_eps") or 1e-6),
        tied=bool(cfg.get("tie_word_embeddings", False)),
        rope_linear_factor=float(rope["factor"]) if rope_type == "linear" else None,
    ), cfg


# ----------------------------------------------------------------------------- weights


def _safetensors_files(model_dir: Path) -> list[Path]:
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        files = sorted({model_dir / f for f in weight_map.values()})
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise ConvertError(
                f"missing weights: {index.name} lists {', '.join(missing)}, not in {model_dir}"
            )
        return files
    files = sorted(model_dir.glob("*.safetensors"))
    if files:
        return files
    if list(model_dir.glob("*.bin")):
        raise ConvertError(
            f"{model_dir} has only PyTorch .bin weights; re-save with save_pretrained(safe_serialization=True)"
        )
    raise ConvertError(f"missing weights: {model_dir} has no model.safetensors")


def _read_header(path: Path) -> tuple[int, dict[str, Any]]:
    """(data start, tensor table) of a safetensors file, without reading the data."""
    with open(path, "rb") as fh:
        raw = fh.read(8)
        if len(raw) != 8:
            raise ConvertError(f"{path} is truncated (no safetensors header)")
        n = int.from_bytes(raw, "little")
        size = os.fstat(fh.fileno()).st_size
        if n < 2 or 8 + n > size:  # a garbage length must not become a huge read
            raise ConvertError(
                f"{path} is not a safetensors file (its header claims {n} bytes, the file has {size}); "
                "copy or save the checkpoint again"
            )
        try:
            header = json.loads(fh.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ConvertError(f"{path} is not a safetensors file: {e}") from e
    if not isinstance(header, dict):
        raise ConvertError(f"{path} is not a safetensors file (its header is not a JSON object)")
    header.pop("__metadata__", None)
    return 8 + n, header


def _load(t: _Tensor, row0: int = 0, rows: int | None = None) -> np.ndarray:
    """Rows ``row0 : row0 + rows`` of a tensor as float32, read with plain file I/O (no mmap, so
    pages already converted do not stay in RSS)."""
    shape = (t.shape[0] - row0 if rows is None else rows, *t.shape[1:])
    raw = np.empty(shape, dtype=SAFETENSORS_DTYPES[t.dtype])
    row_bytes = raw.itemsize * int(np.prod(t.shape[1:], dtype=np.int64))
    with open(t.file, "rb") as fh:
        fh.seek(t.offset + row0 * row_bytes)
        if fh.readinto(raw.reshape(-1).view(np.uint8)) != raw.nbytes:
            raise ConvertError(f"{t.file} is truncated: {t.src} is incomplete")
    if t.dtype == "BF16":
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return raw.astype(np.float32, copy=False)


def permute_qk(w: np.ndarray, n_heads: int) -> np.ndarray:
    """Reorder q/k rows from HF's rotate-half rope layout to llama.cpp's interleaved one."""
    return w.reshape(n_heads, 2, w.shape[0] // n_heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _qtype_for(name: str, shape: tuple[int, ...], outtype: str) -> Any:
    from gguf import GGMLQuantizationType as Q

    if len(shape) <= 1 or name.endswith("_norm.weight") or not name.endswith(".weight"):
        return Q.F32
    if outtype == "q8_0":
        return Q.Q8_0 if shape[-1] % 32 == 0 else Q.F16  # llama.cpp's fallback for odd rows
    return {"f32": Q.F32, "f16": Q.F16, "bf16": Q.BF16}[outtype]


def _plan(model_dir: Path, hp: Hparams, outtype: str) -> list[_Tensor]:
    plan: list[_Tensor] = []
    unexpected: list[str] = []
    for path in _safetensors_files(model_dir):
        start, header = _read_header(path)
        for src, info in header.items():
            if src.endswith(SKIPPED):
                continue
            if src == "lm_head.weight" and hp.tied:
                continue
            m = BLOCK_RE.match(src)
            name = f"blk.{m.group(1)}.{IN_BLOCK[m.group(2)]}" if m and m.group(2) in IN_BLOCK else None
            name = name or TOP_LEVEL.get(src)
            if name is None:
                unexpected.append(src)
                continue
            if info["dtype"] not in SAFETENSORS_DTYPES or not 1 <= len(info["shape"]) <= 2:
                raise ConvertError(
                    f"{path.name}: {src} is {info['dtype']} {info['shape']}; expected F32/F16/BF16, 1-D or 2-D"
                )
            shape = tuple(int(d) for d in info["shape"])
            permute = None
            if hp.arch == "llama" and ".attn_q." in name:
                permute = hp.n_head
            elif hp.arch == "llama" and ".attn_k." in name:
                permute = hp.n_head_kv
            plan.append(
                _Tensor(src, name, path, start + info["data_offsets"][0], info["dtype"], shape,
                        _qtype_for(name, shape, outtype), permute)
            )  # fmt: skip
    if unexpected:
        more = f" (+{len(unexpected) - 3} more)" if len(unexpected) > 3 else ""
        hint = (
            " — a LoRA adapter? merge it first (python -m train.merge)"
            if any("lora" in u for u in unexpected)
            else ""
        )
        raise ConvertError(f"unexpected tensors for {hp.arch}: {', '.join(unexpected[:3])}{more}{hint}")
    have = {t.name for t in plan}
    want = ["token_embd.weight", "output_norm.weight", *([] if hp.tied else ["output.weight"])]
    for i in range(hp.n_layer):
        want += [f"blk.{i}.{n}" for n in REQUIRED_IN_BLOCK]
        if hp.arch == "qwen2":
            want += [f"blk.{i}.attn_{x}.bias" for x in "qkv"]
    missing = [w for w in want if w not in have]
    if missing:
        more = f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""
        raise ConvertError(f"missing weights in {model_dir}: {', '.join(missing[:3])}{more}")
    shapes = {  # what config.json implies, checked so llama.cpp never meets a surprise
        "attn_q.weight": (hp.n_head * hp.head_dim, hp.n_embd),
        "attn_k.weight": (hp.n_head_kv * hp.head_dim, hp.n_embd),
        "ffn_gate.weight": (hp.n_ff, hp.n_embd),
    }
    for t in plan:
        block, _, rest = (
            t.name.removeprefix("blk.").partition(".") if t.name.startswith("blk.") else ("", "", "")
        )
        wrong = t.shape != shapes.get(rest, t.shape) or (block and int(block) >= hp.n_layer)
        if wrong or (t.name == "token_embd.weight" and t.shape[1] != hp.n_embd):
            raise ConvertError(f"{t.src} has shape {list(t.shape)}, which config.json does not describe")

    def order(t: _Tensor) -> tuple[int, int]:
        if t.name.startswith("blk."):
            _, bid, rest = t.name.split(".", 2)
            return (int(bid), BLOCK_ORDER[rest])
        return ({"token_embd.weight": -1, "output_norm.weight": 1 << 30}.get(t.name, 1 << 31), 0)

    return sorted(plan, key=order)
