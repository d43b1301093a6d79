"""A deterministic set of spoken-command test sentences generated from the vocabulary.

Used by the recognition-rate tests and ``vipa listen`` demos: every sentence uses only vocabulary words (in
their canonical spelling: "grey" not "gray", "first" not "1st"), covers every action, and mixes politeness
fillers, colours, sizes, ordinals, relations, destinations, pronouns and negations.
"""
from __future__ import annotations

import random

from ..vocabulary import Vocabulary, load_vocabulary

# Speech that is no command (people talking near the robot): must not become one.
OUT_OF_GRAMMAR = ("the weather is lovely today isn't it", "i had pasta for lunch", "where did you put my keys",
                  "turn on the lights in the kitchen", "what time is it", "my brother lives in chicago",
                  "this meeting could have been an email", "let's watch a movie tonight", "how are you doing",
                  "the quarterly report is due on friday")

# Always first: the commands named in the design documents and issues.
ANCHORS = ("pick the blue cup", "could you grab the red mug on the left please", "point at the second bottle",
           "hand me the small yellow ball", "stop")

# {slot} names: action phrases by canonical action ({pick}, {place}, ...), {colour}, {size}, {ordinal},
# {category}, {rel} (relation that needs an object), {where} (relation without one), {dest_<action>},
# {negation}, {pronoun}, {filler_start}, {filler_end}.
TEMPLATES = (
    "{pick} the {colour} {category}",
    "could you {pick} the {colour} {category} {where} please",
    "{point} the {ordinal} {category}",
    "{give} the {size} {colour} {category}",
    "{place} the {category} {dest_place} the {colour} {category}",
    "{find} the {size} {category} {rel} the {category}",
    "{stop}",
    "{negation} {pick1} {pronoun}",
    "the {colour} {category} {where}",
    "{push} the {colour} {category} {dest_push} the {category}",
    "{look} the {ordinal} {size} {category}",
    "{filler_start} {pick} the {category} {rel} the {colour} {category}",
    "{find} the {colour} {category} {filler_end}",
    "{point} the {size} {category} {where}",
)

WHERE = ("on the left", "on the right", "in the middle", "in the center", "on the left side", "on the right side")
RELATIONS_WITH_OBJECT = ("left of", "right of", "to the left of", "to the right of", "next to", "beside", "near",
                         "behind", "in front of", "on top of", "under", "closest to", "far from")
START_FILLERS = ("could you", "can you", "please", "hey robot", "okay", "now", "would you please", "i want you to")
END_FILLERS = ("please", "thank you", "for me", "now", "quickly")


# Action phrases that do not take a direct object in English ("look around", bare "point") or only an
# indefinite one ("is there a ..."): left out of the object templates.
INTRANSITIVE = {"point", "look", "look around", "see", "is there", "show", "halt", "freeze", "enough"}


def _spoken(words: list[str]) -> list[str]:
    """Drop written forms with digits and repeated spellings of one sound (the grammar has one of each)."""
    out = [w for w in words if not any(c.isdigit() for c in w)]
    drop = {"gray", "centre", "ok", "dont", "nevermind", "teacup", "ducky", "in the centre"}
    return [w for w in out if w not in drop]


def command_set(vocabulary: Vocabulary | None = None, n: int = 66, seed: int = 0) -> list[str]:
    """``n`` different commands (the :data:`ANCHORS` first), the same for the same vocabulary and seed."""
    v = vocabulary if vocabulary is not None else load_vocabulary()
    rng = random.Random(seed)
    slots: dict[str, list[str]] = {a: [p for p in _spoken(list(ps)) if a == "stop" or p not in INTRANSITIVE]
                                   for a, ps in v.actions.items()}
    slots.update({
        "colour": _spoken(v.colours), "size": _spoken(v.sizes),
        "ordinal": [o for o in _spoken(v.ordinals) if o not in ("next", "other", "front", "back")],
        "category": _spoken([name for names in v.categories.values() for name in names]),
        "rel": [r for r in RELATIONS_WITH_OBJECT if r in v.relations],
        "where": [r for r in WHERE if r in v.relations],
        "negation": _spoken(v.negations), "pronoun": _spoken(v.pronouns),
        "pick1": [p for p in slots.get("pick", []) if " " not in p],
        "filler_start": [f for f in START_FILLERS if f in v.fillers],
        "filler_end": [f for f in END_FILLERS if f in v.fillers],
    })
    for action, preps in v.destinations.items():
        slots[f"dest_{action}"] = _spoken(preps)
    out: list[str] = [a for a in ANCHORS]
    seen = set(out)
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 100 * n:
            raise ValueError(f"the vocabulary yields fewer than {n} different commands")
        template = TEMPLATES[(len(out) + attempts) % len(TEMPLATES)]
        try:
            text = template.format_map({k: rng.choice(vals) for k, vals in slots.items() if vals})
        except KeyError:
            continue  # a slot this vocabulary does not fill
        text = " ".join(text.split())
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out[:n]


def enrollment_commands(vocabulary: Vocabulary | None = None, n: int = 60) -> list[str]:
    """``n`` commands for adapting the acoustic model to the synthetic voices (``vipa speech-adapt
    --synthetic``), none of them a test command (:func:`command_set`): other seeds of the same templates, so
    the test set measures the adaptation on commands it was not fitted to."""
    v = vocabulary if vocabulary is not None else load_vocabulary()
    test = set(command_set(v))
    out: list[str] = []
    seen = set(test)
    for seed in range(1, 100):
        for command in command_set(v, n=66, seed=seed):
            if command not in seen:
                seen.add(command)
                out.append(command)
                if len(out) == n:
                    return out
    raise ValueError(f"the vocabulary yields fewer than {n} commands outside the test set")
