"""Find the pipeline stage where a model loses quality (``harness diagnose``): stages,
measurements, likely-cause rules and the report."""
