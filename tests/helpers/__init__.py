"""Helpers shared by the test modules (not fixtures: those are in ``tests/conftest.py``)."""
