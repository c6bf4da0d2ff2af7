# ruff: noqa: RUF001, RUF003 - the patterns match CJK punctuation and Cyrillic on purpose
"""The new part of an inbound mail, apart from its quoted history and signatures.

`separate(text, html)` answers two strings: `visible`, what the agent reads first
(`Message.body_text`), and `quoted`, the history and signatures shown collapsed under it
(`Message.quoted_text`). Nothing is dropped: every line of the mail is in one of the two.

How a mail is read:

- **Its text, line by line** (the plain-text part, or the text of the HTML when there is
  none): attribution lines ("On <date>, <name> wrote:") in English, German, French,
  Spanish, Italian, Dutch, Polish, Portuguese, Swedish, Russian, Japanese and Chinese, and
  the verb-less ones of Gmail in Russian and Japanese, Yandex and mail.ru ("<date>, <time>,
  <name> <address>:"), also when wrapped over two or three lines; Outlook's header blocks
  ("From: / Sent: / To: / Subject:" and their translations, three labels or more);
  "-----Original Message-----" and forwarded-message separators in those languages;
  `>`-quoted lines; mobile signatures ("Sent from my iPhone", "Von meinem iPhone gesendet",
  "Get Outlook for iOS", …), the "-- " delimiter and confidentiality footers.
- **Its HTML structure**, when the text finds no quote (an unknown attribution, a mail with
  no text part) or the HTML marks a signature the text cannot see: the quote containers
  clients put there, Gmail (`div.gmail_quote`, its `gmail_attr` line), Apple Mail and
  Thunderbird (`blockquote type=cite`, Thunderbird's `div.moz-cite-prefix`), Outlook
  desktop and Windows Mail (the header box with a `border-top:solid #E1E1E1` / `#B5C4DF` or
  `rgb(229, 229, 229)` border), Outlook on the web and new Outlook (`#appendonsend`,
  `#divRplyFwdMsg`), Outlook for Mac (`#OLK_SRC_BODY_SECTION`,
  `#mail-editor-reference-message-container`), Yahoo (`div.yahoo_quoted`), mail.ru
  (`div.mail-quote-collapse`, the app's `#mail-app-auto-quote`) and Yandex (an attribution
  line over a bare `<blockquote>`); signature containers (`gmail_signature`,
  `moz-signature`, Outlook's `#Signature`, Yahoo's and mail.ru's app signatures). Class
  names match inside longer ones, because clients rename the classes of a mail they quote
  (`x_gmail_quote`, `ydp…yahoo_quoted`, `…_mr_css_attr`). A bare `<blockquote>` is a quote
  only under an attribution line (or after one that was): Gmail and others use it to
  indent. An Outlook box or marker counts only above a header block.
  When both parts find a split, the text part is kept if its new part has the same words
  (it is what the client wrote for text readers, link addresses included); otherwise the
  HTML's own text is used, its quotes written as `> ` lines.

**Inline replies.** A customer who answers between quoted lines writes new text after a
quote. Then `visible` is the mail from its first line down to the customer's last own line,
the quoted lines in between kept in place as `> ` lines (an HTML quote is written the same
way), so each answer stays under the question it answers; `quoted` is what follows (the
rest of the quote, the signature). A mail that is all quote (a bare forward, an empty
reply) is shown whole, with nothing collapsed. Free-text sign-offs ("Best regards, Jane")
without a delimiter or a client's signature container stay visible.
"""

from __future__ import annotations

import html as html_lib
import logging
import re
from dataclasses import dataclass, field

__all__ = ["Separation", "separate"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Separation:
    """What the agent reads first, and the quoted history and signatures shown collapsed."""

    visible: str
    quoted: str
    source: str = "plain"  # "plain" or "html": which part of the mail the text came from
    inline: bool = False  # new text was written between quoted lines


# --------------------------------------------------------------------------- patterns

# Spaces that clients put in attribution lines and header blocks (no-break, narrow no-break
# before "PM" in Gmail, zero-width).
_ODD_SPACES = re.compile("[\u00a0\u2007\u202f\u2009\u200b\ufeff\u3000]")
_QUOTE_PREFIX = re.compile(r"^[ \t]{0,3}((?:>[ \t]?)+)")

# Attribution lines with a verb, one per language family. Matched against a line (or two or
# three joined, when a client wrapped it) with odd spaces made plain and ends stripped.
_ATTRIBUTION_VERBS = [
    # English: "On <date>, <name> wrote:" (Gmail, Apple Mail, Thunderbird, Outlook for Mac)
    r"^On\b.{4,300}\bwrote\s?:$",
    r"^.{2,200}\bwrote on\b.{4,200}:$",
    # German: "Am <date> schrieb <name>:" / "<name> schrieb am <date>:" / Yahoo's "Am <date>
    # hat <name> Folgendes geschrieben:"
    r"^Am\b.{4,300}\b(?:schrieb|geschrieben)\b.{0,300}:$",
    r"^.{2,200}\bschrieb am\b.{4,200}:$",
    # French: "Le <date>, <name> a écrit :"
    r"^Le\b.{4,300}\ba écrit\s?:$",
    # Spanish: "El <date>, <name> escribió:"
    r"^El\b.{4,300}\bescribió\s?:$",
    # Italian: "Il giorno <date> <name> ha scritto:" / "Il <date>, <name> ha scritto:"
    r"^Il\b.{4,300}\bha scritto\s?:$",
    # Dutch: "Op <date> schreef <name>:" / "Op <date> heeft <name> het volgende geschreven:"
    r"^Op\b.{4,300}\b(?:schreef|geschreven)\b.{0,300}:$",
    # Polish: "W dniu <date> <name> pisze:" / "<date> <name> napisał(a):" /
    # "Wiadomość napisana przez <name> w dniu <date>:"
    r"^.{4,300}\b(?:napisał|napisała|napisał\(a\)|pisze)\s?:$",
    r"^Wiadomość napisana przez\b.{4,300}:$",
    # Portuguese: "Em <date>, <name> escreveu:" / "Às <time> de <date>, <name> escreveu:"
    r"^.{4,300}\bescreveu\s?:$",
    # Swedish (and Danish, Norwegian): "Den <date> skrev <name>:" / "<date> skrev <name>:"
    r"^.{4,300}\bskrev\b.{0,300}:$",
    # Russian: "<date>, <name> пишет:" / "<date> пользователь <name> написал:" /
    # "<date>, <name> написал(а):"
    r"^.{4,300}(?:пишет|написал|написала|написал\(а\))\s?:$",
    # Japanese: "<date>、<name> のメール:" (Apple Mail) / "<name> さんは書きました:"
    r"^.{4,300}(?:のメール|さんは書きました|のメッセージ)\s?[:：]$",
    # Chinese: "<name> 于<date>写道：" (Gmail) / "在 <date>, <name> 写道:" (Thunderbird)
    r"^.{2,300}(?:写道|寫道)\s?[:：]$",
]
_ATTRIBUTION = re.compile("|".join(f"(?:{p})" for p in _ATTRIBUTION_VERBS), re.IGNORECASE)

# "<date>, <time>, <name> <address>:" without a verb: Gmail in Russian and Japanese, Yandex,
# mail.ru. Only with an address and a date or time in it, and only when a quote follows.
_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_DATE_OR_TIME = re.compile(
    r"\d{1,2}:\d{2}|\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{4}\s?年|\d{1,2}\s?月|\b(?:19|20)\d{2}\b"
)

# Outlook's header block and the same block in forwards, by language.
_LABELS = {
    "from": (
        "from",
        "von",
        "de",
        "da",
        "van",
        "od",
        "från",
        "fra",
        "от",
        "от кого",
        "отправитель",
        "差出人",
        "送信者",
        "送信元",
        "发件人",
        "寄件者",
        "寄件人",
        "lähettäjä",
        "expéditeur",
        "remitente",
        "mittente",
        "afzender",
        "nadawca",
        "remetente",
        "avsändare",
    ),
    "date": (
        "sent",
        "date",
        "gesendet",
        "datum",
        "envoyé",
        "envoyé le",
        "enviado",
        "enviado el",
        "enviada em",
        "enviado em",
        "fecha",
        "data",
        "inviato",
        "verzonden",
        "verstuurd",
        "wysłano",
        "wysłane",
        "skickat",
        "sendt",
        "отправлено",
        "дата",
        "送信日時",
        "日付",
        "日時",
        "发送时间",
        "日期",
        "时间",
        "寄件日期",
        "發送時間",
    ),
    "to": (
        "to",
        "an",
        "à",
        "a",
        "para",
        "aan",
        "do",
        "till",
        "til",
        "кому",
        "宛先",
        "收件人",
        "收件者",
        "pour",
        "destinataire",
        "destinatario",
        "adresat",
        "mottagare",
    ),
    "cc": ("cc", "kopie", "copie", "copie à", "dw", "kopia", "копия", "抄送", "副本", "cópia"),
    "subject": (
        "subject",
        "betreff",
        "objet",
        "asunto",
        "oggetto",
        "onderwerp",
        "temat",
        "assunto",
        "ämne",
        "emne",
        "тема",
        "件名",
        "主题",
        "主旨",
        "sujet",
    ),
}
_LABEL_CATEGORY = {label: category for category, labels in _LABELS.items() for label in labels}
_LABEL_ALTERNATION = "|".join(
    re.escape(label) for label in sorted(_LABEL_CATEGORY, key=len, reverse=True)
)
# "From: x", "*From:* x" (Outlook's plain text of bold), "De : x" (French spacing), "件名：x".
_HEADER_LINE = re.compile(rf"^[*_]?\s?({_LABEL_ALTERNATION})\s?[*_]?\s?[:：]", re.IGNORECASE)
# Further labels glued into one line (Yahoo's forwards: "От: a <a@b>Кому: c Тема: d").
_GLUED_LABEL = re.compile(rf"(?:^|(?<=[\s>*\]]))({_LABEL_ALTERNATION})\s?[:：]", re.IGNORECASE)

_SEPARATOR_NAMES = [
    "original message",
    "original e-mail",
    "original email",
    "ursprüngliche nachricht",
    "originalnachricht",
    "message d'origine",
    "message d’origine",
    "message original",
    "mensaje original",
    "messaggio originale",
    "oorspronkelijk bericht",
    "origineel bericht",
    "wiadomość oryginalna",
    "oryginalna wiadomość",
    "mensagem original",
    "ursprungligt meddelande",
    "originalmeddelande",
    "исходное сообщение",
    "оригинальное сообщение",
    "元のメッセージ",
    "オリジナル メッセージ",
    "原始邮件",
    "原始郵件",
    "原始信件",
    "原邮件",
    "forwarded message",
    "weitergeleitete nachricht",
    "message transféré",
    "message transmis",
    "mensaje reenviado",
    "messaggio inoltrato",
    "doorgestuurd bericht",
    "przekazana wiadomość",
    "wiadomość przekazana dalej",
    "treść przekazanej wiadomości",
    "mensagem encaminhada",
    "mensagem reencaminhada",
    "vidarebefordrat meddelande",
    "пересылаемое сообщение",
    "перенаправленное сообщение",
    "転送メッセージ",
    "メッセージを転送",
    "转发邮件",
    "轉寄郵件",
]
_SEPARATOR = re.compile(
    r"^[-_=*~ ]{2,}\s?(?:"
    + "|".join(re.escape(name) for name in _SEPARATOR_NAMES)
    + r")\s?[-_=*~ ]{2,}",
    re.IGNORECASE,
)
# Apple Mail's forward, by language.
_BEGIN_FORWARDED = re.compile(
    r"^(?:Begin forwarded message|Anfang der weitergeleiteten Nachricht|Début du message"
    r" (?:réexpédié|transféré)|Inicio del mensaje reenviado|Inizio messaggio inoltrato|Begin"
    r" doorgestuurd bericht|Początek przekazywanej wiadomości|Início da mensagem"
    r" (?:reencaminhada|encaminhada)|Vidarebefordrat mejl|Начало переадресованного"
    r" сообщения|転送されたメッセージ|转发的邮件)\s?[:：]$",
    re.IGNORECASE,
)
_SEPARATOR_START = frozenset("-_=*~ ")
# Outlook's plain-text rule above its header block (32 underscores), and the like.
_RULE = re.compile(r"^[_\-=]{20,}$")

# Signature lines that mobile and desktop clients add, by language.
_DEVICES = (
    r"(?:(?:my|mi|mon|ma|mein|meinem|meiner|mio|mijn|mojego|mojej|meu|minha|min|mitt)"
    r"(?:/mein(?:em|er))? )?"
    r"(?:i ?phone|i ?pad|ipod|android|galaxy|samsung|huawei|xiaomi|pixel|blackberry|nokia|"
    r"motorola|oneplus|sony|lg|htc|smartphone|mobile|phone|tablet|device|appareil|móvil|"
    r"movil|cellulare|telefono|telefoon|telefonu|telefon|celular|mobil|mail|outlook|yahoo|"
    r"gmail|aol|proton ?mail|windows|e-?post|correo|posta|poczty|iCloud)"
)
_SIGNATURE_LINES = [
    r"^-- ?$",
    r"^--$",
    rf"^Sent from {_DEVICES}.{{0,100}}$",
    rf"^Sent with {_DEVICES}.{{0,60}}$",
    r"^Get Outlook for (?:iOS|Android|Mac|Windows).{0,40}$",
    # German
    rf"^(?:Von|Gesendet von|Gesendet mit) {_DEVICES}.{{0,60}}$",
    r"^Outlook für (?:iOS|Android)(?:\s?<[^>]*>)? (?:beziehen|herunterladen).{0,20}$",
    # French
    rf"^Envoyé (?:de|depuis|à partir de|avec) (?:l['’]application )?{_DEVICES}.{{0,60}}$",
    r"^Télécharger Outlook pour (?:iOS|Android).{0,20}$",
    # Spanish
    rf"^Enviado (?:desde|con) {_DEVICES}.{{0,60}}$",
    r"^Obtener Outlook para (?:iOS|Android).{0,20}$",
    # Italian
    rf"^Inviato (?:da|dal|dal mio|con) {_DEVICES}.{{0,60}}$",
    r"^Scarica Outlook per (?:iOS|Android).{0,20}$",
    # Dutch
    rf"^(?:Verzonden|Verstuurd) (?:vanaf|van|met|via) {_DEVICES}.{{0,60}}$",
    r"^Outlook voor (?:iOS|Android) downloaden.{0,20}$",
    # Polish
    rf"^Wysłane (?:z|ze|przy użyciu) (?:aplikacji )?{_DEVICES}.{{0,60}}$",
    r"^Pobierz (?:aplikację )?Outlook dla (?:systemu )?(?:iOS|Android).{0,20}$",
    # Portuguese
    rf"^Enviado (?:do|de|a partir do|a partir de|pelo|pela|via) {_DEVICES}.{{0,60}}$",
    r"^Obter (?:o )?Outlook para (?:iOS|Android).{0,20}$",
    # Swedish
    rf"^Skickat (?:från|med) {_DEVICES}.{{0,60}}$",
    r"^Skaffa Outlook för (?:iOS|Android).{0,20}$",
    # Russian
    r"^Отправлено (?:с|со|из) .{1,60}$",
    r"^Скачайте Outlook для (?:iOS|Android).{0,20}$",
    # Japanese
    r"^.{1,30}から送信$",
    r"^Outlook for (?:iOS|Android) を入手.{0,20}$",
    # Chinese
    r"^发自我的.{1,30}$",
    r"^从我的.{1,30}发送$",
    r"^發自我的.{1,30}$",
    r"^获取 ?Outlook for (?:iOS|Android).{0,20}$",
]
_SIGNATURE_LINE = re.compile("|".join(f"(?:{p})" for p in _SIGNATURE_LINES), re.IGNORECASE)

# Confidentiality footers that mail servers add: collapsed with the signature.
_FOOTER = re.compile(
    r"confidentiality notice|this (?:e-?mail|message)(?: and any (?:attachments?|files))?"
    r" (?:is|are|may be|contains?|may contain) (?:strictly )?(?:confidential|privileged|"
    r"intended)|if you (?:have received|are not the intended)|intended (?:solely |only )?for"
    r" the (?:use of the )?(?:named |sole )?(?:recipient|addressee|individual)|"
    r"^disclaimer\s?:|diese (?:e-?mail|nachricht) (?:enthält|ist) vertraulich|"
    r"vertrauliche informationen|ce (?:message|courriel|e-?mail).{0,40}(?:confidentiel|"
    r"destiné exclusivement)|este (?:mensaje|correo).{0,60}confidencial|"
    r"questo messaggio.{0,60}riservat|(?:dit|deze) (?:e-?mail|bericht).{0,60}vertrouwelijk|"
    r"wiadomość.{0,60}poufn|(?:detta|det här) (?:e-?post)?meddelande.{0,60}konfidentiell|"
    r"конфиденциальн|本メール.{0,40}機密|此(?:邮件|郵件).{0,40}保密",
    re.IGNORECASE,
)

_URL = re.compile(r"(?:https?://|mailto:|www\.)\S+|<[^<>\s]+@[^<>\s]+>|[\w.+-]+@[\w.-]+")
_WORD = re.compile(r"\w+")


# --------------------------------------------------------------------------- lines


@dataclass
class _Line:
    text: str  # without its quote prefix (HTML), or as it came (plain text)
    depth: int = 0  # quote level: `>` characters, or blockquotes around it
    marker: str = ""  # HTML structure: "begin:<kind>", "end:<kind>", "cut:<kind>", "sig-…"
    plain: bool = False  # a line of the plain-text part: `text` is the line as it came
    body: str = field(init=False)  # the words: no quote prefix, odd spaces plain, trimmed

    def __post_init__(self) -> None:
        text = self.text
        if self.plain and self.depth:
            match = _QUOTE_PREFIX.match(text)
            if match:
                text = text[match.end() :]
        self.body = _clean(text)

    @property
    def blank(self) -> bool:
        return not self.marker and not self.body

    def rendered(self) -> str:
        if self.plain:
            return self.text
        if self.depth:
            return "> " * self.depth + self.text if self.text else ">" * self.depth
        return self.text


def _clean(text: str) -> str:
    if text.isascii():
        return text.strip()
    return _ODD_SPACES.sub(" ", text).strip()


def _plain_lines(text: str) -> list[_Line]:
    lines = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        match = _QUOTE_PREFIX.match(raw) if ">" in raw[:4] else None
        if match:
            lines.append(_Line(raw, depth=match.group(1).count(">"), plain=True))
        else:
            lines.append(_Line(raw, plain=True))
    return lines


def _is_attribution_text(text: str) -> bool:
    """An attribution line with a verb ("wrote:", "schrieb", "a écrit", …)."""
    return text.endswith((":", "：")) and len(text) <= 400 and bool(_ATTRIBUTION.match(text))


def _is_bare_attribution_text(text: str) -> bool:
    """A verb-less attribution: a date or time, an address, a colon at the end."""
    return (
        text.endswith((":", "："))
        and len(text) <= 300
        and bool(_ADDRESS.search(text))
        and bool(_DATE_OR_TIME.search(text))
    )


def _is_any_attribution(text: str) -> bool:
    return _is_attribution_text(text) or _is_bare_attribution_text(text)


def _header_category(text: str) -> str:
    if ":" not in text[:40] and "：" not in text[:40]:
        return ""
    match = _HEADER_LINE.match(text)
    return _LABEL_CATEGORY[match.group(1).lower()] if match else ""


# --------------------------------------------------------------------------- the reader


@dataclass
class _Labels:
    kinds: list[str]  # per line: "new", "quote", "sig", "blank", "marker"
    structural: bool  # an HTML container, a header block or an attribution was found


def _next_content(lines: list[_Line], start: int, limit: int = 4) -> list[int]:
    """Indexes of the next `limit` lines with text or an HTML quote's start, within the next
    fifty lines (markers and blanks skipped)."""
    found: list[int] = []
    for index in range(start, min(len(lines), start + 50)):
        line = lines[index]
        if line.blank or (line.marker and not line.marker.startswith(("begin:", "cut:"))):
            continue
        found.append(index)
        if len(found) >= limit:
            break
    return found


def _quote_follows(lines: list[_Line], start: int) -> bool:
    """Whether the next line with text is quoted (or an HTML quote begins)."""
    upcoming = _next_content(lines, start, limit=1)
    if not upcoming:
        return False
    line = lines[upcoming[0]]
    return line.depth > 0 or line.marker.startswith("begin:")


def _attribution_at(lines: list[_Line], index: int) -> int:
    """How many lines (1 to 3) an attribution starting here takes; 0 when none."""
    texts: list[str] = []
    for offset in range(3):
        position = index + offset
        if position >= len(lines):
            break
        line = lines[position]
        if line.marker or line.blank or line.depth:
            break
        texts.append(line.body)
        joined = " ".join(texts)
        # Joined lines count only when the attribution starts on the first of them: "Thanks!"
        # above "<date>, <name> wrote:" is not part of it.
        if offset and _is_any_attribution(" ".join(texts[1:])):
            break
        if _is_attribution_text(joined):
            after = position + 1
            # Without an address or a digit, "On Monday I wrote:" is prose unless a quote
            # follows it.
            strong = bool(_ADDRESS.search(joined) or re.search(r"\d", joined))
            if strong or _quote_follows(lines, after):
                return offset + 1
        if _is_bare_attribution_text(joined) and _quote_follows(lines, position + 1):
            return offset + 1
    return 0


def _header_block_at(lines: list[_Line], index: int) -> bool:
    """Whether a header block (From, and two more of Sent/Date, To, Cc, Subject) starts here."""
    first = lines[index].body
    match = _HEADER_LINE.match(first) if _header_category(first) else None
    if not match:
        return False
    category = _LABEL_CATEGORY[match.group(1).lower()]
    categories = {category}
    if category == "from":  # Yahoo glues a forward's header into one line
        categories.update(
            _LABEL_CATEGORY[m.group(1).lower()]
            for m in _GLUED_LABEL.finditer(first[:1000], match.end())
        )
    continuation = 0
    for position in range(index + 1, min(index + 12, len(lines))):
        line = lines[position]
        if line.marker:
            continue
        if line.blank or line.depth != lines[index].depth:
            break
        found = _header_category(line.body)
        if found:
            categories.add(found)
            continuation = 0
            continue
        continuation += 1  # a long To: or Subject: wrapped onto the next line
        if continuation > 1:
            break
    return "from" in categories and len(categories) >= 3


def _separator_at(lines: list[_Line], index: int) -> bool:
    text = lines[index].body
    if text[:1] in _SEPARATOR_START and _SEPARATOR.match(text[:200]):
        return True
    if text.endswith((":", "：")) and len(text) < 100 and _BEGIN_FORWARDED.match(text):
        return True
    if len(text) <= 200 and _RULE.match(text):  # Outlook's rule counts only above a header block
        upcoming = _next_content(lines, index + 1, limit=1)
        return (
            bool(upcoming)
            and not lines[upcoming[0]].marker
            and _header_block_at(lines, upcoming[0])
        )
    return False


def _cut_is_real(lines: list[_Line], index: int) -> bool:
    """An Outlook marker counts when a header block (or a separator) follows it."""
    for position in _next_content(lines, index + 1, limit=3):
        line = lines[position]
        if line.marker:
            continue
        text = line.body
        if _header_category(text) or _SEPARATOR.match(text[:200]) or _RULE.match(text[:200]):
            return True
    return False


# Containers whose client writes inline answers inside them, outside the blockquote.
_INLINE_CONTAINERS = frozenset({"gmail"})


def _label(lines: list[_Line]) -> _Labels:
    kinds = ["new"] * len(lines)
    structural = False
    rest_is_quote = False
    in_signature = False
    seen_quote = False
    containers: list[tuple[str, bool]] = []  # (kind, a quoted line was seen inside)
    signature_depth = 0
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.marker:
            kinds[index] = "marker"
            marker = line.marker
            if rest_is_quote:
                pass
            elif marker.startswith("begin:"):
                containers.append((marker[6:], False))
                structural = True
            elif marker.startswith("end:") and containers:
                containers.pop()
            elif marker == "sig-begin":
                signature_depth += 1
            elif marker == "sig-end" and signature_depth:
                signature_depth -= 1
            elif marker.startswith("cut:") and _cut_is_real(lines, index):
                rest_is_quote = structural = True
            index += 1
            continue
        if rest_is_quote:
            kinds[index] = "blank" if line.blank else "quote"
            index += 1
            continue
        if line.blank:
            kinds[index] = "blank"
            index += 1
            continue
        if containers:
            kind, quoted_inside = containers[-1]
            if line.depth:
                containers = [(outer, True) for outer, _ in containers]
                kinds[index] = "quote"
                seen_quote = True
            elif kind in _INLINE_CONTAINERS and quoted_inside and not signature_depth:
                kinds[index] = "new"  # an answer typed between two parts of the quote
                in_signature = False
            else:
                kinds[index] = "quote"
                seen_quote = True
            index += 1
            continue
        if signature_depth:
            kinds[index] = "sig"
            index += 1
            continue
        if line.depth:
            kinds[index] = "quote"
            seen_quote = True
            in_signature = False
            index += 1
            continue
        text = line.body
        taken = _attribution_at(lines, index)
        if taken:
            structural = True
            for offset in range(taken):
                kinds[index + offset] = "quote"
            seen_quote = True
            in_signature = False
            if not _quote_follows(lines, index + taken):
                rest_is_quote = True  # Outlook for Mac, Yahoo: the quote has no `>`
            index += taken
            continue
        if _separator_at(lines, index) or _header_block_at(lines, index):
            structural = rest_is_quote = True
            kinds[index] = "quote"
            index += 1
            continue
        if (len(text) <= 90 and _SIGNATURE_LINE.match(text)) or (
            len(text) >= 30
            and (index == 0 or lines[index - 1].blank or seen_quote)
            and _FOOTER.search(text[:400])
        ):
            in_signature = True
        kinds[index] = "sig" if in_signature else "new"
        index += 1
    return _Labels(kinds=kinds, structural=structural)


def _join(lines: list[_Line]) -> str:
    return "\n".join(line.rendered() for line in lines if not line.marker).strip("\n").strip()


def _read(lines: list[_Line], source: str) -> tuple[Separation, bool]:
    """The separation of these lines, and whether anything was found to separate."""
    labels = _label(lines)
    kinds = labels.kinds
    new = [index for index, kind in enumerate(kinds) if kind == "new"]
    other = [index for index, kind in enumerate(kinds) if kind in {"quote", "sig"}]
    if not new or not other:  # all new, or all quote (a bare forward): shown whole
        return Separation(visible=_join(lines), quoted="", source=source), labels.structural
    first_other, last_new = other[0], new[-1]
    if last_new < first_other:
        cut, inline = first_other, False
    else:
        cut, inline = last_new + 1, True
    visible = _join(lines[:cut])
    quoted = _join(lines[cut:])
    return Separation(visible=visible, quoted=quoted, source=source, inline=inline), True


# --------------------------------------------------------------------------- HTML

_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
_SKIPPED = frozenset({"head", "xml", "template", "noscript"})  # their text is not the mail's
_MAX_DEPTH = 20  # quote levels written as `> `; deeper ones are written as this many
_LOOKBACK = 20  # lines looked at above a bare blockquote for its attribution
# Beyond these sizes (characters) a part is not read for quotes: a bigger HTML part is left
# to the text part, a bigger text is shown whole. Mail that size is a pasted log or a
# report, not a conversation, and reading it would cost seconds.
_MAX_HTML = 1_000_000
_MAX_TEXT = 1_000_000
_BLOCKS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
        "body",
        "html",
    }
)
_SELF_CLOSING = frozenset({"p", "li", "tr", "td", "th", "dt", "dd", "option"})
_CONTAINER_CLASSES = (
    ("gmail_quote", "gmail"),
    ("yahoo_quoted", "yahoo"),
    ("moz-cite-prefix", "thunderbird"),
    ("mail-quote-collapse", "mailru"),
    ("protonmail_quote", "proton"),
    ("zmail_extra", "zoho"),
)
_CUT_IDS = (
    ("divrplyfwdmsg", "owa"),
    ("appendonsend", "owa"),
    ("olk_src_body_section", "outlook-mac"),
    ("mail-editor-reference-message-container", "outlook-mac"),
)
_OUTLOOK_BOX = re.compile(
    r"border-top:\s*solid\s*#(?:e1e1e1|b5c4df)\s*1\.0pt|"
    r"border-top-color:\s*rgb\(229,\s*229,\s*229\);\s*border-top-width:\s*1px",
    re.IGNORECASE,
)
_BORDER_LEFT = re.compile(r"border-left\s*:\s*\d|border-left\s*:\s*(?:solid|#)", re.IGNORECASE)
# Whether HTML may hold a structure worth parsing (lowercased substrings: `in` is fast).
_HTML_HINTS = (
    "blockquote",
    "gmail_",
    "yahoo_quoted",
    "moz-cite",
    "moz-signature",
    "divrplyfwdmsg",
    "appendonsend",
    "olk_src",
    "border-top",
    "mail-quote",
    "signature",
    "reference-message",
    "protonmail",
    "tabindex",
    "zmail",
)
_SPACE_RUN = re.compile(r"[ \t\r\n\f]+")
_TAG_NAME = re.compile(r"(/?)([a-zA-Z][^\s/>]*)")
_RAW_TEXT_END = {
    tag: re.compile(rf"</{tag}\s*>", re.IGNORECASE)
    for tag in ("script", "style", "title", "textarea")
}
_ATTRIBUTE = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")


@dataclass
class _Open:
    tag: str
    closers: list[str]  # what to do when it closes: "depth", "end:<kind>", "sig-end", "link"
    href: str = ""
    link_start: int = 0


class _Renderer:
    """HTML to `_Line`s: blocks and `<br>` break lines, quoting blockquotes raise the depth,
    and the clients' containers leave marker lines for the reader.

    Its tokenizer is one regular expression, not `html.parser`, which costs three times as
    much; it reads what mail clients write (unquoted attributes, Outlook's conditional
    comments, stray `<`), and the text of anything else is kept, never lost."""

    def __init__(self) -> None:
        self.lines: list[_Line] = []
        self.pieces: list[str] = []
        self.depth = 0
        self.skip = 0
        self.pre = 0
        self.open: list[_Open] = []
        self.bare_quotes = False  # a bare blockquote under an attribution was a quote

    # -- output

    def _flush(self, *, keep_blank: bool = False) -> None:
        if not self.pieces:
            if keep_blank:
                self.lines.append(_Line("", depth=min(self.depth, _MAX_DEPTH)))
            return
        text = "".join(self.pieces)
        self.pieces = []
        if not self.pre:
            text = _SPACE_RUN.sub(" ", text)
        text = text.replace("\u00a0", " ").rstrip()
        if not self.pre:
            text = text.lstrip()
        self.lines.append(_Line(text, depth=min(self.depth, _MAX_DEPTH)))

    def _marker(self, marker: str) -> None:
        self._flush()
        self.lines.append(_Line("", depth=min(self.depth, _MAX_DEPTH), marker=marker))

    def _last_text(self) -> str:
        if self.pieces:
            return _clean("".join(self.pieces))
        for line in reversed(self.lines[-_LOOKBACK:]):
            if line.marker or line.blank:
                continue
            return _clean(line.text)
        return ""

    # -- parser events

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str]]) -> None:
        if tag in _SKIPPED:
            self.skip += 1
            self.open.append(_Open(tag, ["skip"]))
            return
        if self.skip:
            return
        if tag == "br":
            self._flush(keep_blank=True)
            return
        if tag == "hr":
            self._flush()
            return
        if tag in _VOID:
            return
        if tag in _SELF_CLOSING and self.open and self.open[-1].tag == tag:
            self._close_to(len(self.open) - 1)
        attributes = dict(attrs)
        closers: list[str] = []
        if tag in _BLOCKS or tag in {"td", "th"}:
            if tag in {"td", "th"}:
                self.pieces.append(" ")
            else:
                self._flush()
        element_id = attributes.get("id", "").lower()
        classes = attributes.get("class", "").lower()
        style = attributes.get("style", "")
        for needle, kind in _CUT_IDS:
            if needle in element_id:
                self._marker(f"cut:{kind}")
                break
        else:
            if tag == "div" and _OUTLOOK_BOX.search(style):
                self._marker("cut:outlook")
        for needle, kind in _CONTAINER_CLASSES:
            if needle in classes:
                self._marker(f"begin:{kind}")
                closers.append(f"end:{kind}")
                break
        if "signature" in element_id or "signature" in classes:
            self._marker("sig-begin")
            closers.append("sig-end")
        if tag == "blockquote" and self._quoting(attributes, classes, style, element_id):
            self._flush()
            self.depth += 1
            closers.append("depth")
        if tag == "pre":
            self.pre += 1
            closers.append("pre")
        element = _Open(tag, closers)
        if tag == "a":
            href = attributes.get("href", "").strip()
            if href.lower().startswith(("http://", "https://")):
                element.href = href
                element.closers.append("link")
                element.link_start = len(self.pieces)
        self.open.append(element)

    def _quoting(
        self, attributes: dict[str, str], classes: str, style: str, element_id: str
    ) -> bool:
        if attributes.get("type", "").lower() == "cite" or "quote" in classes:
            return True
        if "mail-app-auto-quote" in element_id or _BORDER_LEFT.search(style):
            return True
        # A bare blockquote indents (Gmail's "indent" button) unless an attribution line
        # stands right above it (Yandex, mail.ru, clients that quote without a class), or
        # an earlier one was a quote: the parts of a quote that inline answers split.
        if self.bare_quotes:
            return True
        last = self._last_text()
        self.bare_quotes = bool(last) and _is_any_attribution(last)
        return self.bare_quotes

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        # A close tag closes the nearest open element of its name; a stray one is ignored.
        # Only the innermost elements are searched, so that deep nesting stays linear.
        for position in range(len(self.open) - 1, max(-1, len(self.open) - 64), -1):
            if self.open[position].tag == tag:
                self._close_to(position)
                return

    def _close_to(self, position: int) -> None:
        while len(self.open) > position:
            element = self.open.pop()
            if "skip" in element.closers:
                self.skip -= 1
                continue
            if self.skip:
                continue
            if "link" in element.closers:
                text = "".join(self.pieces[element.link_start :]).strip()
                if text and _clean(text) not in {element.href, element.href.rstrip("/")}:
                    self.pieces.append(f" <{element.href}>")
            if element.tag in _BLOCKS:
                self._flush()
            for closer in reversed(element.closers):
                if closer == "depth":
                    self._flush()
                    self.depth -= 1
                elif closer == "pre":
                    self.pre -= 1
                elif closer.startswith("end:") or closer == "sig-end":
                    self._marker(closer)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            parts = data.replace("\r\n", "\n").split("\n")
            for number, part in enumerate(parts):
                if number:
                    self._flush(keep_blank=True)
                if part:
                    self.pieces.append(part)
            return
        text = _SPACE_RUN.sub(" ", data)
        if text == " " and not self.pieces:
            return
        self.pieces.append(text)

    def feed(self, html: str) -> None:
        """Tokenize in one pass: a tag runs to the next `>` (as far as a browser reads it
        without quotes), so that no input makes this slower than linear."""
        position, length = 0, len(html)
        while position < length:
            start = html.find("<", position)
            if start < 0:
                self._text(html[position:])
                return
            if start > position:
                self._text(html[position:start])
            if html.startswith("<!--", start):  # comments, Outlook's conditional ones too
                end = html.find("-->", start + 4)
                position = length if end < 0 else end + 3
                continue
            end = html.find(">", start + 1)
            if end < 0:
                self._text(html[start:])
                return
            position = end + 1
            inside = html[start + 1 : end]
            name = _TAG_NAME.match(inside)
            if name is None:  # "<!doctype>", "<![if …]>", "<?xml?>", or a stray "<"
                if inside[:1] not in {"!", "?"}:
                    self._text(html[start:position])
                continue
            tag = name.group(2).lower()
            if name.group(1):
                self.handle_endtag(tag)
                continue
            raw_end = _RAW_TEXT_END.get(tag)
            if raw_end is not None:  # script, style, title: not the mail's text
                closing = raw_end.search(html, position)
                position = length if closing is None else closing.end()
                continue
            raw = inside[name.end() :]
            attrs = [
                (key.lower(), html_lib.unescape(value or single or bare or ""))
                for key, value, single, bare in _ATTRIBUTE.findall(raw)
            ]
            self.handle_starttag(tag, attrs)
            if raw.endswith("/") and tag not in _VOID:
                self.handle_endtag(tag)

    def _text(self, text: str) -> None:
        self.handle_data(html_lib.unescape(text) if "&" in text else text)

    def result(self) -> list[_Line]:
        self._close_to(0)
        self._flush()
        lines: list[_Line] = []
        for line in self.lines:  # one blank line at most in a row
            if line.blank and lines and lines[-1].blank and lines[-1].depth == line.depth:
                continue
            lines.append(line)
        return lines


def _html_lines(html: str) -> list[_Line]:
    renderer = _Renderer()
    try:
        renderer.feed(html)
        return renderer.result()
    except Exception:  # a mail is anyone's input: then the text part is read
        return []


def _words(text: str) -> list[str]:
    return _WORD.findall(_URL.sub(" ", text).lower())


# --------------------------------------------------------------------------- entry point


def separate(text: str, html: str = "") -> Separation:
    """The mail's new part and its quoted history and signatures; never raises.

    `text` is the plain-text body (or the text of the HTML when the mail has no plain part),
    `html` the HTML body when there is one. Rules: the module's docstring. A mail this code
    cannot read (a bug) is shown whole, and logged: it must never fail the mail.
    """
    try:
        return _separate(text, html)
    except Exception:
        logger.exception("quote separation failed; the mail is shown whole")
        return Separation(visible=text.strip(), quoted="")


def _separate(text: str, html: str) -> Separation:
    if len(text) > _MAX_TEXT:
        return Separation(visible=text.strip(), quoted="")
    if len(html) > _MAX_HTML:
        html = ""
    plain, plain_found = _read(_plain_lines(text), "plain") if text.strip() else (None, False)
    # Parsing HTML costs more than reading the text: only when the text found nothing, or
    # the HTML has a signature container the text cannot see (Outlook's #Signature).
    lowered = html.lower()
    if html and (
        plain is None
        or (
            any(hint in lowered for hint in _HTML_HINTS)
            and (not plain_found or "signature" in lowered)
        )
    ):
        lines = _html_lines(html)
        if lines:
            structured, html_found = _read(lines, "html")
            if html_found and structured.quoted:
                if plain is not None and _words(plain.visible) == _words(structured.visible):
                    return plain
                return structured
            if plain is None:
                return structured
    return plain or Separation(visible="", quoted="")
