"""The skill registry: intent -> a function from a request to a reply (or None: it declines)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..events import Hypothesis
from .timers import Timers

SkillFn = Callable[["SkillRequest"], "str | None"]


@dataclass
class SkillRequest:
    """What a skill gets: the chosen text, the intent, the n-best list, the clock and the timers."""

    text: str
    intent: str
    nbest: tuple[Hypothesis, ...] = ()
    now: dt.datetime = field(default_factory=dt.datetime.now)
    timers: Timers = field(default_factory=Timers)


class SkillRegistry:
    """Intent name -> skill function."""

    def __init__(self) -> None:
        self._skills: dict[str, SkillFn] = {}
        self._triggers: list[tuple[re.Pattern[str], str]] = []

    def register(self, intent: str, fn: SkillFn, trigger: str | None = None) -> None:
        """Answer ``intent`` with ``fn`` (replacing any earlier skill for it).

        ``trigger`` (a regex) claims requests for this skill whatever the classifier
        says, for requests the training data has no intent for (MASSIVE has no timers).
        """
        self._skills[intent] = fn
        if trigger:
            self._triggers.append((re.compile(trigger, re.I), intent))

    def skill(self, intent: str, trigger: str | None = None) -> Callable[[SkillFn], SkillFn]:
        """Decorator form of :meth:`register`."""

        def wrap(fn: SkillFn) -> SkillFn:
            self.register(intent, fn, trigger)
            return fn

        return wrap

    def triggered(self, text: str) -> str | None:
        """The intent whose trigger matches ``text``, if any (first registered wins)."""
        return next((intent for pattern, intent in self._triggers if pattern.search(text)), None)

    def __contains__(self, intent: str) -> bool:
        return intent in self._skills

    def run(self, req: SkillRequest) -> str | None:
        """The skill's reply, or None when there is no skill or it declines."""
        fn = self._skills.get(req.intent)
        return fn(req) if fn else None
