"""Instrument plugins bundled with formengine (each registered as a ``formengine`` entry point)."""
