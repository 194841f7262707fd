"""biogate.exporters — the training side: torch nets, training, and export to model bundles.

This package may import torch; the device SDK (``biogate``) never does.
"""
