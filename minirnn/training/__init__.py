"""Training a character model: text and batches (data), optimizers and schedules (optim),
checkpoints (checkpoint), the training loop (trainer) and sampling (sample)."""
