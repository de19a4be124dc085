"""``prune select``: a score table + a sampler (+ a class quota) → a manifest of kept sample ids.

``pipeline.select`` is also the public function :func:`pipeline.api.functions.select`:
``from pipeline import select; select(scores, 0.3, method="ccs")`` calls it (the
package shares its name with the function, so the module itself is callable).
"""

import sys as _sys
import types as _types


class _CallableModule(_types.ModuleType):
    def __call__(self, *args, **kwargs):
        from pipeline.api.functions import select

        return select(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule


def __getattr__(name: str):
    # help() and inspect.signature() of the callable package show the function's
    if name == "__signature__":
        import inspect

        from pipeline.api.functions import select as fn

        return inspect.signature(fn)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
