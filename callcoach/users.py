"""Who may use the app, and what each role may see.

Two roles: a **trainee** practises and sees their own calls; a **trainer** also sees every
trainee's calls and edits personas. Accounts come from a users file (hashed passwords, written by
``callcoach users add``) or from ``--auth``/``CALLCOACH_AUTH`` (``user:pass[:role]``, kept hashed
in memory). Without either, the app is a single person's local tool: whoever opens the page is a
trainer, as before.

Every callback that reads or writes calls, history or personas asks ``viewer(request)`` and checks
the answer on the server: hiding a tab is a courtesy, not the control.

Passwords are hashed with the standard library's scrypt: no extra dependency for one function.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

TRAINEE, TRAINER = "trainee", "trainer"
ROLES = (TRAINEE, TRAINER)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class UsersError(ValueError):
    """A users file or --auth value that cannot be used; the message names the fix."""


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64), safe to store in a users file."""
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if algo != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32)
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


class UserEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str  # a hash from hash_password(), never the password itself
    role: str = TRAINEE

    @field_validator("role")
    @classmethod
    def _role(cls, v: str) -> str:
        if v not in ROLES:
            raise ValueError(f"must be one of {', '.join(ROLES)}")
        return v

    @field_validator("password")
    @classmethod
    def _hashed(cls, v: str) -> str:
        if not v.startswith("scrypt$") or v.count("$") != 5:
            raise ValueError("must be a hash written by 'callcoach users add', not a plain password")
        return v


class UsersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: dict[str, UserEntry]


@dataclass
class Users:
    """The accounts of a team deployment: name -> (password hash, role)."""

    entries: dict[str, UserEntry]

    @classmethod
    def from_auth(cls, value: str) -> Users:
        """``user:pass[:role]`` items, comma-separated (the --auth / CALLCOACH_AUTH form)."""
        entries = {}
        for item in value.split(","):
            user, sep, rest = item.strip().partition(":")
            password, _, role = rest.rpartition(":") if rest.endswith((":" + TRAINEE, ":" + TRAINER)) else (rest, "", TRAINEE)
            if not sep or not user or not password:
                raise UsersError(f"--auth expects user:password[:role] (comma-separated for several), got '{item.strip()}'")
            entries[user] = UserEntry(password=hash_password(password), role=role)
        return cls(entries)

    @classmethod
    def load(cls, path: str | Path) -> Users:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {"users": {}}
            return cls(UsersFile.model_validate(data).users)
        except OSError as exc:
            raise UsersError(f"{path}: cannot read the users file ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise UsersError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise UsersError(f"{path}: {where}: {err['msg']} (see 'callcoach users add --help')") from None

    def save(self, path: str | Path) -> None:
        path = Path(path)
        data = {"users": {u: e.model_dump() for u, e in sorted(self.entries.items())}}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(path)

    def check(self, username: str, password: str) -> bool:
        """Gradio's auth callback: is this a user with this password?"""
        entry = self.entries.get(username)
        return entry is not None and verify_password(password, entry.password)

    def role(self, username: str | None) -> str | None:
        entry = self.entries.get(username or "")
        return entry.role if entry else None

    def trainers(self) -> list[str]:
        return [u for u, e in self.entries.items() if e.role == TRAINER]


@dataclass(frozen=True)
class Viewer:
    """The person behind one request: their login (None on a local app) and their role."""

    username: str | None
    role: str

    @property
    def is_trainer(self) -> bool:
        return self.role == TRAINER

    def may_read(self, trainee: str | None) -> bool:
        """A trainer reads every call; a logged-in trainee only their own."""
        if self.is_trainer or self.username is None:
            return True
        return trainee is not None and trainee.strip().lower() == self.username.lower()

    def trainee_name(self, typed: str | None) -> str:
        """The name calls are saved under: the login when there is one, else what was typed."""
        return self.username if self.username else (typed or "").strip()


LOCAL = Viewer(None, TRAINER)  # no --auth: one person at their own computer


def viewer(users: Users | None, request) -> Viewer:
    """The viewer of a Gradio request (``request.username`` is set by Gradio's login)."""
    if users is None:
        return LOCAL
    name = getattr(request, "username", None) if request is not None else None
    role = users.role(name)
    if role is None:  # no login, or an account removed since: the least the app allows
        return Viewer(name or "", TRAINEE)
    return Viewer(name, role)
