"""The visual report of a test: panels per image, curves, per-defect results and a static report.html."""
