"""Seeing what the engine does: computation graphs (graphviz) and pictures of trained models (matplotlib)."""
from .graph import draw_graph, save, save_svg
from .page import save_html
from .plots import have_matplotlib, plot_confusion, plot_curves, plot_feature_maps, plot_filters

__all__ = ["draw_graph", "have_matplotlib", "plot_confusion", "plot_curves", "plot_feature_maps", "plot_filters",
           "save", "save_html", "save_svg"]
