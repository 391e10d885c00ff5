"""Use cases: one module per thing a user or a job asks of the service."""
