"""The searcher contract: the ask/tell interface, its bookkeeping and its state on disk.

It sits below `nas.train` (the supernet loop asks and tells a searcher) and above `nas.results`
(a searcher is told `TrialResult`s); the implementations live in ``controllers/`` and register
themselves there, and `nas.search.searcher` builds them by name.
"""
