"""Forms of tasks: none; the pages read their few fields by hand (views.py)."""
