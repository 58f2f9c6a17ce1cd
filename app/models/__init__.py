"""Model names, the on-disk store, GGUF metadata and the manager facade."""
