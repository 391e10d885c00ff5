"""Developer tooling, not shipped with the service: the demo (`make demo`), the synthetic
data generator, and the installers that find or start Redis, PostgreSQL and a mail
catcher for the demo and the test suite (scripts/ensure-services.py)."""
