"""``harness build NAME --recipe FILE``: data → sft → merge → convert → quantize → register.

    harness build tiny-react --recipe train/configs/tiny-cpu.yaml --levels f16,q8_0,q4_k_m
    harness build my-qwen --from-merged path/to/merged-hf-dir --levels q8_0,q4_k_m
    harness build my-qwen --from-gguf exported.f16.gguf --levels q4_k_m

Every level is registered as ``NAME:<level>`` (Ollama when it answers, else the local store)
with a Modelfile from ``modelfiles/``. Re-entrant: ``<build dir>/build.json`` records each
step's input hash and outputs (with sha256); a step whose inputs match its record and whose
outputs are intact is skipped. ``--force STEP`` redoes one step (and so everything after it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness._util.atomic import atomic_write_text, sha256_file
from harness._util.jsonfile import read_json
from harness._util.paths import recorded_path, relative_to_root
from harness.errors import HarnessError
from harness.serving.quant import FLOAT_LEVELS

STEPS = ("data", "sft", "merge", "convert", "quantize", "register")
BUILD_VERSION = 1

logger = logging.getLogger(__name__)


class BuildError(HarnessError):
    """A build cannot go on; the message says which step and why."""


@dataclass
class BuildPlan:
    name: str
    build_dir: Path
    recipe: Path | None = None
    from_merged: Path | None = None
    from_gguf: Path | None = None
    levels: list[str] = field(default_factory=lambda: ["f16", "q8_0", "q4_k_m"])
    data_suite: str | None = None
    """Suite the data step exports; default the recipe's data_suite, else synthetic-train."""
    modelfile: Path | None = None
    backend: str = "auto"
    force: set[str] = field(default_factory=set)


def check_build_name(name: str) -> None:
    """A build name is a model name without a tag (each level becomes ``NAME:<level>``)."""
    from harness.serving.store import canonical_name

    try:
        canonical_name(name)
    except HarnessError as e:
        raise BuildError(f"build {e}") from None
    if ":" in name:
        raise BuildError(
            f"invalid build name {name!r}: no ':tag' (each level is registered as {name.split(':')[0]}:<level>)"
        )


def _hash_json(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _dir_hash(path: Path) -> str:
    """sha256 over the files of a folder (names and contents)."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def _record(step: str, path: Path, build_dir: Path) -> str:
    """How build.json stores an output: the GGUFs (convert, quantize; always in the build's
    folder) relative to it, so the folder can move; the rest absolute. (Paths were once written
    relative to the working directory: :func:`recorded_path` still reads those.)"""
    return relative_to_root(path, build_dir) if step in ("convert", "quantize") else str(Path(path).resolve())


def _data_code_hash() -> str:
    """sha256 over the code that writes the training data: the world and its expert
    (``harness.world``), the ReAct messages (``harness.agent.protocol``) and the exporters. In the
    data step's inputs, so that a changed expert redoes the data, and the SFT after it when the
    data's bytes changed, instead of training on the old expert's trajectories."""
    import harness.agent.protocol
    import harness.world
    import train.dagger
    import train.data
    import train.data_edit

    h = hashlib.sha256()
    world = Path(harness.world.__file__).parent
    files = sorted(f for f in world.iterdir() if f.suffix in (".py", ".json"))
    code = (harness.agent.protocol, train.dagger, train.data, train.data_edit)
    for f in files + [Path(m.__file__) for m in code]:
        h.update(f.name.encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def _artifact_hash(path: Path) -> str:
    return _dir_hash(path) if path.is_dir() else sha256_file(path)


def _modelfile(spec: str) -> Path:
    """A Modelfile path, or the name of one shipped in ``modelfiles/`` (``smollm2-react``)."""
    from harness._util.resources import shipped_file

    path = Path(spec).expanduser()
    if path.is_file():
        return path
    if "/" in spec or spec.endswith(".Modelfile"):
        raise BuildError(f"modelfile {spec}: no such file")
    return shipped_file("modelfiles", f"{spec}.Modelfile")


class Builder:
    def __init__(self, plan: BuildPlan, log: Callable[[str], None] | None = None) -> None:
        self.plan = plan
        self.log = log or logger.info
        check_build_name(plan.name)  # before any folder is made
        self.dir = plan.build_dir
        self.state_file = self.dir / "build.json"
        self.state: dict[str, Any] = {"version": BUILD_VERSION, "name": plan.name, "steps": {}}
        if self.state_file.exists():
            self.state = read_json(
                self.state_file, "build record", BuildError, "delete it to rebuild from scratch"
            )
            if not isinstance(self.state.get("steps"), dict):
                raise BuildError(f"{self.state_file}: damaged build record (no steps); delete it to rebuild")
        self.forced = False
        self.recipe_modelfile: str | None = None
        self.roots: dict[str, Path] = {}
        """Where each step's outputs must lie (default: the build folder)."""

    # -- bookkeeping -------------------------------------------------------------------
    def _save(self) -> None:
        atomic_write_text(self.state_file, json.dumps(self.state, indent=2))

    def _fresh(self, step: str, inputs: str) -> dict | None:
        rec = self.state["steps"].get(step)
        if self.forced or step in self.plan.force or rec is None or rec.get("inputs") != inputs:
            return None
        root = self.roots.get(step, self.dir)
        for out in rec.get("outputs", []):
            p = recorded_path(out["path"], root, f"{self.state_file} ({step})")
            if not p.exists() or _artifact_hash(p) != out["sha256"]:
                return None
        return rec

    def run_step(self, step: str, inputs: Any, fn: Callable[[], list[Path]]) -> list[Path]:
        key = _hash_json(inputs)
        rec = self._fresh(step, key)
        if rec is not None:
            self.log(f"{step:9} skipped (inputs unchanged, outputs intact)")
            root = self.roots.get(step, self.dir)
            return [recorded_path(o["path"], root, f"{self.state_file} ({step})") for o in rec["outputs"]]
        if step in self.plan.force:
            self.forced = True  # everything after a forced step is redone
        t0 = time.perf_counter()
        outputs = fn()
        self.state["steps"][step] = {
            "inputs": key,
            "outputs": [{"path": _record(step, p, self.dir), "sha256": _artifact_hash(p)} for p in outputs],
            "seconds": round(time.perf_counter() - t0, 2),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        self._save()
        self.log(f"{step:9} done in {time.perf_counter() - t0:.1f} s")
        return outputs

    # -- the pipeline --------------------------------------------------------------------
    def run(self) -> list[dict]:
        """Run the pipeline; a build that fails before writing anything leaves no folder."""
        made = not self.dir.exists()
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            return self._run()
        except BaseException:
            if made and self.dir.is_dir() and not any(self.dir.iterdir()):
                self.dir.rmdir()
            raise

    def _run(self) -> list[dict]:
        p = self.plan
        gguf_float: Path | None = None
        if p.from_gguf is not None:
            if not p.from_gguf.exists():
                raise BuildError(f"--from-gguf {p.from_gguf}: no such file")
            gguf_float = p.from_gguf
        else:
            if p.from_merged is not None:
                merged = p.from_merged.resolve()
                # recorded so that `harness diagnose NAME` finds the checkpoint stage
                self.state["steps"]["merge"] = {
                    "inputs": "from-merged",
                    "outputs": [{"path": str(merged), "sha256": "external"}],
                }
                self._save()
            else:
                merged = self._train()
            if not (merged / "config.json").exists():
                raise BuildError(f"{merged} is not a Hugging Face checkpoint (no config.json)")
            gguf_float = self._convert(merged)
        ggufs = self._quantize(gguf_float)
        return self._register(ggufs)

    def _train(self) -> Path:
        from harness.bench.suites import load_suite
        from train.data import add_dagger, add_fill, export
        from train.data_edit import add_recoveries, add_slips, add_unnoted
        from train.recipe import load_recipe

        p = self.plan
        if p.recipe is None:
            raise BuildError("give --recipe FILE (or --from-merged DIR / --from-gguf FILE)")
        recipe = load_recipe(p.recipe)
        self.recipe_modelfile = recipe.modelfile
        data_dir = Path(recipe.dataset_dir)
        suite = p.data_suite or recipe.data_suite or "synthetic-train"
        self.roots.update(data=data_dir, sft=Path(recipe.output_dir).expanduser())

        def do_data() -> list[Path]:
            s = load_suite(suite)
            manifest = export(s, data_dir)
            if recipe.data_fill:
                manifest = add_fill(s, data_dir, manifest, recipe.data_fill)
            if recipe.data_slips:
                manifest = add_slips(s, data_dir, manifest, recipe.data_slips)
            if recipe.data_unnoted or recipe.data_unnoted_for:
                manifest = add_unnoted(
                    data_dir, manifest, recipe.data_unnoted, per_type=recipe.data_unnoted_for
                )
            if recipe.data_recoveries:
                manifest = add_recoveries(s, data_dir, manifest, recipe.data_recoveries)
            if recipe.data_dagger:
                add_dagger(
                    s,
                    data_dir,
                    manifest,
                    recipe.data_dagger,
                    recipe.data_dagger_per_episode,
                    recipe.data_dagger_claims,
                    recipe.data_fill,
                )
            return [data_dir / "react_train_sharegpt.json", data_dir / "react_test_sharegpt.json"]

        spec = {"suite": suite, "dir": str(data_dir), "code": _data_code_hash()}
        # "code": a changed expert redoes the data (and the SFT, when the data's bytes change);
        # the recipe's data keys go in only when set, so builds made before a key existed keep
        # their inputs
        if recipe.data_fill:
            spec["fill"] = recipe.data_fill
        if recipe.data_slips:
            spec["slips"] = recipe.data_slips
        if recipe.data_unnoted:
            spec["unnoted"] = recipe.data_unnoted
        if recipe.data_unnoted_for:
            spec["unnoted_for"] = recipe.data_unnoted_for
        if recipe.data_recoveries:
            spec["recoveries"] = recipe.data_recoveries
        if recipe.data_dagger:
            spec["dagger"] = [recipe.data_dagger, recipe.data_dagger_per_episode]
            if recipe.data_dagger_claims:
                spec["dagger_claims"] = True
        data_files = self.run_step("data", spec, do_data)
        data_hash = [_artifact_hash(f) for f in data_files]

        def do_sft() -> list[Path]:
            from train.sft import train_sft

            return [Path(train_sft(recipe, log=self.log))]

        # data_recoveries shapes the data, which data_hash already covers; leaving it out keeps
        # the sft inputs of builds made before the key existed unchanged
        data_keys = (
            "data_recoveries",
            "data_slips",
            "data_unnoted",
            "data_unnoted_for",
            "data_dagger",
            "data_dagger_per_episode",
            "data_fill",
            "data_dagger_claims",
        )
        # shared_prefix only changes the speed (the same loss and gradients): a build made
        # before the key existed keeps its sft step
        # type_weights when unset: left out, so that builds made before the key keep their sft step
        trained = {
            k: v
            for k, v in recipe.to_dict().items()
            if k not in (*data_keys, "shared_prefix") and not (k == "type_weights" and not v)
        }
        (adapter,) = self.run_step("sft", {"recipe": trained, "data": data_hash}, do_sft)
        merged_dir = self.dir / "merged"

        def do_merge() -> list[Path]:
            from train.merge import merge

            return [Path(merge(adapter, merged_dir))]

        (merged,) = self.run_step("merge", {"adapter": _artifact_hash(adapter)}, do_merge)
        return merged

    def _convert(self, merged: Path) -> Path:
        outtype = "f16"
        out = self.dir / "gguf" / f"{self.plan.name}.{outtype}.gguf"

        def do_convert() -> list[Path]:
            from train.convert import convert

            res = convert(merged, out, outtype, name=self.plan.name)
            self.log(res.line())
            return [Path(res.path)]

        (gguf,) = self.run_step("convert", {"merged": _artifact_hash(merged), "outtype": outtype}, do_convert)
        return gguf

    def _quantize(self, src: Path) -> dict[str, Path]:
        out: dict[str, Path] = {}
        quant_levels = [lv for lv in self.plan.levels if lv not in FLOAT_LEVELS]
        for lv in self.plan.levels:
            if lv in FLOAT_LEVELS:
                if not src.name.endswith(f".{lv}.gguf") and lv != "f16":
                    raise BuildError(f"level {lv}: only the converted float GGUF ({src.name}) is available")
                out[lv] = src
        if not quant_levels:
            return out
        src_hash = sha256_file(src)

        def do_quantize() -> list[Path]:
            from train.quantize import quantize

            paths = []
            for lv in quant_levels:
                res = quantize(src, lv, self.dir / "gguf" / f"{self.plan.name}.{lv}.gguf")
                self.log(res.line())
                paths.append(Path(res.path))
            return paths

        paths = self.run_step("quantize", {"src": src_hash, "levels": quant_levels}, do_quantize)
        out.update(dict(zip(quant_levels, paths, strict=True)))
        return out

    def _register(self, ggufs: dict[str, Path]) -> list[dict]:
        from harness.backends.catalog import register
        from harness.serving.modelfile import load

        mf_path = self.plan.modelfile or _modelfile(self.recipe_modelfile or "qwen2.5-react")
        t0 = time.perf_counter()
        results = []
        for lv, path in ggufs.items():
            name = f"{self.plan.name}:{lv}"
            mf = load(mf_path)
            mf.from_ = str(path)
            res = register(name, path, mf, backend=self.plan.backend)
            results.append({"name": res.name, "where": res.where, "status": res.status, "sha256": res.sha256})
            self.log(f"register  {res.name} → {res.where} ({res.status})")
        self.state["steps"]["register"] = {
            "models": results,
            "seconds": round(time.perf_counter() - t0, 2),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        self._save()
        return results
