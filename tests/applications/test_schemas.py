"""The application's fields are declared once for input (ApplicationFields) and once for reads
(ApplicationAsWritten); everything else builds on those two, which name the same fields."""

from app.applications.csv_import import ImportedRow
from app.applications.schemas import (
    ApplicationAdminRead,
    ApplicationCreate,
    ApplicationFields,
    ApplicationRead,
    ApplicationUpdate,
)
from app.members.schemas import ApplicationAsWritten, ApplicationExport

CONTENT = [
    "function",
    "seniority",
    "industry",
    "years_in_management",
    "team_size",
    "company",
    "job_title",
    "experience_summary",
    "wants",
    "gives",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "reviewers_may_see_company",
]


def test_the_input_and_the_read_declare_the_same_fields_in_the_same_order():
    assert list(ApplicationFields.model_fields) == CONTENT
    assert list(ApplicationAsWritten.model_fields) == ["id", "status", *CONTENT]


def test_every_shape_builds_on_them():
    for shape in (ApplicationCreate, ApplicationUpdate, ImportedRow):
        assert issubclass(shape, ApplicationFields)
    for shape in (ApplicationRead, ApplicationAdminRead, ApplicationExport):
        assert issubclass(shape, ApplicationAsWritten)
        assert list(shape.model_fields)[: len(CONTENT) + 2] == ["id", "status", *CONTENT]


def test_an_imported_row_has_the_contact_first_then_the_api_rules():
    assert list(ImportedRow.model_fields) == ["email", "full_name", "phone", *CONTENT]
    for name in CONTENT[:-1]:  # consent differs: a row without it withholds it
        assert (
            ImportedRow.model_fields[name].metadata == ApplicationFields.model_fields[name].metadata
        )
    assert ImportedRow.model_fields["reviewers_may_see_company"].default is False
