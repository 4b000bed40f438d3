"""Company names compared as people mean them: «ООО "Ромашка"», "Romashka LLC" and
ООО «Яндекс» / "Yandex LLC" are one company each. Pure: no I/O.

The key drops legal forms in both languages, quotes and punctuation, then spells the name in
one Latin alphabet (Cyrillic transliterated, and the spellings that transliteration leaves
open, such as x/ks or y/i, folded together), so a company is the same however it is typed.
What no rule can guess ("Сбер" is "Сбербанк") is an admin-kept alias: ``Aliases`` maps an
alias's key to its company's key. Used wherever two people must not be paired because they
work together: reviewer assignment and recusal, seating at tables (every rule, move and swap).
"""

import re
import unicodedata
from collections.abc import Iterable

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


# Cyrillic to Latin, letter by letter (close to the passport rules, which people also use
# when they write a Russian company's name in Latin).
_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "a b v g d e e zh z i i k l m n o p r s t u f kh ts ch sh shch - y - e yu ya".split(),
        strict=True,
    )
)
# Spellings transliteration leaves open, folded to one, in this order: "Yandex" and
# "Яндекс" (yandeks) meet at "iandeks", "Alfa" and "Альфа" at "alfa".
_FOLDS = (
    ("shch", "sh"),
    ("dzh", "j"),
    ("kh", "h"),
    ("ph", "f"),
    ("ck", "k"),
    ("x", "ks"),
    ("w", "v"),
    ("q", "k"),
    ("c", "k"),
    ("y", "i"),
    ("j", "i"),
)
_DOUBLED = re.compile(r"([a-z])\1+")


def _spelled(word: str) -> str:
    """The word in Latin letters; hyphens go ("Альфа-Банк" is "Alfa Bank")."""
    return "".join(_CYRILLIC.get(ch, ch) for ch in word).replace("-", "")


def _folded(text: str) -> str:
    """The one spelling of Latin text: folds applied to a fixpoint, since one fold can make
    another's pattern ("ckh" -> "ch" -> "kh"), and doubled letters single."""
    while True:
        before = text
        for written, folded in _FOLDS:
            text = text.replace(written, folded)
        text = unicodedata.normalize("NFKC", _DOUBLED.sub(r"\1", text))
        if text == before:
            return text


# Legal forms as they compare once spelled and folded ("ООО" and "OOO" are both "o").
_LEGAL_KEYS = frozenset(_folded(_spelled(form)) for form in LEGAL_FORMS)


def normalize_company(name: str | None, aliases: "Aliases | None" = None) -> str | None:
    """A comparison key for a company name, or None when nothing meaningful is left; with
    ``aliases``, the key of the company an alias stands for."""
    if not name:
        return None
    text = unicodedata.normalize("NFKC", name).casefold().replace("ё", "е")
    text = text.translate({ord(q): " " for q in _QUOTES})
    text = _PUNCTUATION.sub(" ", text)
    # "-" joins words inside names ("Яндекс-Маркет"), so it is kept, but a lone dash is noise.
    words = [w.strip("-") for w in _SPACES.split(text)]
    spelled = [_spelled(w) for w in words if w and w not in LEGAL_FORMS]
    kept = [w for w in spelled if w and _folded(w) not in _LEGAL_KEYS]
    # Written as one word, so "Альфа Банк", "Альфа-Банк" and "AlfaBank" meet.
    key = _folded("".join(kept))
    if not key or key in _LEGAL_KEYS:
        return None
    if key is not None and aliases:
        key = aliases.get(key, key)
    return key


# An alias's key -> the key of the company it stands for (both from ``normalize_company``).
Aliases = dict[str, str]


def aliases_of(pairs: Iterable[tuple[str, str]]) -> Aliases:
    """The alias map of (alias, company) name pairs; a pair whose names have no key, or
    that names a company by itself, is left out."""
    found: Aliases = {}
    for alias, company in pairs:
        alias_key, company_key = normalize_company(alias), normalize_company(company)
        if alias_key and company_key and alias_key != company_key:
            found[alias_key] = company_key
    return found


def same_company(a: str | None, b: str | None, aliases: Aliases | None = None) -> bool:
    """True when both names are known and normalise to the same key."""
    key_a, key_b = normalize_company(a, aliases), normalize_company(b, aliases)
    return key_a is not None and key_a == key_b
