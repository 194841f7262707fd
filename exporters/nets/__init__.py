"""PyTorch network definitions, one module per seed/model family."""
