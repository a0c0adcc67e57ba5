"""HTML from jinja2 templates: the one way the product renders a page or a fragment.

Each package keeps its templates beside its code, in ``<package>/templates/*.j2`` (package data).
Every template is autoescaped, whatever its name (``.html.j2``, ``.svg.j2``): a value from a
persona file, a transcript or a model is text, never markup. A name the template uses that the
caller did not pass is an error (``StrictUndefined``), not an empty string on the page.
"""

from __future__ import annotations

from functools import cache

import jinja2
from markupsafe import Markup


@cache
def environment(package: str) -> jinja2.Environment:
    """The Environment for ``package``'s templates (``package/templates``), built once."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(package: str, template: str, **context) -> str:
    """``package/templates/template`` rendered with ``context``, as a plain ``str``.

    A plain ``str`` (not ``Markup``) so that a caller adding text to it gets no surprise
    escaping; a template that embeds another rendering wraps it in ``Markup`` itself.
    """
    return environment(package).get_template(template).render(**context)


def embed(html: str) -> Markup:
    """What ``render`` returned, to pass to another template as markup (not escaped again).

    Only for the output of our own autoescaped templates: text from anywhere else goes to the
    template as a plain ``str`` and is escaped there.
    """
    return Markup(html)


__all__ = ["embed", "environment", "render"]
