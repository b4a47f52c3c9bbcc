"""Metrics: pure functions on arrays (detection, calibration, fairness, separability, video)."""
