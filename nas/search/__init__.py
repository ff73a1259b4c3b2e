"""Orchestration: the searcher interface and registry, the Ray Tune adapter, the runner, jobs."""
