"""Where the demo keeps things: the instance folder the `claims` CLI uses by default.

    instance/claims.db           the database (unless DATABASE_URL says otherwise)
    instance/demo/logs/*.log     api, worker, scheduler, redis, mail
    instance/demo/mail/          every letter the demo sent (a Maildir)
    instance/demo/intake-key     the demo's intake API key, reused on the next run
    instance/demo/env            the demo's REDIS_URL and SMTP_* for a shell that wants them
    instance/demo/demo.lock      held while a demo runs on this folder
    instance/audit-checkpoints/  signed audit checkpoints of this database (AUDIT_CHECKPOINT_DIR)

Nothing is deleted on exit: the next run finds the data again. `--fresh` deletes the
SQLite file, instance/demo and the audit checkpoints of that database first (and refuses
when DATABASE_URL is another database): checkpoints left from the old database would make
`claims audit verify` report the new one as tampered with.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from devtools.localservices import ServiceError
from service.config import Config, mask_url


@dataclass(frozen=True)
class Place:
    instance: Path
    database_url: str
    checkpoints: Path | None = None  # AUDIT_CHECKPOINT_DIR; default instance/audit-checkpoints

    @classmethod
    def from_config(cls, config: Config) -> Place:
        checkpoints = Path(config.audit_checkpoint_dir).resolve()
        return cls(Path(config.instance_dir).resolve(), config.database_url, checkpoints)

    @property
    def folder(self) -> Path:
        return self.instance / "demo"

    @property
    def logs(self) -> Path:
        return self.folder / "logs"

    @property
    def mail(self) -> Path:
        return self.folder / "mail"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    @property
    def sqlite_file(self) -> Path | None:
        """The database file when the database is SQLite, else None."""
        if not self.database_url.startswith("sqlite"):
            return None
        return Path(self.database_url.split("///", 1)[-1]).resolve()

    def describe_database(self) -> str:
        return str(self.sqlite_file) if self.sqlite_file else mask_url(self.database_url)

    def prepare(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)

    def lock(self) -> IO[str]:
        """Hold the folder for this run; a second demo on it stops with one line."""
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = open(self.folder / "demo.lock", "a+")  # noqa: SIM115 - held until exit
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            pid = handle.read().strip() or "?"
            handle.close()
            raise ServiceError(
                f"another demo (pid {pid}) is running on {self.instance}: stop it first "
                "(Ctrl-C in its terminal), or give this one its own INSTANCE_DIR"
            ) from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        return handle

    def wipe(self) -> None:
        """`--fresh`: the SQLite file (-wal, -shm), instance/demo but its lock, the checkpoints."""
        database = self.sqlite_file
        if database is None:
            raise ServiceError(
                "--fresh deletes the SQLite file in INSTANCE_DIR, but DATABASE_URL is "
                f"{mask_url(self.database_url)}: empty that database yourself, or unset "
                "DATABASE_URL"
            )
        if not database.is_relative_to(self.instance):
            raise ServiceError(
                f"--fresh deletes only a database inside {self.instance}; DATABASE_URL "
                f"points at {database}: unset DATABASE_URL, or delete that file yourself"
            )
        for path in (database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))):
            path.unlink(missing_ok=True)
        for child in self.folder.iterdir() if self.folder.exists() else ():
            if child.name != "demo.lock":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        checkpoints = self.checkpoints or self.instance / "audit-checkpoints"
        if checkpoints.is_relative_to(self.instance):  # one elsewhere is not the demo's to delete
            shutil.rmtree(checkpoints, ignore_errors=True)
