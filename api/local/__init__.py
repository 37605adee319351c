"""GGUF models run in-process: their files, the loaded-model pool, generation."""
