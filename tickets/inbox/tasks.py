"""Nothing here: the inbox has no background work. The module exists so every feature package
has the same shape (ARCHITECTURE.md)."""
