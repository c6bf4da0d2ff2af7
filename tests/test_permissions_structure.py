"""One place for permissions: no code outside helpdesk/tenancy/permissions.py compares a
member's role, and templates ask `may.<capability>`, never the role."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from helpdesk.tenancy.models import MembershipRole
from helpdesk.tenancy.permissions import Capability

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ("helpdesk", "tickets", "departments", "knowledge_base", "automation")
# The table itself, and the definition of the roles (choices, check constraint).
EXEMPT = {"helpdesk/tenancy/permissions.py", "helpdesk/tenancy/models.py"}
ROLE_VALUES = set(MembershipRole.values)
ROLE_MEMBERS = set(MembershipRole.names)
QUERY_METHODS = {"filter", "exclude", "get", "get_or_create", "update_or_create"}
OLD_PROPERTIES = {"is_admin", "can_reply"}


def _is_role_value(node: ast.AST) -> bool:
    """`MembershipRole.ADMIN`, `"light_agent"`, or a list/set/tuple holding one."""
    if isinstance(node, ast.Attribute):
        return (
            isinstance(node.value, ast.Name)
            and node.value.id == "MembershipRole"
            and node.attr in ROLE_MEMBERS
        )
    if isinstance(node, ast.Constant):
        return node.value in ROLE_VALUES
    if isinstance(node, ast.List | ast.Set | ast.Tuple):
        return any(_is_role_value(element) for element in node.elts)
    return False


def _is_role_attribute(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "role"


def role_checks(source: str) -> list[str]:
    """The role checks in a module's source, as `line: code`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.expr):  # the checks below are all expressions
            continue
        why = None
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_is_role_value(o) for o in operands):
                why = "compares with a role"
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in {"roles", "role__in"} and _is_role_value(keyword.value):
                    why = f"{keyword.arg}= names roles"
                method = getattr(node.func, "attr", None)
                named_role = keyword.arg == "role" and _is_role_value(keyword.value)
                if named_role and method in QUERY_METHODS:
                    why = "queries by a named role"
        elif isinstance(node, ast.Attribute) and node.attr in OLD_PROPERTIES:
            why = f".{node.attr} (ask helpdesk.tenancy.permissions)"
        if why:
            found.append(f"{node.lineno}: {why}: {ast.unparse(node)[:80]}")
    return found


def test_the_detector_finds_each_kind_of_role_check() -> None:
    samples = [
        'if membership.role == "admin": pass',
        "if member.role != MembershipRole.ADMIN: pass",
        "allowed = member.role in {MembershipRole.ADMIN, MembershipRole.AGENT}",
        'ok = "light_agent" == role',
        "admins = list_members(roles=[MembershipRole.ADMIN])",
        "q = Membership.objects.filter(role=MembershipRole.ADMIN)",
        "q = Membership.objects.filter(role__in=[MembershipRole.ADMIN])",
        "if member.is_admin: pass",
        "if member.can_reply: pass",
    ]
    for sample in samples:
        assert role_checks(sample), sample
    allowed = [
        "add_member(tenant=tenant, user=user, role=MembershipRole.ADMIN)",  # giving a role
        "role = forms.ChoiceField(choices=MembershipRole.choices)",
        "if role not in MembershipRole.values: pass",
        "if permissions.can_manage_settings(member): pass",
        "q = Membership.objects.filter(role__in=permissions.roles_with(capability))",
    ]
    for sample in allowed:
        assert role_checks(sample) == [], sample


def test_no_role_is_compared_outside_the_permissions_module() -> None:
    offenders = []
    for package in SOURCE:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative or relative in EXEMPT:
                continue
            offenders += [f"{relative}:{hit}" for hit in role_checks(path.read_text())]
    assert offenders == []


TEMPLATE_ROLE_CHECK = re.compile(
    r"""\.role\s*(==|!=|\bin\b)"""  # membership.role == ...
    r"""|(==|!=)\s*["'](admin|agent|light_agent)["']"""  # ... == "admin"
    r"""|["'](admin|agent|light_agent)["']\s*(==|!=)"""
    r"""|\.(is_admin|can_reply)\b"""  # the model properties this module replaced
)
MAY = re.compile(r"\bmay\.(\w+)")


def _templates() -> list[Path]:
    return sorted(p for p in (ROOT / "templates").rglob("*") if p.suffix in {".html", ".txt"})


def test_templates_ask_may_and_never_the_role() -> None:
    offenders = []
    for path in _templates():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if TEMPLATE_ROLE_CHECK.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:80]}")
    assert offenders == []


def test_templates_name_only_capabilities_that_exist() -> None:
    # A misspelt flag would be silently false in a template: refuse it here.
    known = {capability.value for capability in Capability}
    unknown = []
    for path in _templates():
        for name in MAY.findall(path.read_text()):
            if name not in known:
                unknown.append(f"{path.relative_to(ROOT)}: may.{name}")
    assert unknown == []
    used = {name for path in _templates() for name in MAY.findall(path.read_text())}
    assert used, "the templates ask `may` somewhere"
