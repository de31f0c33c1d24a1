"""The base of every config section: strict types, no unknown key, and each field's
docstring (the string under it) as its description, in `cbrun schema` and in the site's
config reference (scripts/docs_reference.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, use_attribute_docstrings=True)
