"""Using a trained model: the ``Detector`` API, thresholds from normal images, prediction files, ONNX export."""

from gad.inference.detector import Detector, Prediction
from gad.inference.threshold import Threshold, threshold_at_fpr

__all__ = ["Detector", "Prediction", "Threshold", "threshold_at_fpr"]
