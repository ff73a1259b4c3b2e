"""Search spaces: a space turns a list of categorical choices into a genotype."""

from __future__ import annotations

from search_spaces.nasnet import SPACES, Decision, NasnetSpace, get_space

__all__ = ["SPACES", "Decision", "NasnetSpace", "get_space"]
