"""Robustness: gradient attacks (FGSM, PGD) and benign perturbations, swept against strength."""
