"""One module per trainable model; each registers a TrainerSpec (see ..trainers)."""
