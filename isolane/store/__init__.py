"""Persistence: metadata through SQLAlchemy Core (SQLite or PostgreSQL), code blobs."""
