"""Command parser: utterance -> (action, expression), fillers, stops, limits, odd input."""
from __future__ import annotations

import time

import pytest

from vipa_ros.language import CommandParser, ParsedCommand, parse_command
from vipa_ros.language.parser import default_parser

# (utterance, action, expression)
TABLE = [
    # the brief's examples
    ("pick the blue cup", "pick", "the blue cup"),
    ("could you grab the red mug on the left please", "pick", "the red mug on the left"),
    ("point at the second bottle", "point", "the second bottle"),
    ("Pick up the small green ball.", "pick", "the small green ball"),
    ("stop", "stop", ""),
    ("hand me the yellow bottle", "give", "the yellow bottle"),
    ("put it down", "place", ""),
    # pick synonyms, particles, politeness
    ("grab the lemon", "pick", "the lemon"),
    ("take the milk carton", "pick", "the milk carton"),
    ("get the cereal box", "pick", "the cereal box"),
    ("pick the red cup up", "pick", "the red cup"),
    ("Can you please pick up the jenga block?", "pick", "the jenga block"),
    ("I want you to pick the duck now", "pick", "the duck"),
    ("please, grasp the bread", "pick", "the bread"),
    ("okay robot, lift the can", "pick", "the can"),
    ("PICK   THE   BLUE    CUP!!!", "pick", "the blue cup"),
    ("  grab\tthe\nred mug  ", "pick", "the red mug"),
    ("pick the cup on the right now", "pick", "the cup on the right"),
    ("pick red mug", "pick", "red mug"),                       # no article is added (see parser docs)
    # find / look
    ("show me the lego brick", "find", "the lego brick"),
    ("where is the bowl?", "find", "the bowl"),
    ("Where's the purple plate", "find", "the purple plate"),
    ("look at the rubber duck", "find", "the rubber duck"),
    ("find the cube closest to the tray", "find", "the cube closest to the tray"),
    ("can you see a white ball", "find", "a white ball"),
    ("look around", "look", ""),
    # point
    ("point to the leftmost can", "point", "the leftmost can"),
    ("point at the third block from the left", "point", "the third block from the left"),
    # give
    ("give me the orange ball", "give", "the orange ball"),
    ("bring me the water bottle please", "give", "the water bottle"),
    ("pass me the grey cylinder", "give", "the grey cylinder"),
    ("hand me the cup next to the bowl", "give", "the cup next to the bowl"),
    ("give the pink cup to me", "give", "the pink cup"),
    # place / push
    ("put the cup on the tray", "place", "the cup"),
    ("place the red block in the bowl", "place", "the red block"),
    ("put the mug on the left on the plate", "place", "the mug on the left"),
    ("drop it", "place", ""),
    ("push the green box to the left", "push", "the green box"),
    ("slide the tray towards the bowl", "push", "the tray"),
    # stop and cancel
    ("Stop!", "stop", ""),
    ("halt", "stop", ""),
    ("cancel that", "stop", ""),
    ("never mind", "stop", ""),
    ("no, stop", "stop", ""),
    ("don't touch the bowl", "stop", ""),
    # no action: the utterance is the expression
    ("the mug left of the bowl", "", "the mug left of the bowl"),
    ("the big brown bread", "", "the big brown bread"),
    ("nimm die rote Tasse", "", "nimm die rote tasse"),
    ("¿Puedes coger la taza roja?", "", "puedes coger la taza roja"),
    ("拿起红色的杯子", "", "拿起红色的杯子"),
    ("blorf zing quux", "", "blorf zing quux"),
    ("the bus stop sign", "", "the bus stop sign"),          # "stop" only counts at the start
]


@pytest.mark.parametrize("utterance,action,expression", TABLE)
def test_parse_table(utterance, action, expression):
    cmd = parse_command(utterance)
    assert (cmd.action, cmd.expression) == (action, expression)
    assert cmd.raw == utterance
    assert cmd.is_stop == (action == "stop")
    assert not cmd.error and not cmd.truncated


def test_table_is_big_enough():
    assert len(TABLE) >= 40


def test_stop_never_has_an_expression():
    for text in ("stop the red cup", "cancel the pick of the mug", "do not grab it"):
        cmd = parse_command(text)
        assert cmd.is_stop and cmd.action == "stop" and cmd.expression == ""


@pytest.mark.parametrize("text", ["", "   ", "\n\t", None])
def test_empty_input(text):
    cmd = parse_command(text)
    assert cmd == ParsedCommand(action="", expression="", raw=text or "", error="empty command")
    assert not cmd.is_stop and not cmd.ok


@pytest.mark.parametrize("text", ["?!...", "🤖👍"])
def test_input_without_words(text):
    cmd = parse_command(text)
    assert cmd.error == "command has no words" and cmd.action == "" and cmd.expression == ""


def test_only_filler_is_an_error_not_a_stop():
    cmd = parse_command("thank you please")
    assert cmd.error and not cmd.is_stop and cmd.expression == ""


def test_very_long_input_is_truncated_at_a_word_boundary():
    text = "pick the red mug " + "on the left of the blue bowl " * 400  # ~12 kB
    assert len(text) > 10_000
    t0 = time.perf_counter()
    cmd = parse_command(text)
    assert time.perf_counter() - t0 < 0.1
    limit = default_parser().max_chars
    assert cmd.truncated and cmd.action == "pick"
    assert len(cmd.normalized) <= limit and len(cmd.expression) <= limit
    assert cmd.expression.startswith("the red mug on the left of the blue bowl")
    assert cmd.normalized == " ".join(cmd.normalized.split())  # cut between words, no half word
    assert text.startswith("pick the red mug") and cmd.raw == text


def test_long_input_without_spaces():
    cmd = parse_command("x" * 10_000)
    assert cmd.truncated and cmd.expression == "x" * default_parser().max_chars


def test_max_chars_override():
    cmd = CommandParser(max_chars=20).parse("pick the small green ball on the table")
    assert cmd.truncated and cmd.normalized == "pick the small green" and cmd.expression == "the small green"


def test_bytes_and_non_strings():
    assert parse_command("grab the cup".encode()).expression == "the cup"
    assert parse_command(b"\xff\xfepick the cup").action in ("", "pick")  # undecodable bytes do not raise
    assert parse_command(42).expression == "42"


def test_details_destination_pronoun_remainder_mentions():
    cmd = parse_command("put it on the tray")
    assert (cmd.action, cmd.expression, cmd.destination, cmd.uses_previous_target) == ("place", "", "on the tray", True)
    cmd = parse_command("pick the cup and then put it on the tray")
    assert (cmd.action, cmd.expression, cmd.remainder) == ("pick", "the cup", "put it on the tray")
    cmd = parse_command("pick the red and blue cups")  # "and" without a following action is kept
    assert cmd.expression == "the red and blue cups"
    cmd = parse_command("pick the second small red cup left of the boxes")
    assert cmd.mentions == {"colours": ["red"], "sizes": ["small"], "ordinals": ["second"],
                            "categories": ["mug", "cube"], "relations": ["left of"]}
    assert parse_command("grab the gray can").mentions["colours"] == ["gray"]


def test_parse_is_deterministic_and_stateless():
    a = parse_command("could you grab the red mug on the left please")
    parse_command("stop")
    b = parse_command("could you grab the red mug on the left please")
    assert a == b
