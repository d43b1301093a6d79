"""The speech grammar generated from config/vocabulary.yaml, its pronunciations, snapping free-form words onto
the vocabulary, and how recognised text meets the command parser."""
from __future__ import annotations

import random
import shutil

import pytest
import yaml

from conftest import REPO_ROOT
from vipa_ros.language import load_vocabulary, parse_command
from vipa_ros.language.speech.g2p import compound_pronunciation, ipa_to_arpabet, load_cmudict
from vipa_ros.language.speech.snap import VocabularySnapper, replace_phrases
from vipa_ros.language.speech.testset import ANCHORS, command_set

pocketsphinx = pytest.importorskip("pocketsphinx", reason="the grammar backend needs pocketsphinx")

from vipa_ros.language.speech.grammar import build_grammar, default_dictionary_path, write_grammar  # noqa: E402


@pytest.fixture(scope="module")
def cmudict():
    return load_cmudict(default_dictionary_path())


@pytest.fixture(scope="module")
def grammar(cmudict):
    return build_grammar(load_vocabulary(), cmudict)


def jsgf_fsg(grammar, tmp_path):
    """The JSGF text compiled by pocketsphinx itself (its own parser, not ours)."""
    gram, _ = write_grammar(grammar, tmp_path)
    jsgf = pocketsphinx.Jsgf(str(gram))
    return jsgf.build_fsg(jsgf.get_rule("vipa_commands.command"), pocketsphinx.LogMath(), 6.5)


def test_every_vocabulary_word_is_in_the_grammar_with_a_pronunciation(grammar):
    vocab = load_vocabulary()
    words = {w for phrase in vocab.phrases() for w in phrase.split()}
    written = {w for w in words if any(c.isdigit() for c in w)}  # "1st": its spoken form "first" is a word too
    assert written == set(grammar.written) == {"1st", "2nd", "3rd", "4th", "5th"}
    assert grammar.missing == []
    # a phrase that sounds like another of its rule ("gray" / "grey") is decoded as that one
    homophone_only = {w for phrase in grammar.homophones for w in phrase.split()} - set(grammar.words)
    assert homophone_only == {"gray", "centre", "dont", "nevermind", "teacup", "ducky"}
    words -= homophone_only
    assert words - written <= set(grammar.words)
    assert set(grammar.words) <= set(grammar.pronunciations) and set(grammar.words) == grammar.fsg.words()
    dictionary_text = grammar.dictionary_text()
    for word in words - written:
        assert f"\n{word} " in "\n" + dictionary_text, word
        assert f" {word} " in f" {grammar.jsgf.replace(';', ' ').replace('|', ' ')} ", word


def test_words_missing_from_the_dictionary_get_generated_pronunciations(grammar):
    # "jenga", "leftmost", "rightmost", "duckie" are not in the CMU dictionary the en-us model ships
    for word in ("jenga", "leftmost", "duckie"):
        assert word in grammar.generated, sorted(grammar.generated)
    assert grammar.pronunciations["jenga"][0].split()[0] == "JH"
    assert ipa_to_arpabet("dʒˈɛŋɡə") == ["JH", "EH", "NG", "G", "AH"]
    assert compound_pronunciation("leftmost", {"left": ["L EH F T"], "most": ["M OW S T"]}.get) == ["L EH F T M OW S T"]


def test_the_test_set_has_60_different_commands_in_the_grammar(grammar, tmp_path):
    commands = command_set()
    assert len(commands) == len(set(commands)) >= 60 and commands[:len(ANCHORS)] == list(ANCHORS)
    assert command_set() == commands  # deterministic
    fsg = jsgf_fsg(grammar, tmp_path)
    actions = set()
    for text in commands:
        assert grammar.fsg.accepts(text), text     # the graph pocketsphinx decodes
        assert fsg.accept(text), text              # the JSGF, compiled by pocketsphinx
        parsed = parse_command(text)
        assert parsed.ok, (text, parsed.error)
        actions.add(parsed.action)
    assert actions == set(load_vocabulary().actions) | {""}  # every action, and bare referring expressions


def test_graph_and_jsgf_reject_what_is_no_command(grammar, tmp_path):
    fsg = jsgf_fsg(grammar, tmp_path)
    for text in ("pick the the cup", "blue pick cup", "the weather is nice today", "pick the", ""):
        assert not grammar.fsg.accepts(text), text
        assert not fsg.accept(text), text


def test_every_sentence_the_graph_generates_parses(grammar):
    """Random walks through the decoder's word graph: whatever pocketsphinx can output, the parser reads
    without error and with the action of its first action phrase."""
    g = grammar.fsg
    arcs: dict[int, list] = {}
    for a, b, _, w in g.transitions:
        arcs.setdefault(a, []).append((b, w))
    rng = random.Random(0)
    vocab = load_vocabulary()
    sentences = 0
    while sentences < 300:
        state, words = g.start, []
        while state != g.final and len(words) < 40:
            state, w = rng.choice(arcs[state])
            if w:
                words.append(w)
        if state != g.final or not words:
            continue
        sentences += 1
        text = " ".join(words)
        parsed = parse_command(text)
        only_fillers = all(w in {x for f in vocab.fillers + vocab.fillers_anywhere for x in f.split()} for w in words)
        assert parsed.ok or only_fillers, (text, parsed.error)


def test_a_yaml_edit_adds_words_to_the_grammar(tmp_path, cmudict):
    data = yaml.safe_load((REPO_ROOT / "config" / "vocabulary.yaml").read_text())
    data["colours"].append("magenta")
    data["categories"]["teapot"] = ["teapot", "kettle"]
    data["actions"]["pick"].append("snatch")
    data["categories"]["plate"].append("zorblax")  # not English: espeak-ng's letter-to-sound rules pronounce it
    path = tmp_path / "vocabulary.yaml"
    path.write_text(yaml.safe_dump(data))
    vocab = load_vocabulary(path)
    g = build_grammar(vocab, cmudict)
    for word in ("magenta", "teapot", "kettle", "snatch", "zorblax"):
        assert word in g.words and word in g.pronunciations
    assert "zorblax" in g.generated and "zorblax" not in cmudict
    for text in ("snatch the magenta kettle", "find the kettles", "put the cup on the zorblax"):
        assert g.fsg.accepts(text), text
    assert not build_grammar(load_vocabulary(), cmudict).fsg.accepts("snatch the magenta kettle")
    parsed = parse_command("snatch the magenta kettle", vocab)
    assert (parsed.action, parsed.expression, parsed.mentions["categories"]) == ("pick", "the magenta kettle",
                                                                                 ["teapot"])


def test_homophones_get_one_spelling(grammar):
    assert grammar.homophones["gray"] == "grey"
    assert grammar.canonical("pick the gray cup") == "pick the grey cup"
    assert replace_phrases("the tea cup on the left", {"tea cup": "teacup"}) == "the teacup on the left"
    assert replace_phrases("abc", {}) == "abc"


# -- snapping free-form (whisper) words onto the vocabulary ----------------------------------------------------------
@pytest.fixture(scope="module")
def snapper(grammar, cmudict):
    prons = dict(cmudict)
    prons.update(grammar.pronunciations)
    return VocabularySnapper(grammar.words + grammar.written, prons, grammar.homophones)


@pytest.mark.parametrize("heard,expected", [
    ("Pick the blue cup.", "pick the blue cup"),
    ("Pick the gray mug", "pick the grey mug"),
    ("Point at the 2nd bottle!", "point at the second bottle"),
    ("pick the blue mag", "pick the blue mug"),
    ("grab the jenger block", "grab the jenga block"),
    ("Hand me the small yellow bowl, please.", "hand me the small yellow bowl please"),
])
def test_heard_words_snap_to_the_vocabulary(snapper, heard, expected):
    result = snapper.snap(heard)
    assert result.text == expected
    assert result.unknown == []
    assert 0.6 <= result.fit <= 1.0


def test_words_far_from_the_vocabulary_stay_and_lower_the_fit(snapper):
    result = snapper.snap("pick the purple giraffe")
    assert result.text == "pick the purple giraffe" and result.unknown == ["giraffe"] and result.fit < 0.5
    parsed = parse_command(result.text)
    assert (parsed.action, parsed.expression) == ("pick", "the purple giraffe")  # the model still gets to try
    exact = snapper.snap("pick the blue cup")
    assert exact.fit == 1.0 and exact.snapped == []


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_grammar_files_are_written(grammar, tmp_path):
    gram, dic = write_grammar(grammar, tmp_path)
    assert gram.read_text().startswith("#JSGF V1.0;") and "public <command>" in gram.read_text()
    assert (tmp_path / "commands.fsg").read_text().startswith("FSG_BEGIN")
    assert "jenga JH" in dic.read_text()
