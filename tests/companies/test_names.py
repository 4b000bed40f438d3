"""Company names compared after normalisation."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.companies.names import aliases_of, normalize_company, same_company


@pytest.mark.parametrize(
    "a,b",
    [
        ('ООО "Ромашка"', "ромашка"),
        ("«Ромашка» ООО", "РОМАШКА"),
        ("АО  Ромашка", "ПАО «Ромашка»"),
        ("ИП Ромашка", "Ромашка"),
        ("Acme, Inc.", "ACME LLC"),
        ("Acme Ltd", "acme gmbh"),
        ("'Acme' JSC", "  acme  "),
        ("Ёлка", "елка"),
        ("Yandex-Market LLC", "yandex-market"),
    ],
)
def test_same_company(a, b):
    assert same_company(a, b)


@pytest.mark.parametrize(
    "a,b",
    [
        ("Acme", "Acme Labs"),
        ("Ромашка", "Ромашка-2"),
        ("Acme", None),
        (None, None),
        ("ООО", "LLC"),  # nothing left of either: unknown, never "the same"
    ],
)
def test_different_or_unknown(a, b):
    assert not same_company(a, b)


def test_empty_means_unknown():
    assert normalize_company("") is None
    assert normalize_company("  ООО  «» ") is None


@given(st.text(max_size=60))
def test_idempotent(name):
    key = normalize_company(name)
    if key is not None:
        assert normalize_company(key) == key


@given(st.text(min_size=1, max_size=40), st.sampled_from(["ООО", "LLC", "Inc.", "АО", "GmbH"]))
def test_legal_form_never_matters(name, form):
    assert (
        normalize_company(f"{form} {name}") == normalize_company(name)
        or normalize_company(name) is None
    )


@pytest.mark.parametrize(
    "a,b",
    [
        ('ООО "Ромашка"', "Romashka LLC"),
        ("Yandex LLC", "ООО «Яндекс»"),
        ("Альфа-Банк", "Alfa-Bank"),
        ("Альфа Банк", "АльфаБанк"),
        ("АО «Вектор»", "Vector JSC"),
        ("Тинькофф", "Tinkoff"),
        ("ПАО «Газпром нефть»", "Gazprom Neft PJSC"),
        ("ЗАО Лукойл", "Lukoil Ltd"),
        ("ИП Смирнов", "Smirnov"),
    ],
)
def test_the_same_company_in_either_script(a, b):
    assert same_company(a, b), (normalize_company(a), normalize_company(b))


@pytest.mark.parametrize(
    "a,b",
    [
        ("Альфа-Банк", "Альфа-Страхование"),
        ("Яндекс", "Яндекс Маркет"),
        ("Сбер", "Сбербанк"),  # no rule can tell: an alias can
        ("Ромашка", "Ромашка-2"),
    ],
)
def test_different_companies_stay_apart(a, b):
    assert not same_company(a, b)


def test_an_alias_joins_what_no_rule_can():
    aliases = aliases_of([("Сбер", "ПАО Сбербанк"), ("ООО", "Anything")])
    assert aliases == {"sber": "sberbank"}  # a name that is only a legal form is left out
    assert same_company("Sber", "Сбербанк", aliases)
    assert not same_company("Сбер", "Альфа-Банк", aliases)
