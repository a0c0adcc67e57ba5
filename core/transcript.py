"""The transcript contract (see docs/DESIGN.md) and JSON Lines round-trip.

Multi-format readers (CSV, plain text, speaker aliases) live in ``core.readers``.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.files import atomic_write_text

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

Speaker = Literal["agent", "debtor", "third_party"]


class Turn(BaseModel):
    model_config = ConfigDict(extra="allow")

    speaker: Speaker
    text: str


class Transcript(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    language: str = "en"
    persona: str | None = None
    turns: list[Turn] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    def agent_turns(self) -> list[tuple[int, Turn]]:
        return [(i, t) for i, t in enumerate(self.turns) if t.speaker == "agent"]

    def to_json_line(self) -> str:
        line = json.dumps(self.model_dump(mode="json", exclude_none=True), ensure_ascii=False)
        # A lone surrogate (from a bad "\\ud800" escape) cannot be written as UTF-8: U+FFFD.
        return _LONE_SURROGATE.sub("\ufffd", line)

    def content_hash(self) -> str:
        """sha256 of everything the call holds (id, turns, language, persona, metadata, extra
        fields): an edited transcript gets a new hash, a re-read one the same."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


def append_jsonl(path: Path | str, transcript: Transcript) -> None:
    """Append one call to a JSONL file (creating folders as needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(transcript.to_json_line() + "\n")


def write_jsonl_atomic(path: Path | str, transcripts: list[Transcript]) -> None:
    """Write all calls to ``path`` atomically: readers never see a half-written file."""
    atomic_write_text(path, "".join(t.to_json_line() + "\n" for t in transcripts))


def read_jsonl(path: Path | str) -> list[Transcript]:
    """Read a contract-conformant JSONL file (strict; use transcript_formats for lenient reading)."""
    out = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                out.append(Transcript.model_validate_json(line))
    return out
