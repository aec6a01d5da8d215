"""One conversion of database and numpy values to JSON: NaN and infinities become null."""

from __future__ import annotations

import base64
import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd


def json_value(value: Any) -> Any:  # noqa: PLR0911 - one return per kind of value
    """``value`` as JSON accepts it: finite numbers, strings, None, lists.

    NaN and ±inf become None (JSON has no NaN); numpy scalars and arrays become
    Python ones; times become ISO strings; bytes become base64; decimals floats.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return json_value(float(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, (str, int, bool)):
        return value
    return str(value)
