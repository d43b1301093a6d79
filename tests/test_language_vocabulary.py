"""The command vocabulary: loading, validation, YAML extension, grammar export."""
from __future__ import annotations

import pathlib

import pytest
import yaml

from vipa_ros.language import CommandParser, Vocabulary, load_vocabulary, normalize
from vipa_ros.resources import config_path

REQUIRED_COLOURS = ["red", "green", "blue", "yellow", "orange", "purple", "pink", "white", "black", "brown", "grey",
                    "gray", "cyan"]
REQUIRED_CATEGORIES = ["mug", "duck", "tray", "lego brick", "jenga block", "bottle", "can", "cereal box",
                       "milk carton", "lemon", "bread", "plate", "cube", "ball", "bowl", "cylinder"]


def test_default_vocabulary_is_config_vocabulary_yaml():
    v = load_vocabulary()
    assert pathlib.Path(v.source) == config_path("vocabulary.yaml").resolve()
    assert load_vocabulary(config_path("vocabulary.yaml")) is v  # cached
    assert set(v.actions) >= {"pick", "place", "point", "find", "give", "push", "look", "stop"}
    assert v.colours == REQUIRED_COLOURS
    assert list(v.categories) == REQUIRED_CATEGORIES
    assert {"cup", "mug"} <= set(v.categories["mug"]) and "block" in v.categories["cube"]
    assert v.relations and v.ordinals and v.sizes


@pytest.mark.parametrize("phrase,action", [
    ("grab", "pick"), ("take", "pick"), ("pick up", "pick"), ("get", "pick"),
    ("show me", "find"), ("where is", "find"), ("look at", "find"),
    ("hand me", "give"), ("give me", "give"), ("bring me", "give"),
    ("point at", "point"), ("point to", "point"),
    ("put", "place"), ("place", "place"), ("drop", "place"),
    ("cancel", "stop"), ("halt", "stop"), ("stop", "stop"), ("never mind", "stop"),
    ("Pick Up", "pick"), ("dance", None),
])
def test_action_synonyms(phrase, action):
    assert load_vocabulary().action_of(phrase) == action


def test_categories_with_synonyms_and_plurals():
    v = load_vocabulary()
    assert v.category_of("cup") == "mug" and v.category_of("cups") == "mug"
    assert v.category_of("boxes") == "cube" and v.category_of("cereal box") == "cereal box"
    assert v.category_of("rubber ducks") == "duck" and v.category_of("duckies") == "duck"
    assert v.category_of("jenga block") == "jenga block"
    assert v.category_of("unicorn") is None


def test_phrases_for_a_speech_grammar():
    phrases = load_vocabulary().phrases()
    assert phrases == sorted(set(phrases))
    for p in ("pick up", "hand me", "red", "gray", "milk carton", "left of", "second", "small", "stop"):
        assert p in phrases


def _write(tmp_path, data) -> pathlib.Path:
    path = tmp_path / "vocab.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_extending_the_vocabulary_is_a_yaml_edit(tmp_path):
    data = yaml.safe_load(config_path("vocabulary.yaml").read_text())
    data["actions"]["pick"].append("yoink")
    data["actions"]["wave"] = ["wave at", "wave to"]
    data["colours"].append("turquoise")
    data["categories"]["banana"] = ["banana", "plantain"]
    v = load_vocabulary(_write(tmp_path, data))
    parser = CommandParser(v)
    assert parser.parse("yoink the turquoise banana").action == "pick"
    assert parser.parse("wave at the duck").action == "wave"
    assert parser.parse("yoink the turquoise plantains").mentions == {"colours": ["turquoise"],
                                                                       "categories": ["banana"]}
    assert parse_default("yoink the cup") == ("", "yoink the cup")  # the shipped vocabulary is unchanged


def parse_default(text):
    from vipa_ros.language import parse_command

    cmd = parse_command(text)
    return cmd.action, cmd.expression


def test_invalid_vocabularies_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="stop"):
        Vocabulary.from_dict({"actions": {"pick": ["grab"]}})
    with pytest.raises(ValueError, match="both"):
        Vocabulary.from_dict({"actions": {"pick": ["grab"], "stop": ["stop", "grab"]}})
    with pytest.raises(ValueError, match="quote"):  # unquoted on/no/yes read by YAML as booleans
        load_vocabulary(_write_text(tmp_path, "actions: {stop: [stop]}\nfillers: [no, please]\n"))
    with pytest.raises(ValueError, match="list"):
        Vocabulary.from_dict({"actions": {"stop": "stop"}})
    with pytest.raises(ValueError, match="invalid YAML"):
        load_vocabulary(_write_text(tmp_path, "actions: [unclosed\n"))
    with pytest.raises(FileNotFoundError):
        load_vocabulary(tmp_path / "missing.yaml")


def _write_text(tmp_path, text: str) -> pathlib.Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


def test_minimal_vocabulary_in_code():
    v = Vocabulary.from_dict({"actions": {"stop": ["halt"], "pick": ["Grab"]}, "max_chars": 64})
    assert v.actions == {"stop": ["stop", "halt"], "pick": ["pick", "grab"]}  # canonical name first
    cmd = CommandParser(v).parse("GRAB the cup")
    assert (cmd.action, cmd.expression) == ("pick", "the cup")


def test_normalize():
    assert normalize("  Where’s   the RED-ish mug?! ") == "where's the red-ish mug"
    assert normalize("'quoted' -dash- \x00ctl") == "quoted dash ctl"
    assert normalize("Straße") == "strasse"
