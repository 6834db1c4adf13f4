"""Models by their class name alone (``--model PatchResidual``), wherever a class path is accepted.

jsonargparse resolves a bare class name among the imported subclasses of ``FewShotAnomalyModule``, so every package
under ``gad.models`` is imported first: a new method folder is found without being listed anywhere.
"""

from __future__ import annotations

import pkgutil
from importlib import import_module

import gad.models


def import_model_packages() -> list[str]:
    """Import every subpackage of ``gad.models`` (each exports its LightningModule); their names."""
    names = [info.name for info in pkgutil.iter_modules(gad.models.__path__, "gad.models.") if info.ispkg]
    for name in names:
        import_module(name)
    return names
