"""Programmable Chat v2: one module per resource, transaction scripts named after the API operations."""
