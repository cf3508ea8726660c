"""Figures and widgets for the notebooks: plain data in, a matplotlib Figure (or a panel) out."""
