"""``prune score``: per-sample scores from a recorded run.

``pipeline.score`` is also the public function :func:`pipeline.api.functions.score`:
``from pipeline import score; score("runs/default", "tdds")`` calls it (the
package shares its name with the function, so the module itself is callable).
"""

import sys as _sys
import types as _types


class _CallableModule(_types.ModuleType):
    def __call__(self, *args, **kwargs):
        from pipeline.api.functions import score

        return score(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule


def __getattr__(name: str):
    # help() and inspect.signature() of the callable package show the function's
    if name == "__signature__":
        import inspect

        from pipeline.api.functions import score as fn

        return inspect.signature(fn)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
