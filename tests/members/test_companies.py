"""Company names compared after normalisation."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.members.companies import normalize_company, same_company


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
