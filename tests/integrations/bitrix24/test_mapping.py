"""What a member becomes in the CRM: consent decides every private field."""

import uuid
from types import SimpleNamespace

import pytest

from app.integrations.bitrix24 import mapping


def member(**overrides):
    values = dict(
        id=uuid.UUID("00000000-0000-0000-0000-00000000abcd"),
        full_name="Anna Maria Ivanova",
        company="Acme",
        job_title="CTO",
        phone="+7 (495) 123-45-67",
        email="Anna@Example.COM",
        company_visibility="nobody",
        job_title_visibility="nobody",
        phone_visibility="nobody",
        email_visibility="nobody",
    )
    values.update(overrides)
    return SimpleNamespace(**values)


def test_without_consent_only_the_name_and_our_id_leave():
    assert mapping.contact_fields(member()) == {
        "NAME": "Anna Maria",
        "LAST_NAME": "Ivanova",
        "ORIGINATOR_ID": "digital-leaders",
        "ORIGIN_ID": "00000000-0000-0000-0000-00000000abcd",
    }


@pytest.mark.parametrize(
    "visibility,sent", [("nobody", False), ("table", False), ("members", True), ("public", True)]
)
def test_each_private_field_follows_its_own_consent(visibility, sent):
    fields = mapping.contact_fields(
        member(
            company_visibility=visibility,
            job_title_visibility=visibility,
            phone_visibility=visibility,
            email_visibility=visibility,
        )
    )
    expected = {
        "COMPANY_TITLE": "Acme",
        "POST": "CTO",
        "PHONE": "+74951234567",
        "EMAIL": "anna@example.com",
    }
    for name, value in expected.items():
        assert (fields.get(name) == value) if sent else (name not in fields)


def test_consents_are_independent():
    fields = mapping.contact_fields(member(job_title_visibility="members"))
    assert fields["POST"] == "CTO"
    assert not {"COMPANY_TITLE", "PHONE", "EMAIL"} & set(fields)


@pytest.mark.parametrize(
    "full_name,expected",
    [
        ("Anna", ("Anna", "")),
        ("Anna Ivanova", ("Anna", "Ivanova")),
        ("  Ivan Sergeevich   Petrov ", ("Ivan Sergeevich", "Petrov")),
        ("", ("", "")),
    ],
)
def test_split_name(full_name, expected):
    assert mapping.split_name(full_name) == expected


def test_add_params_send_phone_and_email_as_multifields():
    fields = mapping.contact_fields(member(phone_visibility="public", email_visibility="members"))
    params = mapping.add_params(fields)
    assert params["fields"]["EMAIL"] == [{"VALUE": "anna@example.com", "VALUE_TYPE": "WORK"}]
    assert params["fields"]["PHONE"] == [{"VALUE": "+74951234567", "VALUE_TYPE": "WORK"}]
    assert params["params"] == {"REGISTER_SONET_EVENT": "N"}


def test_update_sends_only_what_changed():
    before = mapping.contact_fields(member(job_title_visibility="members"))
    after = mapping.contact_fields(member(job_title_visibility="members", job_title="CIO"))
    previous = mapping.field_hashes(before)
    assert mapping.update_fields(before, previous, None) == {}
    assert mapping.update_fields(after, previous, None) == {"POST": "CIO"}


def test_withdrawn_consent_clears_what_we_sent_and_leaves_the_rest():
    sent = mapping.contact_fields(
        member(job_title_visibility="members", phone_visibility="members")
    )
    now = mapping.contact_fields(member())
    current = {
        "ID": "9",
        "POST": "CTO",
        "COMMENTS": "typed by a manager",
        "PHONE": [
            {"ID": "41", "VALUE": "+7 495 123-45-67", "VALUE_TYPE": "WORK"},
            {"ID": "42", "VALUE": "+7 999 000-00-00", "VALUE_TYPE": "MOBILE"},
        ],
    }
    changes = mapping.update_fields(now, mapping.field_hashes(sent), current)
    assert changes == {"POST": "", "PHONE": [{"ID": "41", "VALUE": ""}]}


def test_changed_phone_replaces_our_entry_by_its_id():
    sent = mapping.contact_fields(member(phone_visibility="members"))
    now = mapping.contact_fields(member(phone_visibility="members", phone="+7 916 111 22 33"))
    current = {"ID": "9", "PHONE": [{"ID": "41", "VALUE": "+74951234567"}]}
    assert mapping.needs_current(mapping.field_hashes(now), mapping.field_hashes(sent))
    assert mapping.update_fields(now, mapping.field_hashes(sent), current)["PHONE"] == [
        {"ID": "41", "VALUE": "+79161112233", "VALUE_TYPE": "WORK"}
    ]


def test_linking_an_existing_contact_adds_only_what_it_lacks():
    fields = mapping.contact_fields(member(email_visibility="members"))
    current = {
        "ID": "3",
        "NAME": "Anna Maria",
        "LAST_NAME": "Ivanova",
        "EMAIL": [{"ID": "7", "VALUE": "ANNA@example.com"}],
    }
    assert mapping.update_fields(fields, {}, current) == {
        "ORIGINATOR_ID": "digital-leaders",
        "ORIGIN_ID": "00000000-0000-0000-0000-00000000abcd",
    }


def test_hashes_hold_no_values():
    fields = mapping.contact_fields(member(email_visibility="public"))
    stored = str(mapping.field_hashes(fields)) + mapping.digest(mapping.field_hashes(fields))
    assert "anna" not in stored.lower() and "example" not in stored
