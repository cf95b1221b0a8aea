"""Quantize an F16/BF16/F32 GGUF to llama.cpp's types that need no importance matrix.

    python -m train.quantize model.f16.gguf --levels q8_0,q6_k,q5_k_m,q4_k_m,q4_0 --out-dir out/
    python -m train.quantize model.f16.gguf --levels all --out-dir out/

One file per level (``<name>.<level>.gguf``, written atomically) and one line per file: size,
bits per weight (from the tensor types), sha256. Runs llama.cpp's own ``llama_model_quantize``
(through llama-cpp-python), so the files are what ``llama-quantize`` would write.

k-quants (``*_k*``) pack rows in blocks of 256. A tensor whose row length does not divide by 256
is stored by llama.cpp as another type (Q4_K → Q5_0, Q6_K → Q8_0, …): SmolLM2-135M (576) and
Qwen2.5-0.5B (896) are such models. The output is checked against the requested level and a
note on the line says how many tensors fell back and to what.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from harness._util.atomic import sha256_file
from harness.serving.quant import FLOAT_TYPES, LEVELS, QuantizeError, tensor_table
from train.convert import run_cli, temp_beside

DEFAULT_LEVELS = "q8_0,q6_k,q5_k_m,q5_k_s,q5_0,q4_k_m,q4_k_s,q4_0,q3_k_m,q3_k_s,q2_k"
SOURCE_SUFFIXES = (".f32", ".f16", ".bf16")


@dataclass
class QuantResult:
    level: str
    path: Path
    sha256: str
    size: int
    n_params: int
    bpw: float  # bits per weight over all tensors, from their types
    types: dict[str, int]  # tensor type -> count
    fallback: list[tuple[str, str, int]] = field(default_factory=list)  # (tensor, type, row length)
    seconds: float = 0.0

    @property
    def note(self) -> str | None:
        if not self.fallback:
            return None
        got = "/".join(sorted({t for _, t, _ in self.fallback}))
        wanted = "/".join(sorted(LEVELS[self.level]))
        rows = ", ".join(str(r) for r in sorted({r for _, _, r in self.fallback}))
        return (
            f"{len(self.fallback)}/{sum(self.types.values())} matrices stored as {got}, not {wanted}: "
            f"rows of {rows} are not a multiple of 256, which k-quants need"
        )

    def line(self) -> str:
        text = (
            f"{self.level:<7} {self.path.name}  {self.size / 1e6:9.1f} MB  {self.bpw:5.2f} bpw  "
            f"sha256 {self.sha256[:16]}  ({self.seconds:.1f}s)"
        )
        return f"{text}\n        note: {self.note}" if self.note else text


def parse_levels(text: str) -> list[str]:
    """``"q8_0,q4_k_m"`` (or ``all``) → levels; QuantizeError naming the valid ones."""
    if text.strip().lower() == "all":
        return list(LEVELS)
    levels = [x.strip().lower() for x in text.split(",") if x.strip()]
    bad = [x for x in levels if x not in LEVELS]
    if bad or not levels:
        raise QuantizeError(
            f"unknown quantization level {', '.join(bad) or '(none given)'}; valid: {', '.join(LEVELS)}"
        )
    return levels


def _inspect(path: Path) -> tuple[dict[str, int], list[tuple[str, str, int]], int, int]:
    """(type counts of 2-D tensors, their (name, type, row length), parameters, tensor bytes)."""
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    counts: collections.Counter[str] = collections.Counter()
    matrices: list[tuple[str, str, int]] = []
    n_params = n_bytes = 0
    for name, shape, ttype in tensor_table(path):
        n = math.prod(shape)
        block, size = GGML_QUANT_SIZES[GGMLQuantizationType[ttype]]
        n_params += n
        n_bytes += n // block * size
        if len(shape) >= 2:
            counts[ttype] += 1
            matrices.append((name, ttype, shape[0]))
    return dict(counts), matrices, n_params, n_bytes


@contextlib.contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Send what llama.cpp prints (file descriptor 2, and llama-cpp-python's log callback, which
    writes to ``sys.stderr``) to ``path`` for the duration."""
    from llama_cpp._logger import logger

    sys.stderr.flush()
    saved_fd, saved_obj, saved_level = os.dup(2), sys.stderr, logger.level
    # llama-cpp-python maps ggml's ERROR level to DEBUG, so after any Llama(verbose=False) it
    # drops errors: let everything through while it all goes to the log.
    logger.setLevel(logging.DEBUG)
    with open(path, "ab") as fh, open(path, "a", buffering=1, encoding="utf-8", errors="replace") as text:
        os.dup2(fh.fileno(), 2)
        sys.stderr = text
        try:
            yield
        finally:
            sys.stderr = saved_obj
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            logger.setLevel(saved_level)


def quantize(
    src: str | Path, level: str, out: str | Path, *, nthread: int | None = None, verbose: bool = False
) -> QuantResult:
    """Quantize the GGUF ``src`` to ``level`` at ``out`` (atomically)."""
    t0 = time.perf_counter()
    levels = parse_levels(level)
    if len(levels) != 1:
        raise QuantizeError(f"quantize() takes one level, got {level!r}; use quantize_all for several")
    level = levels[0]
    src, out = Path(src), Path(out)
    if not src.is_file():
        raise QuantizeError(f"{src} does not exist: convert a model first (python -m train.convert)")
    types, _, _, _ = _inspect(src)
    quantized = sorted(set(types) - FLOAT_TYPES)
    if quantized:
        raise QuantizeError(
            f"{src} is already quantized ({', '.join(quantized)}); quantize from the F16/BF16/F32 GGUF"
        )
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{level.upper()}")
    params.nthread = nthread or os.cpu_count() or 1
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(out)
    log = tmp.with_name(tmp.name + ".log")
    try:
        if verbose:
            rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(params))
        else:
            with _stderr_to(log):
                rc = llama_cpp.llama_model_quantize(
                    str(src).encode(), str(tmp).encode(), ctypes.byref(params)
                )
        if rc != 0:
            said = (
                [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
                if log.exists()
                else []
            )
            raise QuantizeError(
                f"llama.cpp failed to quantize {src.name} to {level}: {said[-1] if said else rc}"
            )
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
        log.unlink(missing_ok=True)
    counts, matrices, n_params, n_bytes = _inspect(out)
    allowed = LEVELS[level]
    fallback = [(name, typ, row) for name, typ, row in matrices if typ not in allowed]
    return QuantResult(
        level=level,
        path=out,
        sha256=sha256_file(out),
        size=out.stat().st_size,
        n_params=n_params,
        bpw=8 * n_bytes / max(n_params, 1),
        types=counts,
        fallback=fallback,
        seconds=time.perf_counter() - t0,
    )


def output_path(src: Path, level: str, out_dir: Path) -> Path:
    """``out_dir/<name>.<level>.gguf`` for ``<name>.f16.gguf``."""
    stem = src.name.removesuffix(".gguf")
    for suffix in SOURCE_SUFFIXES:
        stem = stem.removesuffix(suffix)
    return out_dir / f"{stem}.{level}.gguf"


def quantize_all(
    src: str | Path,
    levels: list[str],
    out_dir: str | Path,
    *,
    nthread: int | None = None,
    progress: bool = False,
    echo: Callable[[str], None] | None = None,
) -> Iterator[QuantResult]:
    """Quantize ``src`` to each level in turn, yielding each result as it lands (and passing
    its line to ``echo``, above the progress bar when both share a terminal)."""
    src, out_dir = Path(src), Path(out_dir)
    bar: Any = None
    stream: Any = None
    if progress:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

        # llama.cpp's fd 2 is redirected while it runs: draw on a copy of the real stderr.
        stream = os.fdopen(os.dup(2), "w")
        console = Console(file=stream, stderr=True)
        bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       console=console, transient=True, redirect_stdout=False, redirect_stderr=False)  # fmt: skip
        bar.start()
        task = bar.add_task("quantize", total=len(levels))
    try:
        for level in levels:
            if bar is not None:
                bar.update(task, description=f"quantize {level}")
            result = quantize(src, level, output_path(src, level, out_dir), nthread=nthread)
            if bar is not None:
                bar.advance(task)
            if echo is not None and bar is not None and bar.console.is_terminal and sys.stdout.isatty():
                bar.console.print(result.line(), markup=False, highlight=False)
            elif echo is not None:
                echo(result.line())
            yield result
    finally:
        if bar is not None:
            bar.stop()
            stream.close()


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("src", type=click.Path(path_type=Path))
@click.option(
    "--levels", default=DEFAULT_LEVELS, show_default=True, help=f"Comma list or 'all' ({', '.join(LEVELS)})."
)
@click.option("--out-dir", required=True, type=click.Path(path_type=Path), help="Where the files go.")
@click.option("--threads", type=int, default=None, help="Threads for llama.cpp (default: all cores).")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def command(src: Path, levels: str, out_dir: Path, threads: int | None, debug: bool) -> None:
    """Quantize an F16/BF16/F32 GGUF to several llama.cpp levels."""
    chosen = parse_levels(levels)
    for _ in quantize_all(src, chosen, out_dir, nthread=threads, progress=True, echo=click.echo):
        pass


def main(argv: list[str] | None = None) -> None:
    run_cli(command, argv, "python -m train.quantize")


if __name__ == "__main__":
    main()
