"""The Python API for using a trained model: ``from gad.api import Detector`` (see ``gad.inference``)."""

from gad.inference import Detector, Prediction, Threshold

__all__ = ["Detector", "Prediction", "Threshold"]
