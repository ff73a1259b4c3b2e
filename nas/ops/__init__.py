"""The primitives a genotype names: the NASNet ops and the landmark-CNN blocks, in one registry."""
