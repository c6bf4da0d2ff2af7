"""Reading pieces of the pages the test client gets back."""

from __future__ import annotations

import re

from django.test import Client

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def element(page: str, element_id: str) -> str:
    """The element with this id, from its start tag to its end tag (nested elements of the
    same name counted), CSRF tokens blanked (they are masked anew for every render)."""
    at = page.index(f'id="{element_id}"')
    start = page.rindex("<", 0, at)
    tag = re.match(r"<(\w+)", page[start:])
    assert tag is not None, f"#{element_id} is not inside a start tag"
    depth = 0
    for match in re.finditer(rf"<(/?){tag[1]}\b[^>]*>", page[start:]):
        depth += -1 if match[1] else 1
        if depth == 0:
            return _CSRF.sub("", page[start : start + match.end()])
    raise AssertionError(f"#{element_id} has no end tag")


def sidebar_panel(client: Client, number: int, element_id: str) -> str:
    """A panel of the ticket sidebar as the ticket page draws it, checked to be the same
    as the sidebar refresh (`?fragment=sidebar`) draws it."""
    whole = client.get(f"/tickets/{number}/")
    assert whole.status_code == 200
    refreshed = client.get(f"/tickets/{number}/?fragment=sidebar", HTTP_HX_REQUEST="true")
    assert refreshed.status_code == 200
    panel = element(whole.content.decode(), element_id)
    assert element(refreshed.content.decode(), element_id) == panel, "the refresh differs"
    return panel
