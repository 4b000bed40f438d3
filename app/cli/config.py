"""Where `dl` keeps its profiles: one JSON file under the user's config directory.

Each profile names a deployment (its URL) and the personal API token `dl login` created there.
The file holds secrets, so it is written with mode 0600 inside a 0700 directory, and replaced
atomically so an interrupted write never leaves half a file. ``DL_URL`` and ``DL_TOKEN`` in the
environment win over the stored profile (CI jobs and one-off runs need no file at all).
"""

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PROFILE = "default"
APP_DIR = "digital-leaders"
FILE_NAME = "dl.json"


class ConfigError(Exception):
    """The configuration cannot be used as it stands (missing profile, unreadable file)."""


@dataclass
class Profile:
    url: str
    token: str
    token_id: str | None = None  # the server-side id, so `dl logout --revoke` can revoke it
    email: str | None = None


@dataclass
class ConfigFile:
    profiles: dict[str, Profile] = field(default_factory=dict)


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/digital-leaders`` (``~/.config/digital-leaders`` when unset), as the
    XDG Base Directory specification asks; a relative XDG_CONFIG_HOME is ignored, as it says."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / APP_DIR


def config_path() -> Path:
    return config_dir() / FILE_NAME


def load() -> ConfigFile:
    path = config_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ConfigFile()
    except (OSError, ValueError) as error:
        raise ConfigError(f"Cannot read {path}: {error}") from error
    profiles: dict[str, Profile] = {}
    for name, values in (raw.get("profiles") or {}).items():
        try:
            profiles[name] = Profile(**values)
        except TypeError as error:
            raise ConfigError(f"Profile {name!r} in {path} is malformed.") from error
    return ConfigFile(profiles=profiles)


def save(config: ConfigFile) -> Path:
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "profiles": {name: asdict(profile) for name, profile in sorted(config.profiles.items())}
    }
    # mkstemp creates the file 0600 from the start: the token is never readable by others,
    # not even for the moment between writing and a chmod.
    fd, temporary = tempfile.mkstemp(prefix=".dl-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def store_profile(name: str, profile: Profile) -> Path:
    config = load()
    config.profiles[name] = profile
    return save(config)


def remove_profile(name: str) -> Profile | None:
    config = load()
    removed = config.profiles.pop(name, None)
    if removed is not None:
        save(config)
    return removed


@dataclass(frozen=True)
class Target:
    """Where requests go and with which token, after the environment had its say."""

    url: str
    token: str
    profile: str


def resolve(profile_name: str) -> Target:
    stored = load().profiles.get(profile_name)
    url = os.environ.get("DL_URL") or (stored.url if stored else "")
    token = os.environ.get("DL_TOKEN") or (stored.token if stored else "")
    if not url or not token:
        raise ConfigError(
            f"Not logged in (profile {profile_name!r}): run `dl login`, or set DL_URL and DL_TOKEN."
        )
    return Target(url=url.rstrip("/"), token=token, profile=profile_name)
