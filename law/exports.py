"""Lazy re-exports for package ``__init__`` files (PEP 562): a name's module loads on first use.

``import perflaw`` and ``perflaw plan`` must stay fast, so no package imports its heavy modules
(scipy, pandas, matplotlib, optuna) until a name from them is asked for.
"""

from __future__ import annotations

from importlib import import_module


def lazy_exports(package: str, exports: dict[str, tuple[str, ...]]):
    """``(__getattr__, __dir__, __all__)`` for ``package`` from ``{module: names}`` (modules absolute);
    ``__dir__`` lists the lazy names too, so tab completion offers them."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(where[name]), name)

    def __dir__():
        import sys
        return sorted(set(where) | set(vars(sys.modules[package])))

    return __getattr__, __dir__, sorted(where)
