"""Platform-staff tools: tenant provisioning, the platform area, demo data, the dev runner.

The one place (with management commands) allowed to read across tenants.
"""
