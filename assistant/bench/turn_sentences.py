"""Requests split where a person might pause to think: (first part, rest). Written for this project.

The first part alone is never a whole request: it stops on a word that needs more
("for", "the", "and", a number without its unit, a name half said). Two sets, so that
nothing is tuned on the set it is measured on: ``DEV`` chooses the weights and
thresholds, ``TEST`` (held out, 40 requests) reports the figures.
"""

from __future__ import annotations

DEV: list[tuple[str, str]] = [
    ("Set an alarm for", "six thirty tomorrow morning."),
    ("What's the weather going to be like in", "Chicago this weekend?"),
    ("Add bread, butter and", "a dozen eggs to my shopping list."),
    ("Remind me to pick up the", "dry cleaning at five."),
    ("Play something by", "Miles Davis."),
    ("How many ounces are in", "a pound?"),
    ("Turn the volume down to", "twenty percent."),
    ("Send a message to", "Sarah saying I'm running late."),
    ("What is the square root of", "one hundred and forty four?"),
    ("Tell me a joke about", "penguins."),
    ("How long does it take to drive from", "Boston to New York?"),
    ("Set a timer for twenty", "five minutes."),
    ("Who wrote the novel called", "Pride and Prejudice?"),
    ("Convert two hundred euros into", "Japanese yen."),
    ("What time does the sun set in", "Madrid today?"),
    ("How do you spell", "necessary?"),
    ("Book a table for four at", "the Italian place on Main Street."),
    ("Turn off the lights in the", "living room and the hallway."),
    ("What's my schedule for", "next Tuesday afternoon?"),
    ("How do you say thank you in", "Japanese?"),
]

TEST: list[tuple[str, str]] = [
    ("Set a timer for", "ten minutes."),
    ("What is the capital of", "Australia?"),
    ("Turn on the", "kitchen lights."),
    ("Add milk, eggs and", "orange juice to the list."),
    ("Remind me to call my", "mother tomorrow at noon."),
    ("What's the weather like in", "Paris right now?"),
    ("Convert fifty dollars to", "British pounds."),
    ("What is twelve times", "seventeen?"),
    ("Wake me up at", "seven fifteen on Monday."),
    ("Play the latest album by", "Taylor Swift."),
    ("How far is the moon from", "the earth?"),
    ("Call my brother David on his", "mobile phone."),
    ("Who painted the", "Mona Lisa?"),
    ("Tell me the news about", "the football results."),
    ("Set the thermostat to", "twenty one degrees."),
    ("How many days are there in", "a leap year?"),
    ("What does the word", "serendipity mean?"),
    ("Order a large pizza with", "mushrooms and olives."),
    ("Schedule a meeting with", "the design team on Friday."),
    ("How much is one hundred and", "twenty pounds in dollars?"),
    ("Translate good morning into", "Spanish."),
    ("Find me a recipe for", "vegetable soup."),
    ("When is the next train to", "Cambridge?"),
    ("Is it going to rain in", "London tomorrow?"),
    ("Move my dentist appointment to", "next Thursday."),
    ("What is the population of", "Canada?"),
    ("Read me the first chapter of", "my audiobook."),
    ("Dim the bedroom lights to", "thirty percent."),
    ("Give me directions to", "the nearest pharmacy."),
    ("Subtract forty two from", "one hundred."),
    ("What year did the", "Berlin Wall fall?"),
    ("Email the report to", "my manager and copy Lisa."),
    ("How tall is the", "Eiffel Tower?"),
    ("Start a workout playlist with", "upbeat songs."),
    ("Set a reminder for my", "mother's birthday on June third."),
    ("What's the difference between a", "frog and a toad?"),
    ("Text Mike that I'll be there in", "fifteen minutes."),
    ("Cancel my alarm for", "tomorrow morning."),
    ("Tell me a fun fact about", "octopuses."),
    ("Buy tickets for the", "seven o'clock show tonight."),
]
