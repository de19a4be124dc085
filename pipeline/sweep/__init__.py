"""``prune sweep``: a grid of score tables × samplers × quotas × rates × seeds from one run, trained and
tabulated (:mod:`pipeline.sweep.run`; the grid and its TOML form: :mod:`pipeline.sweep.grid`)."""
