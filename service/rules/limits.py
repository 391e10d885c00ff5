"""How much a rules folder may hold, and how long and how much memory checking it may take.

Every limit has a setting (service/config.py, README "Configuration"); a refusal names
both, so an analyst who hits one knows what to change or whom to ask. The defaults sit
well below what durable_rules 2.0.28 can take (512 sibling conditions hang it; the
compiler also shards, see compiler.py) and keep a check under a second or two.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from service.config import SETTINGS, Config, ConfigError

# field -> (setting, smallest allowed, largest allowed, why the largest)
_BOUNDS: dict[str, tuple[str, float, float, str]] = {
    "max_files": ("RULES_MAX_FILES", 1, 10_000, ""),
    "max_file_bytes": ("RULES_MAX_FILE_BYTES", 1_024, 64 * 2**20, ""),
    "max_total_bytes": ("RULES_MAX_TOTAL_BYTES", 1_024, 256 * 2**20, ""),
    "max_depth": ("RULES_MAX_DEPTH", 8, 200, " (Python's recursion limit)"),
    "max_conditions": ("RULES_MAX_CONDITIONS", 1, 500, " (durable_rules hangs at 512)"),
    "max_rules": ("RULES_MAX_RULES", 1, 20_000, ""),
    "max_fee_rows": ("RULES_MAX_FEE_ROWS", 1, 5_000_000, ""),
    "compile_seconds": ("RULES_COMPILE_SECONDS", 1, 25, " (gunicorn's 30 s worker timeout)"),
    "compile_memory_mb": ("RULES_COMPILE_MEMORY_MB", 128, 65_536, ""),
}


class LimitsError(ConfigError):
    """A rule-loading setting is out of range; the message is one readable line."""


def _default(setting: str) -> str:
    return next(s.default for s in SETTINGS if s.name == setting)  # one source of defaults


@dataclass(frozen=True)
class Limits:
    max_files: int = int(_default("RULES_MAX_FILES"))  # rule files in the folder
    max_file_bytes: int = int(_default("RULES_MAX_FILE_BYTES"))  # one file
    max_total_bytes: int = int(_default("RULES_MAX_TOTAL_BYTES"))  # all files together
    max_depth: int = int(_default("RULES_MAX_DEPTH"))  # lists and mappings nested in a file
    max_conditions: int = int(_default("RULES_MAX_CONDITIONS"))  # comparisons in one rule
    max_rules: int = int(_default("RULES_MAX_RULES"))  # rules in the ruleset, all files
    max_fee_rows: int = int(_default("RULES_MAX_FEE_ROWS"))  # fee schedule rows, all files
    compile_seconds: float = float(_default("RULES_COMPILE_SECONDS"))  # child's wall time
    compile_memory_mb: int = int(_default("RULES_COMPILE_MEMORY_MB"))  # child's address space

    def __post_init__(self) -> None:
        for name, (setting, low, high, why) in _BOUNDS.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise LimitsError(f"{setting}={value} must be between {low:g} and {high:g}{why}")

    @classmethod
    def from_config(cls, config: Config) -> Limits:
        """The limits set in the environment (the RULES_* settings of `Config`), validated
        (LimitsError names the first one out of range)."""
        return cls(
            max_files=config.rules_max_files,
            max_file_bytes=config.rules_max_file_bytes,
            max_total_bytes=config.rules_max_total_bytes,
            max_depth=config.rules_max_depth,
            max_conditions=config.rules_max_conditions,
            max_rules=config.rules_max_rules,
            max_fee_rows=config.rules_max_fee_rows,
            compile_seconds=config.rules_compile_seconds,
            compile_memory_mb=config.rules_compile_memory_mb,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def refusal(self, name: str, what: str) -> str:
        """`what`, then the limit and the setting that changes it, as one sentence."""
        value = getattr(self, name)
        shown = f"{value:,}" if isinstance(value, int) else f"{value:g}"
        return f"{what}; the limit is {shown} (setting {_BOUNDS[name][0]})"
