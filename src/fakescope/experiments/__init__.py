"""Recipes that compose the library: the demo and the research studies."""
