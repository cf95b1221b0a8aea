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

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np

from harness._util.atomic import sha256_file, temp_beside
from harness._util.cli import byte_bar, run_command
from harness._util.progress import ByteProgress, silent
from harness.serving.gguf_info import CONVERTER_KEY

# reading the checkpoint lives in train.gguf_tensors; its names stay importable from here
from train.gguf_tensors import ARCHITECTURES as ARCHITECTURES
from train.gguf_tensors import BLOCK_ORDER as BLOCK_ORDER
from train.gguf_tensors import BLOCK_RE as BLOCK_RE
from train.gguf_tensors import IN_BLOCK as IN_BLOCK
from train.gguf_tensors import REQUIRED_IN_BLOCK as REQUIRED_IN_BLOCK
from train.gguf_tensors import SAFETENSORS_DTYPES as SAFETENSORS_DTYPES
from train.gguf_tensors import SKIPPED as SKIPPED
from train.gguf_tensors import TOP_LEVEL as TOP_LEVEL
from train.gguf_tensors import Hparams, _load, _plan, _Tensor, permute_qk, read_hparams
from train.gguf_tensors import _qtype_for as _qtype_for
from train.gguf_tensors import _read_header as _read_header
from train.gguf_tensors import _safetensors_files as _safetensors_files
from train.gguf_vocab import ConvertError, load_vocab, write_vocab

OUTTYPES = ("f32", "f16", "bf16", "q8_0")
CHUNK_BYTES = 16 << 20  # float32 bytes converted at a time


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


# ----------------------------------------------------------------------------- tensor data
# convert() and _encode look read_hparams, _load, permute_qk and CHUNK_BYTES up in this module,
# so patching train.convert.<name> (as the negative-control tests do) changes what is written.


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
    w.add_string(CONVERTER_KEY, "train/convert.py")  # harness register may then fit its chat template


def convert(
    model_dir: str | Path,
    out_path: str | Path,
    outtype: str = "f16",
    *,
    name: str | None = None,
    progress: ByteProgress | None = None,
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
        with (progress or silent)(f"convert {out.name}", sum(_nbytes(t) for t in plan)) as advance:
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


# ----------------------------------------------------------------------------- CLI


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
    result = convert(model_dir, out, outtype, name=name, progress=byte_bar)
    click.echo(result.line())


def main(argv: list[str] | None = None) -> None:
    run_command(command, argv, "python -m train.convert")


if __name__ == "__main__":
    main()
