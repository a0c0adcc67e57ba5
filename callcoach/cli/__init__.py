"""The ``callcoach`` command line: one command group per module, imported lazily."""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    name="callcoach",
    help="Practise debt-collection calls against simulated debtors, and score them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    # Each group lives in its own module; a group whose module is missing is skipped so a
    # partial install still gives a working CLI.
    groups = [
        ("callcoach.cli.personas_cmd", "personas_app", "personas"),
        ("callcoach.cli.chat_cmd", "register", None),
        ("callcoach.cli.bench_cmd", "bench_app", "bench"),
        ("callcoach.cli.users_cmd", "users_app", "users"),
        ("callcoach.cli.rubrics_cmd", "rubrics_app", "rubrics"),
        ("callcoach.cli.score_cmd", "register", None),
    ]
    import importlib

    for module, attr, name in groups:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue
            raise
        obj = getattr(mod, attr)
        if name:
            app.add_typer(obj, name=name)
        else:
            obj(app)


_register()


def main() -> None:
    # Commands report their own problems; these are the safety net for one they did not expect,
    # so a user's mistake (a bad data file, an unreachable server) is never a traceback.
    from core.datafile import DataFileError, capped
    from simulator.backends.base import BackendError

    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except DataFileError as exc:
        for line in capped(exc.problems, noun="line"):
            print(line, file=sys.stderr)
        sys.exit(1)
    except BackendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
