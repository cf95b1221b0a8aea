"""Regression gates: the gate names, what each measures, and the gates file (regress/gates.yaml)
as a pydantic model read through the project's one YAML loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness._util.yamlfile import load_model, validation_line
from harness.errors import HarnessError

# gate key -> (metric, "max" | "min", what it measures, format)
GATES: dict[str, tuple[str, str, str, str]] = {
    "max_success_drop_pt": ("success_drop_pt", "max", "success drop vs the baseline (points)", "{:.1f} pt"),
    "max_progress_drop_pt": ("progress_drop_pt", "max", "progress drop vs the baseline (points)", "{:.1f} pt"),
    "min_success": ("success_rate", "min", "success rate", "{:.1%}"),
    "min_p_value": ("p_value", "min", "exact McNemar p-value vs the baseline", "{:.3g}"),
    "max_invalid_rate": ("invalid_rate", "max", "invalid-command rate", "{:.1%}"),
    "min_agreement": ("agreement_baseline", "min", "teacher-forced action agreement with the baseline", "{:.1%}"),
    "min_expert_agreement": ("agreement_expert", "min", "teacher-forced action agreement with the expert", "{:.1%}"),
    "min_exact_agreement": ("exact_agreement", "min", "replies identical to the baseline's (teacher-forced)", "{:.1%}"),
    "max_mean_kld": ("mean_kld", "max", "mean KL divergence from the baseline", "{:.5f}"),
    "max_p99_kld": ("p99_kld", "max", "99th percentile KL divergence", "{:.5f}"),
    "min_same_top1": ("same_top1", "min", "same top-1 token as the baseline", "{:.1%}"),
    "max_ppl_ratio": ("ppl_ratio", "max", "perplexity ratio vs the baseline", "{:.4f}"),
}  # fmt: skip
FRACTIONS = {"min_success", "max_invalid_rate", "min_agreement", "min_expert_agreement", "min_exact_agreement",
             "min_same_top1", "min_p_value"}  # fmt: skip
PHASE_METRICS = {
    "episodes": {"success_drop_pt", "progress_drop_pt", "success_rate", "p_value", "invalid_rate"},
    "agreement": {"agreement_baseline", "agreement_expert", "exact_agreement"},
    "divergence": {"mean_kld", "p99_kld", "same_top1", "ppl_ratio"},
}
"""The metrics each phase of ``harness regress`` measures (for ``--skip PHASE``)."""


class Gates(dict[str, dict[str, float]]):
    """Thresholds by level, plus ``optional``: the gates whose metric may be missing."""

    optional: frozenset[str] = frozenset()


class GatesError(HarnessError, ValueError):
    """A gates file is missing or invalid."""


class GatesFailed(HarnessError):
    """At least one gate failed (the reports are written)."""

    exit_code = 3


class GatesFile(BaseModel):
    """A gates file (regress/gates.yaml): ``version: 1``, ``optional: [gate, …]`` and
    ``levels: {level: {gate: threshold}}``."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    optional: list[str] = Field(default_factory=list)
    levels: dict[str, dict[str, Any]]

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("levels"), dict):
            raise ValueError("expected a mapping with 'levels:' (level → gates); see regress/gates.yaml")
        return data

    @field_validator("version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != 1:
            raise ValueError(f"version {v} is not supported (use version: 1)")
        return v

    @field_validator("optional")
    @classmethod
    def _optional(cls, v: list[str]) -> list[str]:
        if bad := [g for g in v if g not in GATES]:
            raise ValueError(f"unknown gate(s) {', '.join(map(str, bad))} (known: {', '.join(GATES)})")
        return v

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for level, gates in v.items():
            for key, value in gates.items():
                if key not in GATES:
                    raise ValueError(f"{level}: unknown gate {key!r} (known: {', '.join(GATES)})")
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{level}: {key} must be a number, not {value!r}")
                if key in FRACTIONS and not 0 <= value <= 1:
                    raise ValueError(f"{level}: {key} is a fraction in [0, 1] (write 0.9 for 90 %)")
        return {str(lv): {k: float(x) for k, x in g.items()} for lv, g in v.items()}

    def gates(self) -> Gates:
        out = Gates(self.levels)
        out.optional = frozenset(self.optional)
        return out


def parse_gates(data: Any, source: str = "gates", text: str | None = None) -> Gates:
    """Validate a gates mapping (``{"version": 1, "levels": {level: {gate: threshold}}}``)."""
    try:
        return GatesFile.model_validate(data).gates()
    except ValidationError as e:
        raise GatesError(validation_line(e, source, text)) from None


def load_gates(path: str | Path) -> Gates:
    return load_model(path, GatesFile, "the gates file", GatesError).gates()


def gates_for(gates: Gates, label: str, model: str) -> dict[str, float]:
    for key in (label, model, "default"):
        if key in gates:
            return gates[key]
    return {}
