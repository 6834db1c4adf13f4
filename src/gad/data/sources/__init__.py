"""Readers that turn a dataset on disk into a samples table (one row per image)."""

from gad.data.sources.base import SAMPLE_COLUMNS, DataLayoutError, SampleSource
from gad.data.sources.mvtec import MVTecLayout
from gad.data.sources.quickstart import QuickstartData

__all__ = ["SAMPLE_COLUMNS", "DataLayoutError", "MVTecLayout", "QuickstartData", "SampleSource"]
