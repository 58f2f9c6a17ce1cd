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


def go_duration(nanoseconds: int) -> str:
    """Go's ``time.Duration.String()``: ``0s``, ``812ns``, ``1.5µs``, ``35.2ms``, ``1m2.05s``.

    ``ollama run --verbose`` prints its stats (total duration, eval duration)
    this way; ``hearth run --verbose`` prints the same lines, so someone
    comparing the two, or a script reading them, sees one format.
    """
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    left = abs(nanoseconds)
    if left < 1_000:
        return f"{sign}{left}ns"
    if left < 1_000_000:
        return f"{sign}{_go_fraction(left, 1_000)}µs"
    if left < 1_000_000_000:
        return f"{sign}{_go_fraction(left, 1_000_000)}ms"
    hours, left = divmod(left, 3_600_000_000_000)
    minutes, left = divmod(left, 60_000_000_000)
    seconds = f"{_go_fraction(left, 1_000_000_000)}s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _go_fraction(value: int, unit: int) -> str:
    """``value / unit`` with every digit kept and trailing zeros dropped, as Go does."""
    whole, part = divmod(value, unit)
    digits = str(part).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)
