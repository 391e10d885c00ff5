"""Background work: outbox delivery, follow-ups, SLA sweeps and reports on RQ.

Nothing here connects to Redis or the database at import time.
"""
