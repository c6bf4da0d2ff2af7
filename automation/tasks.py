"""Automation background work."""
