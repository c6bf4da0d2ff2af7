"""The tickets API (/api/v1/), one module per area."""
