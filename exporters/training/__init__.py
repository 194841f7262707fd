"""Training: the ``train_*`` trainers (one per model family), K-SVD, palm feedback, liveness
cross-validation and augmentation; each runs as ``python -m biogate.exporters.training.<name>``."""
