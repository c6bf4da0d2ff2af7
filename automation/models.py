"""Automation: rules, assignment, SLAs (tables arrive with their issues)."""
