"""Shared infrastructure: ids, base models, errors, settings helpers. No business rules."""
