"""Agent pages of the tickets app, one module per area."""
