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

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from harness._util.cli import run_command

# The quantizer itself lives in harness.serving.quant (register --quantize runs it too).
from harness.serving.quant import LEVELS as LEVELS
from harness.serving.quant import QuantizeError as QuantizeError
from harness.serving.quant import QuantResult as QuantResult
from harness.serving.quant import parse_levels as parse_levels
from harness.serving.quant import quantize as quantize
from harness.serving.quant import tensor_table as tensor_table

DEFAULT_LEVELS = "q8_0,q6_k,q5_k_m,q5_k_s,q5_0,q4_k_m,q4_k_s,q4_0,q3_k_m,q3_k_s,q2_k"
SOURCE_SUFFIXES = (".f32", ".f16", ".bf16")


def output_path(src: Path, level: str, out_dir: Path) -> Path:
    """``out_dir/<name>.<level>.gguf`` for ``<name>.f16.gguf``."""
    stem = src.name.removesuffix(".gguf")
    for suffix in SOURCE_SUFFIXES:
        stem = stem.removesuffix(suffix)
    return out_dir / f"{stem}.{level}.gguf"


def quantize_all(
    src: str | Path, levels: list[str], out_dir: str | Path, *, nthread: int | None = None
) -> Iterator[QuantResult]:
    """Quantize ``src`` to each level in turn, yielding each result as it lands."""
    src, out_dir = Path(src), Path(out_dir)
    for level in levels:
        yield quantize(src, level, output_path(src, level, out_dir), nthread=nthread)


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
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    chosen = parse_levels(levels)
    # llama.cpp's fd 2 is redirected while it runs: the bar draws on a copy of the real stderr.
    with os.fdopen(os.dup(2), "w") as stream:
        console = Console(file=stream, stderr=True)
        above_bar = console.is_terminal and sys.stdout.isatty()  # result lines print above the bar
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      console=console, transient=True, redirect_stdout=False, redirect_stderr=False) as bar:  # fmt: skip
            task = bar.add_task("quantize", total=len(chosen))
            for level in chosen:
                bar.update(task, description=f"quantize {level}")
                line = quantize(src, level, output_path(src, level, out_dir), nthread=threads).line()
                bar.advance(task)
                console.print(line, markup=False, highlight=False) if above_bar else click.echo(line)


def main(argv: list[str] | None = None) -> None:
    run_command(command, argv, "python -m train.quantize")


if __name__ == "__main__":
    main()
