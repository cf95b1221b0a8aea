"""Regression per quantization level: episodes, paired statistics, agreement, divergence,
gates and reports (``harness regress``)."""
