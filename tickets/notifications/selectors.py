"""Nothing here: notifications reads through services.py today. The module exists so every
feature package has the same shape (ARCHITECTURE.md)."""
