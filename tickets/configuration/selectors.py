"""Nothing here: the reads of ticket settings sit in services.py beside the cache that their
writes clear. The module exists so every feature package has the same shape (ARCHITECTURE.md)."""
