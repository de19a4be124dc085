"""``prune rounds``: active learning and iterative pruning in rounds (DRoP's ``--strategy 0/1``, ``--iterations``),
each round a recorded query run, a score table and a manifest (:mod:`pipeline.rounds.run`)."""
