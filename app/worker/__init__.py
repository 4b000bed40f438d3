"""Background work: scheduled jobs (and the outbox relay). Runs inside the API process by
default; `python -m app.worker` runs it on its own for scale-out."""
