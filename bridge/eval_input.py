"""One line of `modbridge rules eval` input, read by its pydantic model.

bridge/evaluate.py reads the usual line itself and hands any other to ``validated``, which
accepts it or says why not. Apart because pydantic models stay interpreted: the wheel
compiles bridge/evaluate.py (setup.py).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from domain.model import Platform


class InputLine(BaseModel):
    """One line of `rules eval` input."""

    model_config = ConfigDict(extra="ignore")

    id: str | int
    platform: Platform = Platform.CLI
    author: str = Field(min_length=1)
    channel: str = "general"
    text: str
    ts: float | None = None

    @field_validator("platform", mode="before")
    @classmethod
    def _older_name(cls, value: object) -> object:
        # input written for earlier versions named the command line's platform "test"
        return Platform.CLI if value == "test" else value


# A line's fields: id, platform, author, channel, text, ts (None: now).
Fields = tuple[str | int, Platform, str, str, str, float | None]


def validated(raw: str) -> Fields | str:
    """The fields of a line as InputLine reads them, or the error text of its refusal."""
    try:
        item = InputLine.model_validate_json(raw)
    except ValidationError as exc:
        return error_text(exc)
    return item.id, item.platform, item.author, item.channel, item.text, item.ts


def error_text(exc: ValidationError) -> str:
    """pydantic's refusal as one line: each field and what is wrong with it."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "line"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
