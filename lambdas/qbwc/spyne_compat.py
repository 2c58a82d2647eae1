"""Make spyne 2.14.0 (the last PyPI release) importable on Python 3.12 and 3.13.

spyne ships its own copy of six whose ``spyne.util.six.moves`` importer implements only the
PEP 302 ``find_module``/``load_module`` pair, which Python 3.12 stopped calling. This module adds a
``find_spec`` finder in front of it that hands those names to the bundled importer. On 3.13 the
removed ``cgi`` module comes from the ``legacy-cgi`` distribution (a declared dependency).

Import this module before anything imports spyne; ``lambdas.qbwc.soap_service`` does.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

_PREFIX = "spyne.util.six.moves"


class _BundledSixLoader(importlib.abc.Loader):
    """Loads ``spyne.util.six.moves*`` through the importer spyne's six registered."""

    def __init__(self, importer: object) -> None:
        self._importer = importer

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self._importer.load_module(spec.name)  # type: ignore[attr-defined]

    def exec_module(self, module: ModuleType) -> None:
        # The bundled importer returns a fully built module; nothing left to execute.
        return None


class _BundledSixFinder(importlib.abc.MetaPathFinder):
    """Answers ``find_spec`` for the names the bundled six knows about."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_PREFIX):
            return None
        six = sys.modules.get("spyne.util.six")
        importer = getattr(six, "_importer", None)
        if importer is None or hasattr(importer, "find_spec"):
            return None
        if fullname not in getattr(importer, "known_modules", {}):
            return None
        return importlib.machinery.ModuleSpec(fullname, _BundledSixLoader(importer))


def install() -> None:
    """Register the finder once; a no-op on Python 3.11, where the legacy protocol still works."""
    if sys.version_info < (3, 12):
        return
    if not any(isinstance(f, _BundledSixFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _BundledSixFinder())


install()
