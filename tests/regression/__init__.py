"""Quantization gates as pytest tests for your own CI (see test_gates.py); skipped unless
HARNESS_REGRESS_MODEL names a model whose levels are registered."""
