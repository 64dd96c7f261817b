"""Text normalisation for English speech: what a synthesizer should say for what is written.

"It's 7:30 pm on Mar 3rd; that's $5.50 (15% off), 3 km away." becomes
"It's seven thirty p m on March third; that's five dollars and fifty cents
(fifteen percent off), three kilometers away."

Rules run in order from the most specific pattern (dates, times, money) to the
most general (plain numbers), so a number is read once, in its right sense.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from num2words import num2words

_MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]
_MONTH_ABBR = {m[:3].lower(): m for m in _MONTHS} | {"sept": "September"}
_MONTH_RE = (
    r"(?P<month>January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"
)

_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "", ""),
    "₹": ("rupee", "rupees", "paisa", "paise"),
}
_CURRENCY_CODES = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}
_SCALES = {"k": "thousand", "thousand": "thousand", "m": "million", "million": "million",
           "bn": "billion", "b": "billion", "billion": "billion", "trillion": "trillion"}

# unit: (singular, plural). Matched only right after a number.
_UNITS = {
    "km": ("kilometer", "kilometers"), "m": ("meter", "meters"), "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"), "mi": ("mile", "miles"), "ft": ("foot", "feet"),
    "in": ("inch", "inches"), "kg": ("kilogram", "kilograms"), "g": ("gram", "grams"),
    "mg": ("milligram", "milligrams"), "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"), "l": ("liter", "liters"), "ml": ("milliliter", "milliliters"),
    "km/h": ("kilometer per hour", "kilometers per hour"), "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"), "m/s": ("meter per second", "meters per second"),
    "°c": ("degree Celsius", "degrees Celsius"), "°f": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"), "kb": ("kilobyte", "kilobytes"), "mb": ("megabyte", "megabytes"),
    "gb": ("gigabyte", "gigabytes"), "tb": ("terabyte", "terabytes"), "ms": ("millisecond", "milliseconds"),
    "s": ("second", "seconds"), "sec": ("second", "seconds"), "min": ("minute", "minutes"),
    "h": ("hour", "hours"), "hr": ("hour", "hours"), "hrs": ("hour", "hours"),
    "kw": ("kilowatt", "kilowatts"), "kwh": ("kilowatt hour", "kilowatt hours"), "w": ("watt", "watts"),
    "hz": ("hertz", "hertz"), "khz": ("kilohertz", "kilohertz"), "v": ("volt", "volts"),
}
# Units that are also words or letters ("5 in the morning", "plan a") count only when
# written against the number: "5in", "3h", "10s".
_ATTACHED_ONLY = {"in", "m", "s", "h", "g", "l", "v", "w"}


def _unit_alternation(units: list[str]) -> str:
    return "|".join(sorted((re.escape(u) for u in units), key=len, reverse=True))


_UNIT_SPACED = _unit_alternation([u for u in _UNITS if u not in _ATTACHED_ONLY])
_UNIT_ATTACHED = _unit_alternation(list(_UNITS))

_ABBREVIATIONS = [
    (r"\bDr\.(?=\s+[A-Z])", "Doctor"), (r"\bMr\.", "Mister"), (r"\bMrs\.", "Missus"), (r"\bMs\.", "Miz"),
    (r"\bProf\.", "Professor"), (r"\b([A-Z][a-z]+) St\.", r"\1 Street"), (r"\bSt\.(?=\s+[A-Z])", "Saint"), (r"\be\.g\.", "for example"),  # noqa: E501
    (r"\bi\.e\.", "that is"), (r"\betc\.", "et cetera"), (r"\bvs\.?(?=\s)", "versus"),
    (r"\bapprox\.", "approximately"), (r"\bNo\.(?=\s*\d)", "number"), (r"\bmin\.(?=\s)", "minutes"),
    (r"\bAve\.", "Avenue"), (r"\bJr\.", "Junior"), (r"\bSr\.", "Senior"),
]


def _num(text: str) -> str:
    """A cardinal number as words ("1,234.5" -> "one thousand, two hundred and thirty-four point five")."""
    clean = text.replace(",", "")
    if "." in clean:
        whole, frac = clean.split(".", 1)
        head = num2words(int(whole or "0"))
        return f"{head} point {' '.join(num2words(int(d)) for d in frac)}"
    return num2words(int(clean))


def _year(y: int) -> str:
    return num2words(y, to="year")


def _ordinal(n: int) -> str:
    return num2words(n, to="ordinal")


def _time(h: int, m: int, suffix: str | None) -> str:
    hour = num2words(h)
    if m == 0 and not suffix and h > 12:
        spoken = f"{hour} hundred"  # 14:00, "fourteen hundred"
    elif m == 0:
        spoken = hour if suffix else f"{hour} o'clock"
    elif m < 10:
        spoken = f"{hour} oh {num2words(m)}"
    else:
        spoken = f"{hour} {num2words(m)}"
    if suffix:
        # "a.m." may also end the sentence: keep its last dot.
        spoken += " " + " ".join(suffix.lower().replace(".", "")) + ("." if suffix.endswith(".") else "")
    return spoken


def _money(symbol: str, amount: str, scale: str | None) -> str:
    one, many, sub_one, sub_many = _CURRENCIES[symbol]
    clean = amount.replace(",", "")
    if scale:
        return f"{_num(clean)} {_SCALES[scale.lower()]} {many}"
    whole, _, frac = clean.partition(".")
    w = int(whole or "0")
    words = f"{num2words(w)} {one if w == 1 else many}" if (w or not frac) else ""
    if frac and sub_one:
        cents = int((frac + "0")[:2])
        if cents:
            part = f"{num2words(cents)} {sub_one if cents == 1 else sub_many}"
            words = f"{words} and {part}" if words else part
    elif frac:
        words = f"{_num(clean)} {many}"
    return words


def _plural(n: str) -> bool:
    return n.replace(",", "") not in ("1", "1.0")


_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _rules() -> list[_Rule]:
    def iso_date(m: re.Match[str]) -> str:
        y, mo, d = int(m["y"]), int(m["mo"]), int(m["d"])
        if not (1 <= mo <= 12 and 1 <= d <= 31):
            return m[0]
        return f"{_MONTHS[mo - 1]} {_ordinal(d)}, {_year(y)}"

    def us_date(m: re.Match[str]) -> str:
        mo, d, y = int(m["mo"]), int(m["d"]), int(m["y"])
        if not (1 <= mo <= 12 and 1 <= d <= 31):
            return m[0]
        return f"{_MONTHS[mo - 1]} {_ordinal(d)}, {_year(y)}"

    def month_day(m: re.Match[str]) -> str:
        month = _MONTH_ABBR.get(m["month"][:4].lower().rstrip("."), None) or _MONTH_ABBR.get(m["month"][:3].lower())
        out = f"{month} {_ordinal(int(m['d']))}"
        return out + (f", {_year(int(m['y']))}" if m["y"] else "")

    def day_month(m: re.Match[str]) -> str:
        month = _MONTH_ABBR.get(m["month"][:3].lower())
        out = f"{_ordinal(int(m['d']))} of {month}" if m["of"] else f"the {_ordinal(int(m['d']))} of {month}"
        return out + (f", {_year(int(m['y']))}" if m["y"] else "")

    def clock(m: re.Match[str]) -> str:
        h, mi = int(m["h"]), int(m["m"] or 0)
        if h > 24 or mi > 59:
            return m[0]
        return _time(h, mi, m["ampm"])

    def money(m: re.Match[str]) -> str:
        symbol = m["sym"] or _CURRENCY_CODES[m["code"].upper()]
        return _money(symbol, m["amt"], m["scale"])

    def money_code_after(m: re.Match[str]) -> str:
        return _money(_CURRENCY_CODES[m["code"].upper()], m["amt"], m["scale"])

    def percent(m: re.Match[str]) -> str:
        return f"{_num(m['n'])} percent"

    def unit(m: re.Match[str]) -> str:
        one, many = _UNITS[m["u"].lower()]
        sign = "minus " if m["neg"] else ""
        return f"{sign}{_num(m['n'])} {many if _plural(m['n']) else one}"

    def times(m: re.Match[str]) -> str:
        return f"{_num(m['n'])} times"

    def ordinal(m: re.Match[str]) -> str:
        return _ordinal(int(m["n"].replace(",", "")))

    def range_(m: re.Match[str]) -> str:
        return f"{_num(m['a'])} to {_num(m['b'])}"

    def fraction(m: re.Match[str]) -> str:
        a, b = int(m["a"]), int(m["b"])
        if b == 2:
            return f"{num2words(a)} half" if a == 1 else f"{num2words(a)} halves"
        if b == 4:
            return f"{num2words(a)} quarter" + ("s" if a != 1 else "")
        return f"{num2words(a)} {_ordinal(b)}" + ("s" if a != 1 else "")

    def number(m: re.Match[str]) -> str:
        n = m["n"]
        sign = "minus " if m["neg"] else ""
        plain = n.replace(",", "")
        if "," not in n and "." not in n and len(plain) == 4 and 1100 <= int(plain) <= 2099:
            return sign + _year(int(plain))  # "in 1999", "by 2030"
        return sign + _num(n)

    def url(m: re.Match[str]) -> str:
        text = re.sub(r"^https?://", "", m[0]).rstrip("/")
        return text.replace(".", " dot ").replace("/", " slash ").replace("@", " at ")

    amount = r"(?P<amt>\d[\d,]*(?:\.\d+)?)"
    scale = r"(?:\s?(?P<scale>k|m|bn|b|thousand|million|billion|trillion)\b)?"
    return [
        (re.compile(r"\b(?:https?://)?[\w.-]+@[\w-]+(?:\.[\w-]+)+\b|\bhttps?://\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|io|dev|edu|gov)(?:/\S*)?\b"), url),  # noqa: E501
        (re.compile(r"\b(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})\b"), iso_date),
        (re.compile(r"\b(?P<mo>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})\b"), us_date),
        (re.compile(rf"\b{_MONTH_RE}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{{4}}))?\b"), month_day),
        (re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<of>of\s+)?{_MONTH_RE}(?:,?\s+(?P<y>\d{{4}}))?\b"), day_month),
        (re.compile(r"\b(?P<h>\d{1,2}):(?P<m>\d{2})(?:\s?(?P<ampm>[aApP]\.?[mM]\.?))?(?![\w:])"), clock),
        (re.compile(r"\b(?P<h>\d{1,2})(?P<m>)\s?(?P<ampm>[aApP]\.[mM]\.|[aApP][mM])(?!\w)"), clock),
        (re.compile(rf"(?:(?P<sym>[$€£¥₹])|\b(?P<code>USD|EUR|GBP|JPY|INR)\s?){amount}{scale}", re.I), money),
        (re.compile(rf"\b{amount}{scale}\s?(?P<code>USD|EUR|GBP|JPY|INR)\b", re.I), money_code_after),
        (re.compile(r"(?P<n>\d[\d,]*(?:\.\d+)?)\s?%"), percent),
        (re.compile(r"\b(?P<n>\d+(?:\.\d+)?)x\b"), times),
        (re.compile(rf"(?P<neg>(?<![\w.])-)?(?<![\w.])(?P<n>\d[\d,]*(?:\.\d+)?)(?P<u>{_UNIT_ATTACHED})(?![\w/])", re.I), unit),
        (re.compile(rf"(?P<neg>(?<![\w.])-)?(?<![\w.])(?P<n>\d[\d,]*(?:\.\d+)?)\s(?P<u>{_UNIT_SPACED})(?![\w/])", re.I), unit),
        (re.compile(r"\b(?P<n>\d[\d,]*)(?:st|nd|rd|th)\b"), ordinal),
        (re.compile(r"\b(?P<a>\d+(?:\.\d+)?)\s?[-–]\s?(?P<b>\d+(?:\.\d+)?)\b"), range_),
        (re.compile(r"(?<![\d/])\b(?P<a>\d{1,2})/(?P<b>\d{1,2})\b(?![\d/])"), fraction),
        # Whatever letters still stick to a number ("221B") are read apart from it.
        (re.compile(r"(?<=\d)(?=[A-Za-z])"), lambda m: " "),
        (re.compile(r"(?P<neg>(?<![\w.])-)?(?<![\w.])(?P<n>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\d])"), number),
    ]


_RULES = _rules()
_SYMBOLS = [(" & ", " and "), (" + ", " plus "), (" = ", " equals "), (" x ", " times "), ("°", " degrees")]


def normalize(text: str) -> str:
    """Spell out what a synthesizer would misread: numbers, times, dates, money, units, abbreviations."""
    t = text
    for pattern, repl in _ABBREVIATIONS:
        t = re.sub(pattern, repl, t)
    for rule, fn in _RULES:
        t = rule.sub(fn, t)
    for sym, word in _SYMBOLS:
        t = t.replace(sym, word)
    return re.sub(r"\s+", " ", t).strip()
