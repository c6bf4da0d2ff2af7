"""Departments have no background work yet."""
