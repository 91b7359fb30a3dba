"""The client commands' config file: `url` and `token`, optionally per profile.

    # ~/.config/isolane/config.toml ($XDG_CONFIG_HOME/isolane/config.toml; ISOLANE_CONFIG overrides)
    url = "https://isolane.example.com"
    token = "isl_..."

    [profiles.local]
    url = "http://127.0.0.1:8787"
    token = "..."

A value comes from the first of: the flag, the environment variable, the selected profile
(`--profile` / ISOLANE_PROFILE), the file's top level, the default.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

KEYS = ("url", "token")


class ConfigError(Exception):
    """The config file cannot be used (a usage error: exit code 2)."""


def config_path() -> tuple[Path, bool]:
    """The config file, and whether ISOLANE_CONFIG named it (then it must exist)."""
    explicit = os.environ.get("ISOLANE_CONFIG")
    if explicit:
        return Path(explicit).expanduser(), True
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "isolane" / "config.toml", False


def read_config(path: Path, profile: str | None, *, required: bool = False) -> dict[str, str]:
    """The file's settings for `profile` (top-level ones where the profile says nothing);
    an empty dict when the default file does not exist and no profile was asked for."""
    if not path.exists():
        if required:
            raise ConfigError(f"ISOLANE_CONFIG names {path}, which does not exist")
        if profile:
            raise ConfigError(f"profile {profile!r} asked for, but there is no config file at {path}")
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc}") from exc
    settings = _strings(data, str(path))
    if profile:
        profiles = data.get("profiles", {})
        if not isinstance(profiles, dict) or not isinstance(profiles.get(profile), dict):
            known = ", ".join(sorted(profiles)) if isinstance(profiles, dict) and profiles else "none"
            raise ConfigError(f"no profile {profile!r} in {path} (profiles: {known})")
        settings.update(_strings(profiles[profile], f"{path} [profiles.{profile}]"))
    return settings


def _strings(table: dict[str, Any], where: str) -> dict[str, str]:
    found = {}
    for key in KEYS:
        if key in table:
            if not isinstance(table[key], str):
                raise ConfigError(f"{key} in {where} must be a string")
            found[key] = table[key]
    return found
