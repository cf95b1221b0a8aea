"""Model-level analysis shared by ``harness regress`` (quantization levels) and
``harness diagnose`` (pipeline stages): token-level divergence from full-vocabulary logits and
teacher-forced action agreement on gold ReAct trajectories."""
