"""``callcoach users``: the accounts of a team deployment (``python app.py --users FILE``).

The users file holds each login's role and a scrypt hash of the password, never the password:
a command line (``--auth user:pass``) shows in ``ps``; a users file does not.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import typer

from callcoach.users import ROLES, TRAINEE, UserEntry, Users, UsersError, hash_password

users_app = typer.Typer(help="Logins and roles for the web app (python app.py --users FILE).", no_args_is_help=True)
DEFAULT_FILE = Path("callcoach-users.yaml")


def _load(path: Path) -> Users:
    if not path.exists():
        return Users({})
    try:
        return Users.load(path)
    except UsersError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@users_app.command("add")
def add(
    name: str = typer.Argument(..., help="the login name (also the trainee name calls are saved under)"),
    role: str = typer.Option(TRAINEE, "--role", help=f"one of: {', '.join(ROLES)}"),
    file: Path = typer.Option(DEFAULT_FILE, "--file", "-f", help="the users file"),
    password_env: str = typer.Option(None, "--password-env", help="read the password from this environment variable (scripts); default: ask"),
) -> None:
    """Add a login, or change its password and role."""
    if role not in ROLES:
        typer.echo(f"error: --role must be one of {', '.join(ROLES)}, not '{role}'", err=True)
        raise typer.Exit(2)
    if not name.strip() or ":" in name or "," in name:
        typer.echo("error: a login name must not be empty or contain ':' or ','", err=True)
        raise typer.Exit(2)
    if password_env:
        password = os.environ.get(password_env, "")
    else:
        password = getpass.getpass(f"Password for {name}: ")
        if password != getpass.getpass("Again: "):
            typer.echo("error: the two passwords differ", err=True)
            raise typer.Exit(2)
    if len(password) < 8:
        typer.echo("error: use a password of at least 8 characters", err=True)
        raise typer.Exit(2)
    users = _load(file)
    existed = name in users.entries
    users.entries[name] = UserEntry(password=hash_password(password), role=role)
    users.save(file)
    typer.echo(f"{'Updated' if existed else 'Added'} {name} ({role}) in {file}")


@users_app.command("remove")
def remove(name: str, file: Path = typer.Option(DEFAULT_FILE, "--file", "-f")) -> None:
    """Remove a login (their saved calls stay in the history)."""
    users = _load(file)
    if users.entries.pop(name, None) is None:
        typer.echo(f"error: no login '{name}' in {file}", err=True)
        raise typer.Exit(2)
    users.save(file)
    typer.echo(f"Removed {name} from {file}")


@users_app.command("list")
def list_users(file: Path = typer.Option(DEFAULT_FILE, "--file", "-f")) -> None:
    """The logins and their roles."""
    for name, entry in sorted(_load(file).entries.items()):
        typer.echo(f"{name}\t{entry.role}")
