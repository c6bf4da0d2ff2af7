"""Request parsers: DRF's, with a malformed body always a 400 in the error envelope."""

from __future__ import annotations

import re
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# JSON may escape half of a UTF-16 pair ("\ud800") on its own: Python keeps it as a lone
# surrogate, which no UTF-8 text can hold (PostgreSQL, the JSON of the answer).
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONParser(parsers.JSONParser):
    """DRF's parser turns a ValueError into a 400 but lets RecursionError (JSON nested some
    thousand levels deep) through as a 500, and lone surrogates through to wherever they
    are stored or echoed (a 500 there)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        if _has_lone_surrogate(data):
            raise ParseError(
                "JSON parse error - a string holds half of a UTF-16 surrogate pair"
                " (\\ud800-\\udfff on its own), which is not text."
            )
        return data


def _has_lone_surrogate(data: Any) -> bool:
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _LONE_SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
