"""Lightning callbacks of gad."""

from gad.callbacks.results_writer import ResultsWriter

__all__ = ["ResultsWriter"]
