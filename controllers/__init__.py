"""Searchers (controllers) behind the ask/tell interface of `nas.search.searcher`.

``rnn_reinforce`` (the NASNet RNN controller, torch), ``optuna_searchers`` (TPE and random search,
optuna) and ``evolution`` (regularized evolution, numpy). Nothing is re-exported here: the registry in
`nas.search.searcher` imports each module on first use, so picking one searcher never loads the others'
dependencies.
"""
