"""Workshops: checkpoints, the offline bundle, JupyterLab, measured notebook times."""
