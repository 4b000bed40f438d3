"""Every e-mail template renders in both languages from sample values: a missing value fails
(StrictUndefined), and so does text left in the other language."""

import re
from datetime import UTC, datetime

import pytest
from jinja2 import UndefinedError, meta

from app.models.member import Language
from app.notifications.notices import ALL_NOTICES
from app.notifications.templating import TEMPLATES, environments, render, template_names

WHEN = datetime(2027, 2, 13, 7, 0, tzinfo=UTC)
LINK = "https://app.example.org/page?token=abc"
EVENT = {
    "event": "Board 2",
    "starts_at": WHEN,
    "ends_at": WHEN,
    "time_zone": "Europe/Moscow",
    "venue": "Loft 1",
    "link": LINK,
    "events_link": LINK,
}
PLACE = {**EVENT, "cancel_link": LINK}
ACCOUNT = {"link": LINK, "expires_at": WHEN, "time_zone": "Europe/Moscow"}
SURVEY = {
    "survey": "Pulse",
    "closes_at": WHEN,
    "time_zone": "Europe/Moscow",
    "anonymous": True,
    "link": LINK,
}
# Exactly the values each template's notice gives it (the channel adds the layout's own).
SAMPLES: dict[str, dict[str, object]] = {
    "verify_email": ACCOUNT,
    "signup_attempt": ACCOUNT,
    "invitation": ACCOUNT,
    "password_reset": ACCOUNT,
    "subscription_disabled": {"url": LINK, "reason": "gone", "subscription_id": "42"},
    "application_approved": {"reason": "", "web_app_url": LINK},
    "application_rejected": {"reason": "Too early", "web_app_url": LINK},
    "application_waitlisted": {"reason": "", "web_app_url": LINK},
    "registration_created": {**EVENT, "confirm_by": WHEN},
    "registration_confirmed": PLACE,
    "registration_waitlisted": {**EVENT, "position": 1234},
    "registration_offered": {**EVENT, "expires_at": WHEN},
    "registration_offer_expired": {**EVENT, "reason": "offer_expired"},
    "registration_cancelled": {**EVENT, "reason": "by_member"},
    "event_cancelled": {**EVENT, "reason": "event_cancelled"},
    "event_changed": {**EVENT, "changed": ["time", "venue"], "attending": True},
    "event_reminder": PLACE,
    "survey_invitation": SURVEY,
    "survey_reminder": SURVEY,
    "seating_published": EVENT,
    "case_outcome_request": {**EVENT, "case": "Pricing"},
    "next_event_opened": EVENT,
    "next_event_guest_confirm": {"link": LINK, "days": 7},
    "event_message": {**EVENT, "subject": "Entrance", "message": "Use the courtyard door."},
}
LAYOUT = {"name": "Anna", "unsubscribe_url": LINK, "kind_label": "x"}
# Latin words a Russian e-mail may hold: names, API paths, the zone's offset.
LATIN_ALLOWED = {"Digital", "Leaders", "API", "POST", "GMT", "gone", "failing", "webhooks"}


def _leftover(text: str, values: dict[str, object]) -> str:
    text = re.sub(r"https?://\S+|/api/v1/\S+", " ", text)
    for value in values.values():
        if isinstance(value, str) and value:
            text = text.replace(value, " ")
    return text


def test_every_notice_has_its_templates_in_both_languages():
    names = set(template_names())
    assert {n.template for n in ALL_NOTICES} <= names
    assert names == set(SAMPLES), "a template without sample values, or a sample without one"
    for name in names:
        for language in Language:
            assert (TEMPLATES / language.value / f"{name}.txt").is_file(), (name, language)


@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize("language", list(Language))
def test_renders_without_missing_values_or_the_other_language(name, language):
    values = {**SAMPLES[name], **LAYOUT}
    rendered = render(name, language, values)
    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.text.startswith("Здравствуйте, Anna!" if language == "ru" else "Hello Anna,")
    assert "{{" not in rendered.text and "{%" not in rendered.text
    assert "<html" in rendered.html and "Anna" in rendered.html
    text = _leftover(f"{rendered.subject}\n{rendered.text}", values)
    if language == Language.en:
        assert not re.search(r"[а-яА-ЯёЁ]", text), f"Russian left in the English {name}: {text}"
    else:
        latin = set(re.findall(r"[A-Za-z]{3,}", text)) - LATIN_ALLOWED
        assert not latin, f"untranslated in the Russian {name}: {latin}"


def _variables(name: str, language: Language) -> set[str]:
    text_env, _ = environments()
    found: set[str] = set()
    for template in (f"{language.value}/{name}.txt", f"{language.value}/_layout.txt"):
        source = (TEMPLATES / template).read_text()
        found |= meta.find_undeclared_variables(text_env.parse(source))
    return found - {"language", "time_zone"}  # given by the renderer itself


@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize("language", list(Language))
def test_a_missing_value_fails(name, language):
    variables = _variables(name, language)
    values = {**SAMPLES[name], **LAYOUT}
    assert variables <= values.keys(), variables - values.keys()
    for missing in sorted(variables):
        broken = {k: v for k, v in values.items() if k != missing}
        with pytest.raises(UndefinedError):
            render(name, language, broken)


def test_times_are_in_the_event_zone_with_the_zone_named_and_numbers_localised():
    values = {**SAMPLES["registration_waitlisted"], **LAYOUT, "time_zone": "Asia/Yekaterinburg"}
    ru = render("registration_waitlisted", Language.ru, values)
    en = render("registration_waitlisted", Language.en, values)
    # 07:00 UTC is 12:00 in Yekaterinburg (UTC+5).
    assert "суббота, 13 февраля 2027, 12:00 (Екатеринбург, GMT+05:00)" in ru.text
    assert "Saturday, 13 February 2027, 12:00 (Yekaterinburg, GMT+05:00)" in en.text
    assert "1\xa0234" in ru.text and "1,234" in en.text


def test_html_is_escaped_and_a_subject_stays_one_line():
    values = {
        **SAMPLES["registration_confirmed"],
        **LAYOUT,
        "name": "<b>Eve</b>",
        "event": "Board <script>alert(1)</script>\r\nBcc: victim@example.org",
    }
    rendered = render("registration_confirmed", Language.en, values)
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "&lt;b&gt;Eve&lt;/b&gt;" in rendered.html
    assert "\r" not in rendered.subject and "\n" not in rendered.subject
    assert rendered.subject.endswith("Bcc: victim@example.org")  # text, on the same line
