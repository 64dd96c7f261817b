"""The speech normaliser on a table of tricky inputs."""

from __future__ import annotations

import pytest

from assistant.speak.normalize import normalize

CASES = [
    ("Wake me at 7 am.", "Wake me at seven a m."),
    ("It's 7:30 pm now", "It's seven thirty p m now"),
    ("At 7:05 and 12:00", "At seven oh five and twelve o'clock"),
    ("Departure 14:00", "Departure fourteen hundred"),
    ("It's on 2024-03-15.", "It's on March fifteenth, twenty twenty-four."),
    ("Born 3/15/1999", "Born March fifteenth, nineteen ninety-nine"),
    ("See you on Mar 3rd", "See you on March third"),
    ("The 2nd of May 2024", "The second of May, twenty twenty-four"),
    ("on 21 June", "on the twenty-first of June"),
    ("It costs $5.50", "It costs five dollars and fifty cents"),
    ("Only $1 or €0.99", "Only one dollar or ninety-nine cents"),
    ("A $1.5 million deal", "A one point five million dollars deal"),
    ("That's 20 EUR", "That's twenty euros"),
    ("£3.01 each", "three pounds and one penny each"),
    ("Up 15% and 3.5%", "Up fifteen percent and three point five percent"),
    ("Run 5km at 12 km/h", "Run five kilometers at twelve kilometers per hour"),
    ("Just 1 kg", "Just one kilogram"),
    ("It is -5°C outside", "It is minus five degrees Celsius outside"),
    ("Wait 30 min please", "Wait thirty minutes please"),
    ("5 in the morning", "five in the morning"),
    ("the 1st and 22nd", "the first and twenty-second"),
    ("In 1999 and 2030", "In nineteen ninety-nine and twenty thirty"),
    ("There are 1,234 people", "There are one thousand, two hundred and thirty-four people"),
    ("Pi is 3.14", "Pi is three point one four"),
    ("Ages 5-10 welcome", "Ages five to ten welcome"),
    ("About 3/4 of them", "About three quarters of them"),
    ("Dr. Smith of Baker St. said", "Doctor Smith of Baker Street said"),
    ("Fruit, e.g. apples, etc.", "Fruit, for example apples, et cetera"),
    ("No. 5 is 10x better", "number five is ten times better"),
    ("Visit example.com today", "Visit example dot com today"),
    ("Rock & roll", "Rock and roll"),
    ("No numbers here.", "No numbers here."),
]


@pytest.mark.parametrize("written, spoken", CASES)
def test_normaliser(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


def test_output_has_no_digits_left_for_common_replies() -> None:
    text = "It's 7:30 pm on May 3rd; the total is $1,234.56 (15% off) for 2 items, 3.5 km away."
    assert not any(ch.isdigit() for ch in normalize(text))
