"""Persistence: tables, the session factory and the data-access layer."""
