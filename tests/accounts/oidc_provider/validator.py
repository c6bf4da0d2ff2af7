"""ID tokens carry the user's email and whether it is verified (the `verified` group)."""

from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator


class EmailValidator(OAuth2Validator):  # type: ignore[misc]
    oidc_claim_scope = None  # every claim below, whatever the scopes

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        user = request.user
        return {
            "email": user.email,
            "email_verified": user.groups.filter(name="verified").exists(),
        }
