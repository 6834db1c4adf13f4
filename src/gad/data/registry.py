"""Every dataset gad knows, registered once: one ``DatasetSpec`` per line, declared in the dataset's own file.

``gad data list | check | prepare``, the converters' manifests, ``gad.data.sources.<Reader>`` and the "this folder
looks like ..." hints all read this registry. Adding a dataset: write its file (reader or converter, with its
``SPEC``) and add one line below (see docs/datasets.md, "Adding a dataset").
"""

from __future__ import annotations

from collections.abc import Iterator

from gad.data.converters import aitex, brainmri, cifar10, elpv, headct, kolektor, mnist
from gad.data.sources import brats, btad, folder, meta_json, mpdd, mvtec, mvtec3d, quickstart, resc, visa
from gad.data.sources.spec import DatasetSpec


class DatasetRegistry:
    """Specs by name, in the order ``gad data list`` shows them (and layouts are recognised in)."""

    def __init__(self, specs: list[DatasetSpec]) -> None:
        self.specs: tuple[DatasetSpec, ...] = ()
        for spec in specs:
            self.register(spec)

    def register(self, spec: DatasetSpec) -> None:
        """Add a dataset (e.g. one of your own package); its name and reader class name must be new."""
        if any(s.name == spec.name for s in self.specs):
            raise ValueError(f"dataset {spec.name!r} is registered twice")
        if any(s.reader.__name__ == spec.reader.__name__ for s in self.specs if s.reader is not spec.reader):
            raise ValueError(f"dataset {spec.name}: another reader is named {spec.reader.__name__}")
        self.specs = (*self.specs, spec)

    def __iter__(self) -> Iterator[DatasetSpec]:
        return iter(self.specs)

    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    def find(self, name: str) -> DatasetSpec | None:
        return next((s for s in self.specs if s.name == name), None)

    def __getitem__(self, name: str) -> DatasetSpec:
        spec = self.find(name)
        if spec is None:
            raise KeyError(f"unknown dataset {name!r}; known: {self.names()}")
        return spec

    def with_signatures(self) -> list[DatasetSpec]:
        """Datasets with a layout signature, the specific ones first (the first match is reported)."""
        signed = [s for s in self.specs if s.signature is not None]
        return sorted(signed, key=lambda s: bool(s.signature and s.signature.generic))


DATASETS = DatasetRegistry(
    [
        mvtec.SPEC,
        visa.SPEC,
        mpdd.SPEC,
        mvtec3d.SPEC,
        btad.SPEC,
        resc.SPEC,
        brats.SPEC,
        kolektor.SPEC,
        aitex.SPEC,
        elpv.SPEC,
        brainmri.SPEC,
        headct.SPEC,
        mnist.SPEC,
        cifar10.SPEC,
        meta_json.SPEC,
        folder.SPEC,
        mvtec.LAYOUT_SPEC,
        quickstart.SPEC,
    ]
)
