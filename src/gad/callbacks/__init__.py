"""Lightning callbacks of gad."""

from gad.callbacks.prediction_writer import PredictionWriter
from gad.callbacks.results_writer import ResultsWriter

__all__ = ["PredictionWriter", "ResultsWriter"]
