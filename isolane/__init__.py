"""Isolane: self-hosted functions for platforms."""

__version__ = "0.1.0"
