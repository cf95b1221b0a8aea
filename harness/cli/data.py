"""``harness data``: export expert ReAct trajectories as LLaMA-Factory datasets.

The command lives beside the exporter in :mod:`train.data` (so ``python -m train.data`` runs it
without the train package importing the CLI)."""

from __future__ import annotations

from train.data import command as data

__all__ = ["data"]
