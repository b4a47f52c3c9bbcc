"""Uncertainty: stochastic predictions (samples ``(T, N, C)``), decomposition, maps, attribution."""
