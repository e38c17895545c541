"""Figures (matplotlib, Agg-safe): KAN diagrams, PDE solutions, errors, training curves."""

from kansci.viz.network import plot, plot_history
from kansci.viz.pde import plot_error_vs_params, plot_losses, plot_solution

__all__ = ["plot", "plot_error_vs_params", "plot_history", "plot_losses", "plot_solution"]
