# ruff: noqa: RUF001 - mail in Japanese and Chinese, fullwidth colons included
"""Quote and signature separation (tickets/mail_in/quotes.py) on the corpus of real client
formats in tests/fixtures/quotes, and its rules one by one.

Each corpus sample is a mail as its client writes it (`<client>/<language>-<case>.eml`) with
the text an agent should see first (`.txt`); it goes through `parse_email` and `separate`
as the inbound pipeline runs them. `make bench` (bench/quotes.py) reports the same corpus
per client and compares the maintained libraries.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickets.mail_in import html as html_tools
from tickets.mail_in.parsing import parse_email
from tickets.mail_in.quotes import Separation, separate

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "quotes"
SAMPLES = sorted(CORPUS.glob("*/*.eml"))
CLIENTS = {"gmail", "apple", "outlook", "owa", "thunderbird", "yahoo", "yandex", "mailru", "plain"}
LANGUAGES = {"en", "de", "fr", "es", "it", "nl", "pl", "pt", "sv", "ru", "ja", "zh"}
# Samples kept to show a limit: the test fails when one of them starts to pass, so that the
# expectation moves with the code.
KNOWN_LIMITS = {
    "outlook/en-inline-colour": (
        "answers typed in colour into an Outlook quote have no mark around them: they stay"
        " collapsed with the quote"
    ),
}
_URL = re.compile(r"(?:https?://|mailto:|www\.)\S+|<[^<>\s]+@[^<>\s]+>|[\w.+-]+@[\w.-]+")


def sample_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def normalize(text: str) -> str:
    """Lines with runs of spaces made one, runs of blank lines made one, ends trimmed."""
    lines: list[str] = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if not line and (not lines or not lines[-1]):
            continue
        lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def words(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", _URL.sub(" ", text).lower()))


def separated(path: Path) -> tuple[Separation, str]:
    """The sample's separation, and the text it was made from (plain part or HTML's text)."""
    parsed = parse_email(path.read_bytes())
    result = separate(parsed.text, parsed.html)
    source = parsed.text if result.source == "plain" else html_tools.html_to_text(parsed.html)
    return result, source


def test_corpus_covers_every_client_family_and_language() -> None:
    by_client = Counter(path.parent.name for path in SAMPLES)
    assert set(by_client) == CLIENTS
    assert all(count >= 8 for count in by_client.values()), by_client
    assert {path.stem.split("-", 1)[0] for path in SAMPLES} == LANGUAGES
    for path in SAMPLES:
        assert path.with_suffix(".txt").read_text(encoding="utf-8").strip(), path
    assert set(KNOWN_LIMITS) <= {sample_id(path) for path in SAMPLES}


@pytest.mark.parametrize("path", SAMPLES, ids=sample_id)
def test_sample_shows_the_expected_new_part(path: Path) -> None:
    result, _ = separated(path)
    expected = normalize(path.with_suffix(".txt").read_text(encoding="utf-8"))
    if sample_id(path) in KNOWN_LIMITS:
        assert normalize(result.visible) != expected, "fixed: drop it from KNOWN_LIMITS"
        return
    assert normalize(result.visible) == expected


@pytest.mark.parametrize("path", SAMPLES, ids=sample_id)
def test_sample_loses_no_word(path: Path) -> None:
    result, source = separated(path)
    assert words(result.visible) + words(result.quoted) == words(source)


def test_corpus_accuracy_meets_the_target() -> None:
    right = 0
    for path in SAMPLES:
        result, _ = separated(path)
        expected = path.with_suffix(".txt").read_text(encoding="utf-8")
        right += normalize(result.visible) == normalize(expected)
    assert right / len(SAMPLES) >= 0.95


# --------------------------------------------------------------------------- the rules


def test_inline_answers_stay_under_their_questions() -> None:
    text = "\n".join(
        [
            "Hi Ana,",
            "",
            "On Tue, 4 Mar 2025 at 10:00, Acme Support <support@acme.test> wrote:",
            "> Which order is it?",
            "",
            "Order 4411.",
            "",
            "> Which browser do you use?",
            "",
            "Firefox 128.",
            "",
            "> Best regards,",
            "> Ana",
            "",
            "-- ",
            "Tom",
        ]
    )
    result = separate(text)
    assert result.inline
    assert result.visible.splitlines() == text.splitlines()[:10]
    assert result.quoted == "> Best regards,\n> Ana\n\n-- \nTom"


def test_html_inline_answers_are_written_as_quote_lines() -> None:
    html = (
        '<div class="moz-cite-prefix">On 05/03/2025 17:40, Acme Support wrote:<br></div>'
        '<blockquote type="cite">Which browser?</blockquote><p>Firefox 128.</p>'
        '<blockquote type="cite">Best regards,<br>Ana</blockquote>'
    )
    result = separate("", html)
    assert result.inline
    assert result.visible == (
        "On 05/03/2025 17:40, Acme Support wrote:\n> Which browser?\nFirefox 128."
    )
    assert result.quoted == "> Best regards,\n> Ana"


def test_a_mail_that_is_all_quote_is_shown_whole() -> None:
    text = "On 05/03/2025 17:40, Acme Support wrote:\n> Please restart the app."
    assert separate(text) == Separation(visible=text, quoted="")


@pytest.mark.parametrize(
    "text",
    [
        "From: the settings page the button is gone.\nTo: be honest it worked before.",
        "Am Montag schrieb ich Ihnen bereits:\nder Export bricht ab.",
        "On Monday I wrote:\nthe export fails.",
        "Ошибка 05.03.2025 в 17:40, адрес ivan@example.ru:\nэкспорт падает.",
        "Totals\n" + "-" * 30 + "\nA  2\n" + "-" * 30 + "\nFrom: depot 3",
        "Here is what my colleague wrote:\n\n   the export stops at 57%.",
    ],
)
def test_prose_that_looks_like_a_quote_stays_visible(text: str) -> None:
    assert separate(text) == Separation(visible=text, quoted="")


@pytest.mark.parametrize(
    "attribution",
    [
        "On Wed, Mar 5, 2025 at 5:40 PM Acme Support Team (Northwind)\n<support@acme.test> wrote:",
        "Am Mi., 5. März 2025 um 17:40 Uhr schrieb Acme Support Team\n(Kundenkonto)\n"
        "<support@acme.test>:",
        "Le mer. 5 mars 2025 à 17:40, Acme Support <support@acme.test> a\nécrit :",
    ],
)
def test_an_attribution_wrapped_over_lines_starts_the_quote(attribution: str) -> None:
    result = separate(f"Thanks!\n\n{attribution}\n\n> Please restart the app.")
    assert result.visible == "Thanks!"
    assert result.quoted.startswith(attribution.split("\n")[0])


@pytest.mark.parametrize(
    ("labels", "date"),
    [
        (("From:", "Sent:", "To:", "Subject:"), "Wednesday, March 5, 2025 5:40 PM"),
        (("Von:", "Gesendet:", "An:", "Betreff:"), "Mittwoch, 5. März 2025 17:40"),
        (("De :", "Envoyé :", "À :", "Objet :"), "mercredi 5 mars 2025 17:40"),
        (("De:", "Enviado el:", "Para:", "Asunto:"), "miércoles, 5 de marzo de 2025 17:40"),
        (("Da:", "Inviato:", "A:", "Oggetto:"), "mercoledì 5 marzo 2025 17:40"),
        (("Van:", "Verzonden:", "Aan:", "Onderwerp:"), "woensdag 5 maart 2025 17:40"),
        (("Od:", "Wysłano:", "Do:", "Temat:"), "środa, 5 marca 2025 17:40"),
        (("De:", "Enviada em:", "Para:", "Assunto:"), "quarta-feira, 5 de março de 2025 17:40"),
        (("Från:", "Skickat:", "Till:", "Ämne:"), "den 5 mars 2025 17:40"),
        (("От:", "Отправлено:", "Кому:", "Тема:"), "5 марта 2025 г. 17:40"),
        (("差出人:", "送信日時:", "宛先:", "件名:"), "2025年3月5日 17:40"),
        (("发件人:", "发送时间:", "收件人:", "主题:"), "2025年3月5日 17:40"),
    ],
)
def test_outlook_header_blocks_in_every_language(labels: tuple[str, ...], date: str) -> None:
    header = [
        f"{labels[0]} Acme Support <support@acme.test>",
        f"{labels[1]} {date}",
        f"{labels[2]} Tom <tom@example.com>",
        f"{labels[3]} Export",
    ]
    result = separate("\n".join(["OK, thanks.", "", *header, "", "Please restart."]))
    assert result.visible == "OK, thanks."
    assert result.quoted.startswith(header[0])


@pytest.mark.parametrize(
    "separator",
    [
        "-----Original Message-----",
        "-----Ursprüngliche Nachricht-----",
        "-----Message d'origine-----",
        "-----Mensaje original-----",
        "-----Messaggio originale-----",
        "-----Oorspronkelijk bericht-----",
        "-----Wiadomość oryginalna-----",
        "-----Mensagem original-----",
        "-----Ursprungligt meddelande-----",
        "-----Исходное сообщение-----",
        "-----元のメッセージ-----",
        "------------------ 原始邮件 ------------------",
        "-------- Original message --------",
        "---------- Forwarded message ---------",
    ],
)
def test_original_message_separators(separator: str) -> None:
    result = separate(f"See below.\n\n{separator}\nPlease restart the app.")
    assert result.visible == "See below."
    assert result.quoted.startswith(separator)


@pytest.mark.parametrize(
    "line",
    [
        "Sent from my iPhone",
        "Von meinem iPhone gesendet",
        "Envoyé de mon iPhone",
        "Enviado desde mi iPhone",
        "Inviato da iPhone",
        "Verzonden vanaf mijn iPhone",
        "Wysłane z iPhone'a",
        "Enviado do meu iPhone",
        "Skickat från min iPhone",
        "Отправлено с iPhone",
        "iPhoneから送信",
        "发自我的iPhone",
        "Get Outlook for iOS",
        "Get Outlook for Android",
        "Sent from Mail for Windows",
        "Sent from my Samsung Galaxy smartphone.",
        "Von meinem/meiner Galaxy gesendet",
        "Enviado desde mi smartphone Samsung Galaxy.",
        "-- ",
    ],
)
def test_signature_lines_are_collapsed(line: str) -> None:
    result = separate(f"Thanks, it works.\n\n{line}\nJane")
    assert result.visible == "Thanks, it works."
    assert result.quoted == f"{line}\nJane".strip()


def test_a_bare_blockquote_indents_unless_an_attribution_stands_above_it() -> None:
    indent = "<p>Steps:</p><blockquote>Open Reports<br>Export</blockquote><p>It stops.</p>"
    assert separate("", indent).quoted == ""
    quote = (
        "<div>OK.</div><div>05.03.2025, 17:40, &quot;Acme&quot; &lt;support@acme.test&gt;:</div>"
        "<blockquote><div>Restart the app.</div></blockquote>"
    )
    result = separate("", quote)
    assert result.visible == "OK."
    assert result.quoted == '05.03.2025, 17:40, "Acme" <support@acme.test>:\n> Restart the app.'


def test_an_outlook_box_without_a_header_is_no_quote() -> None:
    html = (
        "<p>Hello,</p><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm"
        " 0cm 0cm'><p>Our new address is below.</p></div><p>Regards</p>"
    )
    assert separate("", html).quoted == ""


def test_html_structure_wins_when_the_text_cannot_see_the_signature() -> None:
    text = "Invoice attached.\n\nTom Baker\nNorthwind Ltd.\n____________\nFrom: Acme"
    html = (
        "<div>Invoice attached.</div><div id='Signature'><div>Tom Baker<br>Northwind Ltd.</div>"
        "</div><div id='appendonsend'></div><hr tabindex='-1'><div id='divRplyFwdMsg'>"
        "<b>From:</b> Acme &lt;support@acme.test&gt;<br><b>Sent:</b> Wednesday<br>"
        "<b>To:</b> Tom<br><b>Subject:</b> Invoice</div><div>Please send the invoice.</div>"
    )
    result = separate(text, html)
    assert result.source == "html"
    assert result.visible == "Invoice attached."
    assert result.quoted.startswith("Tom Baker\nNorthwind Ltd.\nFrom: Acme <support@acme.test>")


def test_the_text_part_is_kept_when_it_finds_the_quote() -> None:
    text = "See <https://status.example.com> please.\n\nOn Wed, Acme <s@acme.test> wrote:\n> Hi"
    html = (
        '<div>See <a href="https://status.example.com">the status page</a> please.</div>'
        '<div class="gmail_quote">On Wed, Acme &lt;s@acme.test&gt; wrote:<blockquote '
        'class="gmail_quote">Hi</blockquote></div>'
    )
    result = separate(text, html)
    assert result.source == "plain"
    assert result.visible == "See <https://status.example.com> please."


def test_the_html_decides_when_the_text_finds_no_quote() -> None:
    text = "Danke!\n\nAcme Support (Mittwoch):\n\nBitte neu starten."
    html = (
        '<div dir="ltr">Danke!</div><div class="gmail_quote"><div class="gmail_attr">'
        'Acme Support (Mittwoch):</div><blockquote class="gmail_quote">Bitte neu starten.'
        "</blockquote></div>"
    )
    result = separate(text, html)
    assert result.source == "html"
    assert result.visible == "Danke!"
    assert result.quoted == "Acme Support (Mittwoch):\n> Bitte neu starten."


def test_split_quoted_is_separate() -> None:
    text = "Thanks!\n\nOn Wed, Acme <s@acme.test> wrote:\n> Hi"
    assert html_tools.split_quoted(text) == ("Thanks!", "On Wed, Acme <s@acme.test> wrote:\n> Hi")
    assert html_tools.split_quoted("") == ("", "")


# --------------------------------------------------------------------------- any input

_TRICKY_LINES = [
    "",
    ">",
    "> quoted line",
    ">> nested",
    "-- ",
    "--",
    "Sent from my iPhone",
    "On Wed, 5 Mar 2025, Acme <s@acme.test> wrote:",
    "wrote:",
    "From: Acme <s@acme.test>",
    "Sent: Wednesday",
    "To: Tom",
    "Subject: Re: x",
    "-----Original Message-----",
    "________________________________",
    "05.03.2025, 17:40, Acme <s@acme.test>:",
    "Thanks, it works.",
    "Le 5 mars 2025 à 17:40, Acme <s@acme.test> a écrit :",
    "CONFIDENTIALITY NOTICE: this e-mail is confidential and intended for the recipient",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_TRICKY_LINES) | st.text(max_size=40), max_size=25))
def test_plain_text_loses_no_line(lines: list[str]) -> None:
    text = "\n".join(lines)
    result = separate(text)
    assert words(result.visible) + words(result.quoted) == words(text)
    if result.visible.strip() and result.quoted.strip():
        assert result.visible.strip() in text.replace("\r\n", "\n").replace("\r", "\n")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300))
def test_any_input_separates_without_raising(text: str, html: str) -> None:
    result = separate(text, html)
    assert isinstance(result.visible, str)
    assert isinstance(result.quoted, str)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "<div>",
                "</div>",
                "<blockquote type=cite>",
                "</blockquote>",
                "<blockquote>",
                '<div class="gmail_quote">',
                '<div id="divRplyFwdMsg">',
                '<div id="Signature">',
                "<br>",
                "<p>",
                "<pre>",
                "</pre>",
                "<b>From:</b> Acme",
                "<b>Sent:</b> Wed",
                "<b>To:</b> Tom",
                "On Wed, Acme &lt;s@acme.test&gt; wrote:",
                "text &amp; more",
                "<!-- comment",
                "<style>p{}</style>",
                "<a href='https://x.test'>link</a>",
                "<",
                ">",
            ]
        ),
        max_size=40,
    )
)
def test_any_html_separates_without_raising(pieces: list[str]) -> None:
    result = separate("", "".join(pieces))
    assert isinstance(result.visible, str)
