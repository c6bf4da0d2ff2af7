"""The maintained quote libraries on the quote corpus, for `bench/quotes.py` to compare.

Runs under another interpreter, one with the libraries installed (`bench/quotes.py` makes
it: `var/bench-quote-libraries/`), so none of them is a dependency of the help desk. Reads
JSON from stdin, `[{"id", "text", "html"}]` (the mail's plain-text part, or the text of its
HTML when it has none, and its HTML), and writes `{"versions": {...}, "results": {library:
{id: visible text, or null when it raised}}}` to stdout. Imports nothing of the project.

How each library is asked, as its documentation shows:

- talon (Mailgun): `quotations.extract_from_html` when the mail has HTML (its text then read
  as below), else `extract_from_plain`; "talon+signature" then takes off what
  `signature.bruteforce.extract_signature` finds (it counts a sign-off such as "Thanks,
  Tom" as a signature, which the help desk keeps visible).
- quotequail: `quote_html` / `quote`; the visible part is the chunks it marks expanded.
- mail-parser-reply: `EmailReplyParser(languages=<all it has>).read(text).latest_reply`.
- email-reply-parser (Zapier): `EmailReplyParser.parse_reply(text)`.
"""

from __future__ import annotations

import html as html_lib
import json
import re
import sys
import warnings
from collections.abc import Callable
from importlib import metadata
from typing import Any

_BLOCK_END = re.compile(r"</(p|div|tr|h[1-6]|li|blockquote|table)>|<br\s*/?>", re.IGNORECASE)


def html_text(markup: str) -> str:
    """Text of HTML for the libraries that answer HTML: block ends break lines."""
    text = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", markup)
    text = _BLOCK_END.sub("\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    return html_lib.unescape(text)


def talon_adapter(*, signature: bool) -> Callable[[str, str], str]:
    import talon  # type: ignore[import-not-found]
    from talon import quotations
    from talon.signature.bruteforce import extract_signature  # type: ignore[import-not-found]

    talon.init()

    def run(text: str, markup: str) -> str:
        if markup:
            visible = html_text(quotations.extract_from_html(markup))
        else:
            visible = quotations.extract_from_plain(text)
        if signature:
            visible, _signature = extract_signature(visible)
        return str(visible)

    return run


def quotequail_adapter() -> Callable[[str, str], str]:
    import quotequail  # type: ignore[import-not-found]

    def run(text: str, markup: str) -> str:
        if markup:
            return "\n".join(
                html_text(chunk) for shown, chunk in quotequail.quote_html(markup) if shown
            )
        return "\n".join(chunk for shown, chunk in quotequail.quote(text) if shown)

    return run


def mail_parser_reply_adapter() -> Callable[[str, str], str]:
    from mailparser_reply import EmailReplyParser  # type: ignore[import-not-found]
    from mailparser_reply.constants import MAIL_LANGUAGES  # type: ignore[import-not-found]

    languages = [code for code in MAIL_LANGUAGES if len(code) == 2]
    parser = EmailReplyParser(languages=languages)

    def run(text: str, markup: str) -> str:
        return str(parser.read(text=text).latest_reply or "")

    return run


def email_reply_parser_adapter() -> Callable[[str, str], str]:
    from email_reply_parser import EmailReplyParser  # type: ignore[import-not-found]

    def run(text: str, markup: str) -> str:
        return str(EmailReplyParser.parse_reply(text))

    return run


ADAPTERS: dict[str, tuple[str, Callable[[], Callable[[str, str], str]]]] = {
    "talon": ("talon", lambda: talon_adapter(signature=False)),
    "talon+signature": ("talon", lambda: talon_adapter(signature=True)),
    "quotequail": ("quotequail", quotequail_adapter),
    "mail-parser-reply": ("mail-parser-reply", mail_parser_reply_adapter),
    "email-reply-parser": ("email_reply_parser", email_reply_parser_adapter),
}


def main() -> int:
    warnings.simplefilter("ignore")  # html5lib's DataLossWarning on Outlook's namespaces
    samples = json.load(sys.stdin)
    versions: dict[str, str] = {}
    results: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    for name, (distribution, make) in ADAPTERS.items():
        try:
            adapter = make()
            versions[name] = metadata.version(distribution)
        except Exception as error:  # not installed, or its import fails on this Python
            errors[name] = f"{type(error).__name__}: {error}"
            continue
        answers: dict[str, Any] = {}
        for sample in samples:
            try:
                answers[sample["id"]] = adapter(sample["text"], sample["html"])
            except Exception:
                answers[sample["id"]] = None
        results[name] = answers
    json.dump({"versions": versions, "results": results, "errors": errors}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
