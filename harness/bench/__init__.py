"""Benchmarking: scenario suites, the episode runner, traces and scoring."""
