"""Genotypes as data: the decisions of a cell, the published cells, their diagrams."""
