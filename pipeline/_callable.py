"""Stage packages that are also the public functions of the same name.

``from pipeline import score`` gives the package ``pipeline.score`` (Python
imports a subpackage over any attribute of that name), so the package itself
is made callable: ``score(run, "tdds")`` runs :func:`pipeline.api.functions.score`,
and ``help()``/``inspect.signature()`` show that function's.
"""

from __future__ import annotations

import importlib
import sys
import types


def _target(module: types.ModuleType):
    mod, _, fn = module.__dict__["__api__"].partition(":")
    return getattr(importlib.import_module(mod), fn)


class CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return _target(self)(*args, **kwargs)

    @property
    def __signature__(self):
        import inspect

        return inspect.signature(_target(self))


def make_callable(name: str, api: str) -> None:
    """Make the package ``name`` call ``api`` ("module:function") when called."""
    module = sys.modules[name]
    module.__dict__["__api__"] = api
    module.__class__ = CallablePackage
