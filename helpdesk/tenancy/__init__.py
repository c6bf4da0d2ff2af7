"""Tenants, memberships, the tenant context, scoped managers and row-level security.

GLOBAL_MODELS lists the models that are not tenant-owned (no RLS). Every other model of
ours subclasses TenantModel, or (tickets.TicketSearch, keyed by its ticket) declares the
TenantRLS constraint itself; a structural test fails for a model in neither group.
"""

GLOBAL_MODELS = frozenset(
    {
        "tenancy.Tenant",
        "tenancy.TenantDomain",
        "tenancy.Membership",
        "tenancy.InboundAddress",
        "accounts.User",
        "accounts.ApiToken",
        "accounts.TwoFactorDevice",
        "accounts.RecoveryCode",
        "tickets.UnroutedEmail",
    }
)
