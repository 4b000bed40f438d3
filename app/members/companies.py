"""Company names compared as people mean them: «ООО "Ромашка"» and "Romashka LLC"-style
variants of one name are the same company. Pure: no I/O.

Used wherever two people must not be paired because they work together (reviewer assignment,
seating at tables).
"""

import re
import unicodedata

# Legal forms, Russian and international, dropped wherever they stand as a separate word.
LEGAL_FORMS = frozenset(
    {
        "ооо",
        "оао",
        "зао",
        "пао",
        "нао",
        "ао",
        "ип",
        "нко",
        "ано",
        "фгуп",
        "гуп",
        "муп",
        "llc",
        "inc",
        "ltd",
        "limited",
        "gmbh",
        "jsc",
        "pjsc",
        "cjsc",
        "ojsc",
        "plc",
        "corp",
        "corporation",
        "co",
        "company",
        "ag",
        "sa",
        "bv",
        "oy",
        "ab",
        "srl",
        "spa",
        "llp",
        "lp",
        "ooo",
        "zao",
        "oao",
        "pao",
        "ao",
    }
)
_QUOTES = "«»\"'“”„‘’‚`´"
_PUNCTUATION = re.compile(r"[.,;:!?()\[\]{}/\\|&+]")
_SPACES = re.compile(r"\s+")


def normalize_company(name: str | None) -> str | None:
    """A comparison key for a company name, or None when nothing meaningful is left."""
    if not name:
        return None
    text = unicodedata.normalize("NFKC", name).casefold().replace("ё", "е")
    text = text.translate({ord(q): " " for q in _QUOTES})
    text = _PUNCTUATION.sub(" ", text)
    # "-" joins words inside names ("Яндекс-Маркет"), so it is kept, but a lone dash is noise.
    words = [w.strip("-") for w in _SPACES.split(text)]
    kept = [w for w in words if w and w not in LEGAL_FORMS]
    return " ".join(kept) or None


def same_company(a: str | None, b: str | None) -> bool:
    """True when both names are known and normalise to the same key."""
    key_a, key_b = normalize_company(a), normalize_company(b)
    return key_a is not None and key_a == key_b
