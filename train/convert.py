"""Convert a Hugging Face checkpoint (qwen2 / llama, safetensors) to one GGUF file.

    python -m train.convert MODEL_DIR --out model.f16.gguf --outtype f16
    python -m train.convert MODEL_DIR --out out/ --outtype q8_0      # names the file itself

``MODEL_DIR`` holds what ``save_pretrained`` writes: ``config.json``, ``model.safetensors`` (or
shards + ``model.safetensors.index.json``) and the fast tokenizer (``tokenizer.json``). Output
types: f32, f16, bf16, q8_0; norms and biases stay F32 as llama.cpp keeps them. Tensors are
streamed: read with plain file I/O a block of rows at a time (16 MB of float32), converted and
written before the next block, so memory does not grow with the model (a 0.5B model peaks at
~0.6 GB RSS, most of it transformers loading the tokenizer). The file appears under its final
name only once complete (temp file + fsync + rename); the result carries its sha256.

Layout follows llama.cpp's ``convert_hf_to_gguf.py``: ``token_embd``, ``blk.N.attn_{norm,q,k,v,
output}``, ``blk.N.ffn_{norm,gate,up,down}``, ``output_norm``, ``output`` (absent when the
embeddings are tied); llama's q/k rows are permuted for llama.cpp's rope layout (qwen2's are not).
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np

from harness._util.atomic import sha256_file
from harness.errors import HarnessError
from train.gguf_vocab import ConvertError, load_vocab, write_vocab

ARCHITECTURES = {"Qwen2ForCausalLM": "qwen2", "LlamaForCausalLM": "llama"}
OUTTYPES = ("f32", "f16", "bf16", "q8_0")

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
CHUNK_BYTES = 16 << 20  # float32 bytes converted at a time
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
class ConvertResult:
    path: Path
    sha256: str
    size: int
    n_tensors: int
    n_params: int
    outtype: str
    arch: str
    pre: str
    seconds: float

    def line(self) -> str:
        return (
            f"{self.path}  {self.arch} {self.outtype}  {self.size / 1e6:.1f} MB  {self.n_tensors} tensors  "
            f"{self.n_params / 1e6:.1f}M params  pre={self.pre}  sha256 {self.sha256[:16]}  "
            f"({self.seconds:.1f}s)"
        )


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
        try:
            header = json.loads(fh.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ConvertError(f"{path} is not a safetensors file: {e}") from e
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


def _encode(t: _Tensor) -> Iterator[np.ndarray]:
    """The tensor's GGUF bytes, in chunks of rows (rows convert independently; permuted q/k are
    taken whole, as the permutation mixes rows)."""
    from gguf import GGMLQuantizationType as Q
    from gguf import quants

    row_f32 = 4 * int(np.prod(t.shape[1:], dtype=np.int64))
    step = t.shape[0] if t.permute_heads or len(t.shape) < 2 else max(1, CHUNK_BYTES // row_f32)
    for row0 in range(0, t.shape[0], step):
        data = _load(t, row0, min(step, t.shape[0] - row0))
        if t.permute_heads:
            data = permute_qk(data, t.permute_heads)
        if t.qtype == Q.F32:
            yield np.ascontiguousarray(data, dtype=np.float32)
        elif t.qtype == Q.F16:
            yield data.astype(np.float16)
        else:
            yield quants.quantize(data, t.qtype)
        del data


def _write_tensor(w: Any, t: _Tensor) -> Iterator[int]:
    """Write one tensor's data at the writer's position (as GGUFWriter.write_tensor_data does,
    but chunk by chunk); yields the bytes written."""
    fout = w.fout[0]
    w.write_padding(fout, fout.tell())
    n = 0
    for chunk in _encode(t):
        chunk.tofile(fout)
        n += chunk.nbytes
        yield chunk.nbytes
    if n != _nbytes(t):
        raise ConvertError(f"internal error: {t.name} wrote {n} bytes, expected {_nbytes(t)}")
    w.write_padding(fout, n)


def _nbytes(t: _Tensor) -> int:
    from gguf import GGML_QUANT_SIZES

    block, size = GGML_QUANT_SIZES[t.qtype]
    return int(np.prod(t.shape)) // block * size


# ----------------------------------------------------------------------------- writer


def _write_metadata(w: Any, hp: Hparams, name: str, outtype: str, n_params: int) -> None:
    import gguf

    ftype = {"f32": 0, "f16": 1, "bf16": 32, "q8_0": 7}[outtype]  # gguf.LlamaFileType
    w.add_type("model")
    w.add_name(name)
    w.add_size_label(gguf.size_label(n_params, n_params, 0, 0))
    w.add_context_length(hp.n_ctx)
    w.add_embedding_length(hp.n_embd)
    w.add_feed_forward_length(hp.n_ff)
    w.add_block_count(hp.n_layer)
    w.add_head_count(hp.n_head)
    w.add_head_count_kv(hp.n_head_kv)
    w.add_rope_freq_base(hp.rope_base)
    w.add_layer_norm_rms_eps(hp.rms_eps)
    w.add_rope_dimension_count(hp.head_dim)
    if hp.head_dim != hp.n_embd // hp.n_head:
        w.add_key_length(hp.head_dim)
        w.add_value_length(hp.head_dim)
    if hp.rope_linear_factor:
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(hp.rope_linear_factor)
    w.add_file_type(ftype)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)


def convert(
    model_dir: str | Path,
    out_path: str | Path,
    outtype: str = "f16",
    *,
    name: str | None = None,
    progress: bool = False,
) -> ConvertResult:
    """Convert ``model_dir`` to a GGUF at ``out_path``; a directory (or any path not ending in
    ``.gguf``) gets ``<name>.<outtype>.gguf`` inside it."""
    import gguf

    t0 = time.perf_counter()
    model_dir = Path(model_dir)
    if outtype not in OUTTYPES:
        raise ConvertError(f"unknown output type {outtype!r}; choose one of {', '.join(OUTTYPES)}")
    if not model_dir.is_dir():
        raise ConvertError(f"{model_dir} is not a directory (expected a save_pretrained checkpoint)")
    hp, cfg = read_hparams(model_dir)
    plan = _plan(model_dir, hp, outtype)
    n_rows = next(t.shape[0] for t in plan if t.name == "token_embd.weight")
    vocab = load_vocab(model_dir, n_rows, cfg)
    name = name or model_dir.resolve().name
    out = Path(out_path)
    if out.is_dir() or out.suffix != ".gguf":
        out = out / f"{name}.{outtype}.gguf"
    out.parent.mkdir(parents=True, exist_ok=True)
    n_params = sum(int(np.prod(t.shape)) for t in plan)

    w = gguf.GGUFWriter(path=None, arch=hp.arch)
    _write_metadata(w, hp, name, outtype, n_params)
    w.add_vocab_size(n_rows)
    write_vocab(w, vocab)
    for t in plan:
        w.add_tensor_info(t.name, t.shape, np.dtype(np.float32), _nbytes(t), raw_dtype=t.qtype)

    tmp = temp_beside(out)
    try:
        w.write_header_to_file(path=tmp)
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        with _progress(progress, f"convert {out.name}", sum(_nbytes(t) for t in plan)) as advance:
            for t in plan:
                for n in _write_tensor(w, t):
                    advance(n)
        assert w.fout is not None
        for fh in w.fout:
            fh.flush()
            os.fsync(fh.fileno())
        w.close()
        os.replace(tmp, out)
    except BaseException:
        w.close()
        tmp.unlink(missing_ok=True)
        raise
    return ConvertResult(
        path=out,
        sha256=sha256_file(out),
        size=out.stat().st_size,
        n_tensors=len(plan),
        n_params=n_params,
        outtype=outtype,
        arch=hp.arch,
        pre=vocab.pre,
        seconds=time.perf_counter() - t0,
    )


def temp_beside(out: Path) -> Path:
    """An empty temp file in ``out``'s directory (same filesystem, so a rename is atomic), with
    the permissions a plain ``open`` would give."""
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    os.close(fd)
    return Path(name)


class _progress:
    """``with _progress(show, label, total) as advance:`` — a rich bar, or nothing."""

    def __init__(self, show: bool, label: str, total: int) -> None:
        self.show, self.label, self.total = show, label, total
        self.bar: Any = None

    def __enter__(self) -> Callable[[int], None]:
        if not self.show:
            return lambda n: None
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
            transient=True,
        )  # fmt: skip
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


# ----------------------------------------------------------------------------- CLI


def run_cli(command: click.Command, argv: list[str] | None, prog: str) -> None:
    """Run a click command the harness way: HarnessError → one line on stderr, Ctrl-C → 130."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or bool(os.environ.get("HARNESS_DEBUG"))
    try:
        command.main(args=args, prog_name=prog, standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except HarnessError as e:
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option(
    "--out", "out", required=True, type=click.Path(path_type=Path), help="GGUF file (or directory)."
)
@click.option("--outtype", type=click.Choice(OUTTYPES), default="f16", show_default=True)
@click.option("--name", default=None, help="general.name (default: the model directory's name).")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def command(model_dir: Path, out: Path, outtype: str, name: str | None, debug: bool) -> None:
    """Convert a Hugging Face qwen2/llama checkpoint (safetensors) to GGUF."""
    result = convert(model_dir, out, outtype, name=name, progress=True)
    click.echo(result.line())


def main(argv: list[str] | None = None) -> None:
    run_cli(command, argv, "python -m train.convert")


if __name__ == "__main__":
    main()
