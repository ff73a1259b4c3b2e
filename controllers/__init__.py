"""The built-in searchers (controllers), each behind the ask/tell contract of `nas.searcher.base`.

``rnn_reinforce`` (the NASNet/ENAS RNN controller, torch), ``tpe`` (TPE, optuna),
``random_search`` (numpy) and ``evolution`` (regularized evolution, numpy). Each registers itself with
`nas.searcher.base.register_searcher` where it is defined; `BUILT_IN` only says which module holds
which name, so `nas.search.searcher` imports just the one a search picks and picking ``random`` never
loads torch or optuna. Controllers import the contract and never `nas.search` (tests/test_layers.py).
"""

BUILT_IN = {
    "rl": "controllers.rnn_reinforce",
    "tpe": "controllers.tpe",
    "random": "controllers.random_search",
    "evolution": "controllers.evolution",
}
"""Searcher name -> the module that registers it."""
