#!/usr/bin/env python3
"""Make PostgreSQL and Redis available, then run a command with them.

    python scripts/ensure-services.py [--no-chromium] -- pytest -q

Exports TEST_DATABASE_URL and TEST_REDIS_URL to the command (values already
set in the environment win), prints which servers it used, stops any private
server it started when the command ends, and exits with the command's code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.localservices import (  # noqa: E402
    ServiceError,
    Started,
    ensure_chromium,
    ensure_postgres,
    ensure_redis,
    say,
)


def main(argv: list[str]) -> int:
    chromium = "--no-chromium" not in argv
    command = argv[argv.index("--") + 1 :] if "--" in argv else []
    started = Started()
    try:
        env = dict(os.environ)
        if env.get("TEST_DATABASE_URL"):
            say(f"PostgreSQL: using TEST_DATABASE_URL={env['TEST_DATABASE_URL']}")
        else:
            env["TEST_DATABASE_URL"] = ensure_postgres(started)
        if env.get("TEST_REDIS_URL"):
            say(f"Redis: using TEST_REDIS_URL={env['TEST_REDIS_URL']}")
        else:
            env["TEST_REDIS_URL"] = ensure_redis("redis://127.0.0.1:6379/0", started)
        if chromium:
            ensure_chromium()
        if not command:
            for name in ("TEST_DATABASE_URL", "TEST_REDIS_URL"):
                print(f"export {name}={env[name]}")
            return 0
        say(f"running: {' '.join(command)}")
        return subprocess.run(command, env=env).returncode
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        started.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
