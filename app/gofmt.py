"""Go's formatting of numbers, where Hearth must print what Ollama (a Go program) prints.

Shared by ``/api/show`` (the Modelfile's PARAMETER lines, ``app.models.show``)
and the Go template engine (``app.runner.go_template``): one rule, one place.
"""

from __future__ import annotations

from decimal import Decimal


def go_float(value: float) -> str:
    """Go's ``%v`` for a float64 (strconv 'g', shortest): ``1``, ``0.5``, ``1e+06``, ``1e-05``.

    Ollama prints parameters with Go's formatting; Python's ``1.0`` would
    make ``/api/show`` differ from Ollama's ``1`` for the same params layer.
    """
    if value != value or value in (float("inf"), float("-inf")):
        return "NaN" if value != value else ("+Inf" if value > 0 else "-Inf")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    _, digit_tuple, exp = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    exponent = len(digits) - 1 + int(exp)  # decimal exponent of the first digit
    if -4 <= exponent < 6:
        if exponent >= 0:
            head, tail = digits[: exponent + 1].ljust(exponent + 1, "0"), digits[exponent + 1 :]
            return sign + head + ("." + tail if tail else "")
        return sign + "0." + "0" * (-exponent - 1) + digits
    tail = "." + digits[1:] if len(digits) > 1 else ""
    return f"{sign}{digits[0]}{tail}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"
