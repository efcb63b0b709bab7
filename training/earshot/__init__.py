"""Earshot training recipe: features, model, losses, quantization and the GGUF exporter."""
