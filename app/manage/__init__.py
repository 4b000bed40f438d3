"""Management commands run next to the database, not over HTTP: ``python -m app.manage``.

The ``dl`` command (``app/cli``) is the admins' client of a running API; these are the
operator's tools for a deployment: loading the demo community, writing the OpenAPI document,
and creating the first admin of an empty database.
"""
