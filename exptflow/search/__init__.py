"""Adaptive search (``exptflow tune``): trials chosen by Optuna from the results so far."""
