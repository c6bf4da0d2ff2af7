"""A real OpenID Connect provider for the single sign-on tests: django-oauth-toolkit with
OIDC on, in a Django project of its own (SQLite), started as a subprocess on loopback by
tests/accounts/test_sso_sign_in.py. Nothing of the help desk is imported here."""
