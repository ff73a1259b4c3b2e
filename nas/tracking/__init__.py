"""Experiment tracking behind one interface; W&B is imported by its adapter alone."""
