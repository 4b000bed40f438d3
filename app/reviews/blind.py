"""Blind review: what a reviewer may read of an application. Pure.

Free text can carry what the blind view must not show (an e-mail in a summary, a profile
link, a phone number, the applicant's own name, and, without their consent, their company
in any spelling the company rule knows): those are masked before a reviewer sees it.
"""

import re

from app.companies.names import Aliases, normalize_company

MASK = "[hidden]"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", re.UNICODE)
# Any host under a top-level domain people put in profiles (short links such as vk.cc, and
# the new ones such as .dev): a bare "word.tld", with or without a path.
_TLDS = (
    "ru|com|рф|su|io|org|net|me|cc|dev|app|ai|tech|pro|info|biz|co|uk|de|by|kz|ua|am|"
    "page|site|online|space|link|ly|gl|to|tv|xyz|club|blog|team|work|digital"
)
_URL = re.compile(
    rf"(https?://|www\.)\S+|\b[\w-]+(\.[\w-]+)*\.({_TLDS})\b(/\S*)?",
    re.IGNORECASE | re.UNICODE,
)
_WORD = re.compile(r"[\w«»\"'“”„-]+", re.UNICODE)
# The longest company name looked for in a text, in words (legal form and quotes included).
_COMPANY_WORDS = 5
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{3,}")
# Seven or more digits with the usual separators: phone numbers, not years or team sizes.
_PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _mask_company(text: str, company: str, aliases: Aliases | None) -> str:
    """Every run of words that names the company (by the company rule: legal form, quotes,
    script and aliases do not matter) masked."""
    key = normalize_company(company, aliases)
    if key is None:
        return text
    words = list(_WORD.finditer(text))
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        for length in range(1, min(_COMPANY_WORDS, len(words) - i) + 1):  # shortest first
            run = words[i : i + length]
            if normalize_company(" ".join(w.group() for w in run), aliases) == key:
                end = i + length
                # A legal form written after the name ("Romashka LLC") goes with it.
                while end < len(words) and normalize_company(words[end].group()) is None:
                    end += 1
                spans.append((run[0].start(), words[end - 1].end()))
                i = end
                break
        else:
            i += 1
    for start, end in reversed(spans):
        text = text[:start] + MASK + text[end:]
    return text


def redact(
    text: str | None,
    *,
    names: tuple[str, ...] = (),
    company: str | None = None,
    aliases: Aliases | None = None,
) -> str | None:
    """The text with e-mails, links, handles, phone numbers and the given names masked, and
    the ``company`` (when given: the applicant did not let reviewers see it)."""
    if text is None:
        return None
    result = _EMAIL.sub(MASK, text)
    result = _URL.sub(MASK, result)
    result = _HANDLE.sub(MASK, result)
    result = _PHONE.sub(lambda m: MASK if _digits(m.group()) >= 7 else m.group(), result)
    for name in names:
        for part in {name.strip(), *name.split()}:
            # Parts shorter than three letters ("Li") would mask ordinary words too.
            if len(part) >= 3:
                result = re.sub(
                    rf"(?<!\w){re.escape(part)}(?!\w)", MASK, result, flags=re.IGNORECASE
                )
    if company:
        result = _mask_company(result, company, aliases)
    return result
