"""The API's port: the one asked for if it is free, checked without touching its holder."""

from __future__ import annotations

from devtools.localservices import ServiceError, free_port, port_free, say

DEFAULT_PORT = 8000


def choose_port(preferred: int, explicit: bool) -> int:
    """`preferred` when nothing listens on it. When it is taken: a port asked for explicitly
    (--port) stops the demo with one line; the default (8000, or DEMO_PORT) gives way to a
    free port, said out loud. The probe is a bind, so the other program receives nothing."""
    if port_free(preferred):
        return preferred
    if explicit:
        raise ServiceError(
            f"port {preferred} is in use by another program: stop it, or choose another "
            f"port with --port (make demo ARGS='--port {preferred + 1}')"
        )
    port = free_port()
    say(
        f"port {preferred} is in use by another program; the API listens on {port} instead "
        "(choose one with --port or DEMO_PORT)"
    )
    return port
