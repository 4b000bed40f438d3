"""`GET /metrics`: Prometheus's text format, for operators (off unless DL_METRICS_ENABLED)."""
