"""Deterministic skills: answers the assistant can give offline, at once, without the LLM.

A skill is a function from a :class:`SkillRequest` to a reply string, or ``None``
when it cannot handle this particular request (the LLM then answers).
Register one for an intent with the decorator::

    from assistant.skills import SkillRequest, default_registry

    skills = default_registry()

    @skills.skill("general_joke")
    def joke(req: SkillRequest) -> str:
        return "I would tell you a UDP joke, but you might not get it."

    bot = Assistant(skills=skills)

Timers and alarms really fire: the session's :class:`Timers` calls back when one
is due, and the assistant says so.
"""

from __future__ import annotations

import ast
import datetime as dt
import itertools
import operator
import re
from collections.abc import Callable

from num2words import num2words

from .registry import SkillFn, SkillRegistry, SkillRequest
from .spoken import say_duration, say_number, say_time, words_to_numbers

# -- date and time ---------------------------------------------------------------------


# A question about the local time or date: "what time is it", "what's the date", "what day is
# it today"; not "how many days are in a week" (the classifier calls that datetime_query).
DATETIME_QUESTION = (
    r"\bwhat(?:'s| is)?\s+(?:the\s+)?(?:current\s+|today'?s\s+)?(?:time|date|day|year|month)\b"
    r"|\btime (?:is it|it is)\b|\b(?:tell me|know|say) the (?:time|date)\b|\btoday'?s date\b|\bdate today\b"
    r"|\bwhich day\b|\bday (?:is it|is today|of the week is)\b|\b(?:is it|is today)\s+(?:\w+day|the weekend)\b"
    r"|^\W*(?:the\s+)?(?:time|date)\W*(?:please)?\W*$"
)


def datetime_skill(req: SkillRequest) -> str | None:
    text = req.text.lower()
    now = req.now
    if re.search(r"\btime\b.*\bin\s+(?!the (?:morning|afternoon|evening))[a-z]", text):
        return None  # another place's time: this clock only knows its own
    if re.search(r"\b(date|day|today|year|month)\b", text) and "time" not in text:
        return f"Today is {now:%A}, {now:%B} {num2words(now.day, to='ordinal')}, {num2words(now.year, to='year')}."
    return f"It's {say_time(now)}."


# -- timers and alarms -------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(hours?|hrs?|minutes?|mins?|seconds?|secs?)\b")
_CLOCK = re.compile(r"\b(\d{1,2})(?:[:.\s](\d{2}))?\s*(a\s?m|p\s?m|in the morning|in the evening|at night|tonight)?\b")


def _parse_duration(text: str) -> float | None:
    total = 0.0
    for n, unit in _DURATION.findall(text):
        total += float(n) * (3600 if unit.startswith(("h",)) else 60 if unit.startswith("m") else 1)
    if re.search(r"\bhalf an? hour\b", text):
        total += 1800
    return total or None


def _parse_clock(text: str, now: dt.datetime) -> dt.datetime | None:
    m = re.search(r"\b(?:at|for|to)\s+(\d{1,2})(?:[:.\s](\d{2}))?\s*(a\s?m|p\s?m|in the morning|in the evening|at night|tonight)?", text)  # noqa: E501
    if not m:
        return None
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    if hour > 23 or minute > 59:
        return None
    suffix = (m.group(3) or "").replace(" ", "")
    if suffix in ("pm", "intheevening", "atnight", "tonight") and hour < 12:
        hour += 12
    elif suffix in ("am", "inthemorning") and hour == 12:
        hour = 0
    due = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if not suffix and hour <= 12 and due <= now:
        due += dt.timedelta(hours=12)  # "at 7" said at 9 am means 7 pm
    if due <= now:
        due += dt.timedelta(days=1)
    if "tomorrow" in text and due.date() == now.date():
        due += dt.timedelta(days=1)
    return due


def alarm_set_skill(req: SkillRequest) -> str | None:
    text = words_to_numbers(req.text)
    duration = _parse_duration(text)
    if duration and ("timer" in text or re.search(r"\bin\s+\d", text)):
        req.timers.add(f"{say_duration(duration)} timer", req.now + dt.timedelta(seconds=duration))
        return f"Okay, a timer for {say_duration(duration)}, starting now."
    due = _parse_clock(text, req.now)
    if due is None and duration:
        due = req.now + dt.timedelta(seconds=duration)
    if due is None:
        return None  # no time understood: let the LLM ask
    day = "tomorrow" if due.date() != req.now.date() else "today"
    req.timers.add(f"alarm for {say_time(due)}", due)
    return f"Alarm set for {say_time(due)} {day}."


def names_a_time(request: str) -> bool:
    """Whether the request gives a duration or a clock time (what the alarm skill needs)."""
    text = words_to_numbers(request)
    return _parse_duration(text) is not None or _parse_clock(text, dt.datetime.now()) is not None


def alarm_query_skill(req: SkillRequest) -> str:
    timers = req.timers.list()
    if not timers:
        return "You have no alarms or timers set."
    parts = [f"{t.label}, due at {say_time(t.due)}" for t in timers]
    return f"You have {num2words(len(timers))}: " + "; ".join(parts) + "."


def alarm_remove_skill(req: SkillRequest) -> str:
    removed = req.timers.remove()
    if not removed:
        return "There was nothing to cancel."
    return f"Cancelled {num2words(len(removed))} alarm{'s' if len(removed) != 1 else ''} and timers." if len(removed) > 1 \
        else f"Cancelled your {removed[0].label}."


# -- arithmetic and conversions -----------------------------------------------------------

_OPS: dict[type, Callable[..., float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow, ast.USub: operator.neg,
}
_OP_WORDS = [
    (r"\bmultiplied by\b|\btimes\b|\bx\b", "*"), (r"\bdivided by\b|\bover\b", "/"), (r"\bplus\b|\badd\b", "+"),
    (r"\bminus\b|\bsubtract\b|\btake away\b", "-"), (r"\bsquared\b", "**2"), (r"\bcubed\b", "**3"),
    (r"\bto the power of\b", "**"),
]


def _safe_eval(expr: str) -> float:
    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > 100:
                raise ValueError("exponent too large")
            return float(_OPS[type(node.op)](left, right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
            return float(_OPS[type(node.op)](ev(node.operand)))
        raise ValueError("not arithmetic")

    return ev(ast.parse(expr, mode="eval"))


def maths_skill(req: SkillRequest) -> str | None:
    return maths_answer(req.text)


def maths_answer(request: str) -> str | None:
    """The sum or unit conversion asked for, worked out and said; None when there is none."""
    conversion = convert_units(request)
    if conversion:
        return conversion
    text = words_to_numbers(request)
    m = re.search(r"square root of (\d+(?:\.\d+)?)", text)
    if m:
        return f"The square root of {say_number(float(m.group(1)))} is {say_number(float(m.group(1)) ** 0.5)}."
    m = re.search(r"(\d+(?:\.\d+)?)\s*(?:%|percent) (?:of|on) (\d+(?:\.\d+)?)", text)
    if m:
        a, b = float(m.group(1)), float(m.group(2))
        return f"{say_number(a)} percent of {say_number(b)} is {say_number(a * b / 100)}."
    expr = text
    for pattern, op in _OP_WORDS:
        expr = re.sub(pattern, f" {op} ", expr)
    tokens = re.findall(r"\d+(?:\.\d+)?|\*\*|[-+*/()]", expr)
    if sum(t[0].isdigit() for t in tokens) < 2 and "**" not in tokens:
        return None
    if any(a[0].isdigit() and b[0].isdigit() for a, b in itertools.pairwise(tokens)):
        return None  # two numbers with no operation between them ("20 50"): not a sum this parser reads
    try:
        value = _safe_eval("".join(tokens))
    except (ValueError, SyntaxError, ZeroDivisionError, OverflowError):
        return "That doesn't work out: you can't divide by zero." if "/0" in "".join(tokens) else None
    spoken = " ".join(tokens).replace("**", "to the power").replace("*", "times").replace("/", "divided by")
    spoken = re.sub(r"\d+(?:\.\d+)?", lambda m: say_number(float(m.group())), spoken)
    return f"{spoken.replace('+', 'plus').replace(' - ', ' minus ')} is {say_number(value)}."


# Length in meters, mass in kilograms, volume in liters; temperature handled apart.
_UNIT_FACTORS = {
    "kilometer": ("length", 1000.0), "meter": ("length", 1.0), "centimeter": ("length", 0.01),
    "mile": ("length", 1609.344), "foot": ("length", 0.3048), "feet": ("length", 0.3048), "inch": ("length", 0.0254),
    "yard": ("length", 0.9144), "kilogram": ("mass", 1.0), "gram": ("mass", 0.001), "pound": ("mass", 0.45359237),
    "ounce": ("mass", 0.028349523), "liter": ("volume", 1.0), "litre": ("volume", 1.0),
    "milliliter": ("volume", 0.001), "gallon": ("volume", 3.785411784), "cup": ("volume", 0.2365882365),
}
_UNIT_NAMES = "|".join(sorted(_UNIT_FACTORS, key=len, reverse=True))
_CONVERT = re.compile(rf"(\d+(?:\.\d+)?)\s*(?:degrees?\s+)?({_UNIT_NAMES}|celsius|fahrenheit)(?:e?s)?\b.*?\b(?:in|to|into)\s+({_UNIT_NAMES}|celsius|fahrenheit)")  # noqa: E501
_HOW_MANY = re.compile(rf"how many ({_UNIT_NAMES})(?:e?s)? (?:are )?(?:in|is) (?:a |an |one )?(\d+(?:\.\d+)?)?\s*({_UNIT_NAMES})")


def _unit_word(name: str, value: float) -> str:
    name = "foot" if name == "feet" else name
    plural = {"foot": "feet", "inch": "inches", "yen": "yen", "yuan": "yuan", "swiss franc": "swiss francs"}.get(
        name, name + "s")
    return name if abs(value - 1) < 1e-9 else plural


def convert_units(text: str) -> str | None:
    """Length, mass, volume and temperature conversions with exact factors."""
    t = words_to_numbers(text.lower()).replace("kilometres", "kilometers").replace("metres", "meters")
    m = _CONVERT.search(t)
    if m:
        value, src, dst = float(m.group(1)), m.group(2), m.group(3)
    else:
        m = _HOW_MANY.search(t)
        if not m:
            return None
        dst, value, src = m.group(1), float(m.group(2) or 1), m.group(3)
    if {src, dst} <= {"celsius", "fahrenheit"}:
        out = value * 9 / 5 + 32 if src == "celsius" else (value - 32) * 5 / 9
        return f"{say_number(value)} degrees {src.title()} is {say_number(out)} degrees {dst.title()}."
    if src not in _UNIT_FACTORS or dst not in _UNIT_FACTORS or _UNIT_FACTORS[src][0] != _UNIT_FACTORS[dst][0]:
        return None
    out = value * _UNIT_FACTORS[src][1] / _UNIT_FACTORS[dst][1]
    return f"{say_number(value)} {_unit_word(src, value)} is {say_number(out)} {_unit_word(dst, out)}."


#: Fixed rates (US dollars per unit), stated in every answer: the assistant is offline.
CURRENCY_RATES_DATE = "January 2026"
CURRENCY_RATES = {
    "dollar": 1.0, "euro": 1.08, "pound": 1.27, "yen": 0.0067, "rupee": 0.012, "yuan": 0.14,
    "canadian dollar": 0.73, "australian dollar": 0.66, "swiss franc": 1.13, "peso": 0.058,
}
_CURRENCY_ALIASES = {
    "usd": "dollar", "us dollar": "dollar", "american dollar": "dollar", "bucks": "dollar", "eur": "euro",
    "british pound": "pound", "sterling": "pound", "gbp": "pound", "japanese yen": "yen", "jpy": "yen",
    "indian rupee": "rupee", "inr": "rupee", "chinese yuan": "yuan", "renminbi": "yuan", "cad": "canadian dollar",
    "aud": "australian dollar", "franc": "swiss franc", "chf": "swiss franc", "mexican peso": "peso",
}


def _currencies_in(text: str) -> list[str]:
    names = sorted([*CURRENCY_RATES, *_CURRENCY_ALIASES], key=len, reverse=True)
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in names) + r")(?:e?s)?\b")
    found: list[str] = []
    taken: list[tuple[int, int]] = []
    for m in pattern.finditer(text):
        if any(a <= m.start() < b for a, b in taken):
            continue
        taken.append(m.span())
        found.append(_CURRENCY_ALIASES.get(m.group(1), m.group(1)))
    return found


def currency_skill(req: SkillRequest) -> str | None:
    return currency_answer(req.text)


def currency_answer(request: str) -> str | None:
    """The conversion between the two currencies named, at the fixed rates; None without two."""
    text = words_to_numbers(request.lower())
    found = _currencies_in(text)
    if len(found) < 2:
        return None
    amount = re.search(r"\d+(?:\.\d+)?", text)
    value = float(amount.group()) if amount else 1.0
    src, dst = found[0], found[1]
    out = value * CURRENCY_RATES[src] / CURRENCY_RATES[dst]
    return (f"At my fixed rates from {CURRENCY_RATES_DATE}, {say_number(value)} {_unit_word(src, value)} "
            f"is about {say_number(out)} {_unit_word(dst, out)}. I'm offline, so I can't check today's rate.")


# -- honest limits -------------------------------------------------------------------------


def offline_skill(what: str) -> SkillFn:
    def reply(req: SkillRequest) -> str:
        return f"I can't reach the internet, so I can't check {what}. I run entirely offline."

    return reply


def no_device_skill(what: str) -> SkillFn:
    def reply(req: SkillRequest) -> str:
        return f"I can't {what} yet: I'm not connected to any devices or accounts."

    return reply


# What each skill must find in a request to answer it (its parser); the intent alone is the
# classifier's guess at the topic. Without these, "What colour do you get when you mix blue
# and yellow?" got "I can't change the lights yet" and "How do you say hello in Spanish?"
# "I can't add to your calendar yet" (measured).
_LIGHTS = r"\b(lights?|lamps?|bulbs?|brightness|lighting)\b"
_DEVICES = r"\b(plugs?|sockets?|switch|tv|television|fan|heater|heating|air ?con\w*|devices?|machine|appliances?|kettle|oven)\b"
_CALENDAR = r"\b(calendar|meetings?|appointments?|events?|remind\w*|schedule|diary|agenda)\b"
_LISTS = r"\b(lists?|shopping|to-?do|groceries)\b"
_EMAIL = r"\b(e-?mails?|mail|inbox|messages?)\b"
_CONTACTS = r"\b(contacts?|phone number|number|address|e-?mail)\b"
_NO_DEVICE: dict[str, tuple[str, str]] = {
    "iot_hue_lighton": ("turn lights on", _LIGHTS), "iot_hue_lightoff": ("turn lights off", _LIGHTS),
    "iot_hue_lightdim": ("dim the lights", _LIGHTS), "iot_hue_lightup": ("brighten the lights", _LIGHTS),
    "iot_hue_lightchange": ("change the lights", _LIGHTS),
    "iot_wemo_on": ("switch devices on", _DEVICES), "iot_wemo_off": ("switch devices off", _DEVICES),
    "iot_cleaning": ("start the vacuum", r"\b(vacuum|hoover|clean\w*|robot|mop)\b"),
    "iot_coffee": ("make coffee", r"\b(coffee|espresso|latte|cappuccino|brew)\b"),
    "email_sendemail": ("send email", r"\b(e-?mail|mail|send|message|reply)\b"),
    "email_query": ("read your email", _EMAIL),
    "email_addcontact": ("change your contacts", _CONTACTS), "email_querycontact": ("look up your contacts", _CONTACTS),
    "social_post": ("post to social media", r"\b(post|tweet|facebook|twitter|instagram|status|share)\b"),
    "takeaway_order": ("order food", r"\b(order|deliver\w*|takeaway|take-away|takeout|pizza|food)\b"),
    "transport_taxi": ("book a taxi", r"\b(taxi|cab|uber|lyft|ride)\b"),
    "transport_ticket": ("book tickets", r"\b(tickets?|book|reserve|seats?)\b"),
    "calendar_set": ("add to your calendar", _CALENDAR), "calendar_query": ("read your calendar", _CALENDAR),
    "calendar_remove": ("change your calendar", _CALENDAR),
    "lists_createoradd": ("add to your lists", _LISTS), "lists_query": ("read your lists", _LISTS),
    "lists_remove": ("change your lists", _LISTS),
    "play_music": ("play music", r"\b(play|music|songs?|album|playlist|track|tune)\b"),
    "play_radio": ("play the radio", r"\b(radio|station|fm)\b"),
    "play_podcasts": ("play podcasts", r"\bpodcasts?\b"),
    "play_audiobook": ("play audiobooks", r"\b(audio ?books?|book)\b"),
}
_OFFLINE: dict[str, tuple[str, str]] = {
    "weather_query": ("the weather", r"\b(weather|rain\w*|snow\w*|sunny|temperature|forecast|wind\w*|umbrella|cold|hot"
                                     r"|warm|humid\w*|storm\w*|degrees|outside)\b"),
    "news_query": ("the news", r"\b(news|headlines?)\b"),
    "qa_stock": ("stock prices", r"\b(stocks?|shares?|market|nasdaq|dow|price of)\b"),
    "transport_traffic": ("the traffic", r"\b(traffic|roads?|commute|jams?|congest\w*)\b"),
    "transport_query": ("timetables", r"\b(trains?|bus(es)?|flights?|timetables?|schedules?|tram|subway|metro"
                                      r"|departures?|arrivals?)\b"),
    "recommendation_events": ("what's on nearby", r"\b(events?|concerts?|happening|going on|shows?|festivals?"
                                                  r"|things to do)\b"),
    "social_query": ("social media", r"\b(facebook|twitter|instagram|tiktok|social|posts?|feed|linkedin)\b"),
}
_TIMERS = r"\b(alarms?|timers?|reminders?|wake)\b"


def default_registry() -> SkillRegistry:
    """The built-in skills."""
    reg = SkillRegistry()
    reg.register("datetime_query", datetime_skill, accepts=DATETIME_QUESTION)
    reg.register("alarm_remove", alarm_remove_skill, r"\b(cancel|stop|remove|delete|clear)\b.*\btimers?\b", _TIMERS)
    reg.register("alarm_query", alarm_query_skill, r"\b(what|which|list|any|how much time)\b.*\btimers?\b", _TIMERS)
    reg.register("alarm_set", alarm_set_skill, r"\btimer\b", accepts=names_a_time)
    # Their parsers are their tests: the LLM picks among intents only where one would answer.
    reg.register("qa_maths", maths_skill, accepts=lambda text: maths_answer(text) is not None)
    reg.register("qa_currency", currency_skill, accepts=lambda text: currency_answer(text) is not None)
    for intent, (what, accepts) in _OFFLINE.items():
        reg.register(intent, offline_skill(what), accepts=accepts)
    for intent, (what, accepts) in _NO_DEVICE.items():
        reg.register(intent, no_device_skill(what), accepts=accepts)
    return reg
