"""``prune score``: the stage. The package is also the public function
:func:`pipeline.api.functions.score` (``from pipeline import score``), see :mod:`pipeline._callable`."""

from pipeline._callable import make_callable

make_callable(__name__, "pipeline.api.functions:score")
