"""How long an idle model stays loaded, as Ollama writes it: seconds (a number or a numeric string), a duration
("10m", "1h30m", "45s", "500ms"), a negative value for "until unloaded", 0 for "unload when this request is done".
"""

from __future__ import annotations

import math
import re

from api.wire.errors import ApiError

PINNED = -1.0
"""Never unloaded for being idle (`keep_alive` negative)."""

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def seconds(value: object, param: str = "keep_alive") -> float:
    """`value` in seconds (PINNED for a negative one); a 400 naming `param` for anything else."""
    if isinstance(value, bool) or value is None:
        raise _invalid(param)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise _invalid(param)
        return PINNED if value < 0 else float(value)
    if not isinstance(value, str):
        raise _invalid(param)
    text = value.strip()
    try:
        return seconds(float(text), param)
    except ValueError:
        pass
    negative = text.startswith("-")
    body = text.removeprefix("-")
    parts = _DURATION.findall(body)
    if not parts or "".join(number + unit for number, unit in parts) != body:
        raise _invalid(param)
    total = sum(float(number) * _UNITS[unit] for number, unit in parts)
    return PINNED if negative and total else total


def _invalid(param: str) -> ApiError:
    return ApiError(400, f"'{param}' must be seconds (a number) or a duration such as \"10m\", \"1h30m\" or "
                         "\"-1\" (never unload); 0 unloads the model when the request is done.", param=param,
                    code="invalid_value")
