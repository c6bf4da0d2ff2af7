"""API infrastructure: base view, authentication, pagination, one error envelope."""
