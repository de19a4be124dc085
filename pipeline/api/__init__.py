"""The public Python API: what `from pipeline import ...` gives (see pipeline/__init__.py).

Importing it registers what only this layer can build: the ``SCORE+SAMPLER``
dynamic rules (:mod:`pipeline.api.composite`), which need both the score and
the select stage. So every use of the API (``pipeline.train(dynamic="tdds+ccs")``,
``DynamicSampler("aum+ccs", ...)``, a sweep) knows them, whatever was imported before.
"""

from pipeline.api import composite  # noqa: F401 - registers the SCORE+SAMPLER family of dynamic rules
