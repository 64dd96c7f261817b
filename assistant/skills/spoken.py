"""Numbers, times and durations as words: parsing what was said and saying results."""

from __future__ import annotations

import datetime as dt
import re

from num2words import num2words

_UNITS_WORDS = {
    "zero": 0, "oh": 0, "one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
_SCALE_WORDS = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_NUMBER_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+")


def words_to_numbers(text: str) -> str:
    """Replace spelled-out numbers with digits: "twelve times seven" -> "12 times 7"."""
    out: list[str] = []
    current: float | None = None
    total = 0.0
    last: int | None = None  # the last word's value: "seven thirty" is two numbers, "thirty seven" one

    def flush() -> None:
        nonlocal current, total, last
        last = None
        if current is not None:
            value = total + current
            out.append(str(int(value)) if value == int(value) else str(value))
        current, total = None, 0.0

    for tok in re.findall(r"\d+(?:\.\d+)?|[A-Za-z]+|[^\sA-Za-z\d]", text.lower().replace("-", " ")):
        if tok in _UNITS_WORDS and not (tok in ("a", "an", "oh") and current is None):
            value = _UNITS_WORDS[tok]
            if current is not None and last is not None and (last < 10 or value >= 10):
                flush()
            current = (current or 0) + value
            last = value
        elif tok in _SCALE_WORDS and current is not None:
            last = None  # "hundred and fifty" goes on
            if _SCALE_WORDS[tok] == 100:
                current *= 100
            else:
                total += current * _SCALE_WORDS[tok]
                current = 0
        elif tok == "and" and current is not None:
            continue
        else:
            flush()
            out.append(tok)
    flush()
    return " ".join(out)


def say_number(x: float) -> str:
    """A result as it should be spoken: whole numbers plainly, others to two decimals."""
    if abs(x - round(x)) < 1e-9:
        return num2words(round(x))
    return num2words(round(x, 2))


def say_time(t: dt.datetime | dt.time) -> str:
    """"3:05 pm" -> "three oh five p m"."""
    hour = t.hour % 12 or 12
    suffix = "a m" if t.hour < 12 else "p m"
    if t.minute == 0:
        return f"{num2words(hour)} {suffix}"
    minute = f"oh {num2words(t.minute)}" if t.minute < 10 else num2words(t.minute)
    return f"{num2words(hour)} {minute} {suffix}"


def say_duration(seconds: float) -> str:
    seconds = round(seconds)
    parts = []
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{num2words(n)} {unit}{'s' if n != 1 else ''}")
    return " and ".join(parts) or "zero seconds"
