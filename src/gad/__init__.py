"""gad: generalist few-shot visual anomaly detection (DictAS, InCTRL) on PyTorch Lightning and open_clip."""

__version__ = "0.1.0"
