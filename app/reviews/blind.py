"""Blind review: what a reviewer may read of an application. Pure.

Free text can carry what the blind view must not show (an e-mail in a summary, a profile
link, a phone number, the applicant's own name): those are masked before a reviewer sees it.
"""

import re

MASK = "[hidden]"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", re.UNICODE)
_URL = re.compile(
    r"(https?://|www\.)\S+|\b[\w-]+(\.[\w-]+)*\.(ru|com|рф|io|org|net|me)\b(/\S*)?",
    re.IGNORECASE | re.UNICODE,
)
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{3,}")
# Seven or more digits with the usual separators: phone numbers, not years or team sizes.
_PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def redact(text: str | None, *, names: tuple[str, ...] = ()) -> str | None:
    """The text with e-mails, links, handles, phone numbers and the given names masked."""
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
    return result
