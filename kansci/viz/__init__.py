"""Figures (matplotlib, Agg-safe): PDE solutions, errors, training curves."""

from kansci.viz.pde import plot_error_vs_params, plot_losses, plot_solution

__all__ = ["plot_error_vs_params", "plot_losses", "plot_solution"]
