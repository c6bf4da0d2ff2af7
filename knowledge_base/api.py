"""Nothing here yet; the module exists so every app has the same shape (ARCHITECTURE.md)."""
