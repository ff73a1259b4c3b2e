"""Networks built from genotypes: cells, the N @ F network, counting params and mult-adds."""
