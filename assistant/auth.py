"""Logins and collection grants: a TOML users file with scrypt password hashes.

The users file looks like::

    [users.alice]
    password = "scrypt$16384$8$1$<salt>$<hash>"   # from `newsroom hash-password`
    collections = ["desk-a", "desk-b"]            # or ["*"] for every collection
    admin = true                                  # optional: may see server paths (store, uploads)

Logins are on when ``settings.auth`` is "on", or "auto" with a users file given or a
non-loopback host. With logins off everyone sees every collection (embargo still applies).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .settings import Settings

_N, _R, _P = 2**14, 8, 1
_DUMMY = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + base64.b64encode(b"\0" * 32).decode()


def hash_password(password: str) -> str:
    """A salted scrypt hash in the users-file format ``scrypt$n$r$p$salt_b64$hash_b64``."""
    if not password:
        raise ValueError("the password is empty")
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    """Constant-time comparison of ``password`` against a stored hash; a malformed hash never matches."""
    try:
        scheme, n, r, p, salt_b64, hash_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64, validate=True), base64.b64decode(hash_b64, validate=True)
        digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=int(n), r=int(r), p=int(p),
                                dklen=len(expected), maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


@dataclass(frozen=True)
class User:
    name: str
    password_hash: str
    collections: tuple[str, ...]  # ("*",) = every collection
    admin: bool = False  # sees server paths and locations (status); runs the server


@dataclass(frozen=True)
class Users:
    """Who may log in and what each one may see."""

    enabled: bool
    users: dict[str, User] = field(default_factory=dict)

    def verify(self, name: str, password: str) -> bool:
        """True when ``name`` exists and ``password`` matches (same work either way)."""
        user = self.users.get(name or "")
        ok = check_password(password or "", user.password_hash if user else _DUMMY)
        return bool(user) and ok

    def collections_for(self, name: str | None) -> tuple[str, ...] | None:
        """Collections ``name`` may see: None = all (logins off, or a "*" grant); () = nothing."""
        if not self.enabled:
            return None
        user = self.users.get(name or "")
        if user is None:
            return ()
        return None if "*" in user.collections else user.collections

    def is_admin(self, name: str | None) -> bool:
        """Whether ``name`` may see server paths: everyone with logins off, else users marked ``admin``."""
        if not self.enabled:
            return True
        user = self.users.get(name or "")
        return bool(user and user.admin)


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def logins_required(settings: Settings) -> bool:
    if settings.auth == "on":
        return True
    if settings.auth == "off":
        return False
    return bool(settings.users_file) or not is_loopback(settings.host)


def load_users(settings: Settings) -> Users:
    """Read ``settings.users_file`` (if any); raise ConfigError with the file and field on bad content."""
    enabled = logins_required(settings)
    if not settings.users_file:
        return Users(enabled=enabled)
    path = Path(settings.users_file)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"users file {path}: {exc}") from exc
    table = data.get("users", {})
    if not isinstance(table, dict):
        raise ConfigError(f"users file {path}: [users] must be a table of [users.NAME] entries")
    users: dict[str, User] = {}
    for name, entry in table.items():
        where = f"users file {path}: [users.{name}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a table with 'password' and 'collections'")
        pw = entry.get("password")
        if not isinstance(pw, str) or not pw.startswith("scrypt$") or pw.count("$") != 5:
            raise ConfigError(f"{where} password must be a hash from `newsroom hash-password` (scrypt$n$r$p$salt$hash)")
        grants = entry.get("collections", [])
        if not isinstance(grants, list) or not all(isinstance(c, str) and c for c in grants):
            raise ConfigError(f"{where} collections must be a list of collection names (or [\"*\"])")
        admin = entry.get("admin", False)
        if not isinstance(admin, bool):
            raise ConfigError(f"{where} admin must be true or false")
        users[name] = User(name, pw, tuple(grants), admin)
    return Users(enabled=enabled, users=users)
