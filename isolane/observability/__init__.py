"""Invocation records, and later the live tail and metrics."""
