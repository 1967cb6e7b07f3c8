"""Language codes as users type them ("en", "en-US", "pt_BR") reduced to what engines compare."""

from __future__ import annotations

import re

_CODE = re.compile(r"^[a-zA-Z]{2,3}(?:[-_][a-zA-Z0-9]{2,8})*$")


def base_language(code: str) -> str:
    """``"en-US"`` → ``"en"``; ``"zh-cn"`` → ``"zh"``. Raises ValueError on a malformed code."""
    code = code.strip()
    if not _CODE.match(code):
        raise ValueError(code)
    return re.split(r"[-_]", code)[0].lower()
