"""Which rows of the public label sets the shipped models never see.

The validity report (``evals/validity.py``) scores a trained component only on rows held out
here; the training scripts (``train_abuse.py``, ``train_clarity.py``) skip them. A row is held
out by a hash of its text (Davidson) or id (CommonLit), so the split needs no file and never
changes.
"""

from __future__ import annotations

import hashlib
import html
import re

HELD_OUT_PREFIXES = "012"  # the first hex digit of the row's sha1: 3/16 of the rows

_MENTION = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+")
_RETWEET = re.compile(r"^(?:\W*RT\b)+\s*:?\s*")


def stable_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def held_out(key: str) -> bool:
    """True for a row the shipped models are never trained on (``key``: its text or id)."""
    return stable_key(key)[0] in HELD_OUT_PREFIXES


def clean_tweet(text: str) -> str:
    """A tweet as a line someone might type: entities decoded, links dropped, handles generic."""
    text = html.unescape(html.unescape(text))
    text = _URL.sub("", text)
    text = _MENTION.sub("@user", text)
    text = re.sub(r"(?:\bRT\s+)?@user:\s*", "", text)
    text = _RETWEET.sub("", text)
    return " ".join(text.split())
