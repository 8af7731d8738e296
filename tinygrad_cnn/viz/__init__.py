"""Seeing what the engine does: computation graphs (graphviz) and pictures of trained models (matplotlib)."""
from .plots import have_matplotlib, plot_confusion, plot_curves, plot_feature_maps, plot_filters

__all__ = ["have_matplotlib", "plot_confusion", "plot_curves", "plot_feature_maps", "plot_filters"]
