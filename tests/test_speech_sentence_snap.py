"""The sentence snapper (vipa_ros.language.speech.sentence_snap) on a small hand-made word graph: a free
transcript goes to the closest whole sentence the graph can say. Fast: no speech backend is loaded."""
from __future__ import annotations

import math

import pytest

from vipa_ros.language.speech.grammar import WordGraph
from vipa_ros.language.speech.sentence_snap import DELETE_COST, INSERT_COST, PRIOR_WEIGHT, SentenceSnapper
from vipa_ros.language.speech.snap import VocabularySnapper


def small_graph() -> WordGraph:
    """(pick | point at) the [red | blue] (cup | mug | bottle) [please]"""
    g = WordGraph()
    verb, the, colour, noun = g.new(), g.new(), g.new(), g.new()
    g.slot(g.start, verb, ["pick", "point at"], 1.0)
    g.phrase(verb, the, "the", 1.0)
    g.slot(the, colour, ["red", "blue"], 0.5)
    g.null(the, colour, 0.5)
    g.slot(colour, noun, ["cup", "mug", "bottle"], 1.0)
    g.phrase(noun, g.final, "please", 0.2)
    g.null(noun, g.final, 0.8)
    return g


@pytest.fixture(scope="module")
def snapper() -> SentenceSnapper:
    g = small_graph()
    return SentenceSnapper(g, VocabularySnapper(sorted(g.words())))  # spelling similarity only


def test_a_sentence_of_the_graph_comes_back_unchanged(snapper):
    for sentence in ("pick the red cup", "point at the bottle please", "pick the blue mug"):
        text, cost = snapper.snap(sentence)
        assert text == sentence
        assert cost < 0.25  # only the small prior term


def test_misheard_words_are_replaced_by_similar_grammar_words(snapper):
    assert snapper.snap("pick the read mag")[0] == "pick the red mug"
    assert snapper.snap("Pick the blue bottles.")[0] == "pick the blue bottle"  # normalised, then snapped


def test_extra_words_are_dropped_and_missing_ones_inserted_to_make_a_whole_sentence(snapper):
    assert snapper.snap("okay pick the blue cup now please")[0] == "pick the blue cup please"
    assert snapper.snap("the red cup")[0] == "pick the red cup"
    assert snapper.snap("point at bottle please")[0] == "point at the bottle please"
    # whatever is heard, the result is a sentence of the graph
    g = small_graph()
    for heard in ("", "hello", "the the the", "what time is it", "mug"):
        text, cost = snapper.snap(heard)
        assert g.accepts(text) and math.isfinite(cost), (heard, text)


class _Fixed:
    """Similarity 1 for identical words, ``other`` for any other pair."""

    def __init__(self, other: float) -> None:
        self.other = other

    def similarity(self, heard: str, word: str) -> float:
        return 1.0 if heard == word else self.other


def test_costs_are_edit_operations_plus_the_weighted_prior():
    g = WordGraph()
    g.slot(g.start, g.final, ["cup", "mug"], 1.0)  # probability 0.5 each
    prior = PRIOR_WEIGHT * -math.log(0.5)
    s = SentenceSnapper(g, _Fixed(0.25))
    assert s.snap("cup") == ("cup", pytest.approx(prior))
    assert s.snap("xyz") == ("cup", pytest.approx(prior + 0.75))        # substitution: 1 - similarity
    assert s.snap("") == ("cup", pytest.approx(prior + INSERT_COST))     # a word said but not heard
    assert s.snap("mug mug") == ("mug", pytest.approx(prior + DELETE_COST))  # a heard word dropped


def test_the_grammar_prior_breaks_ties():
    g = WordGraph()
    g.phrase(g.start, g.final, "cup", 0.3)
    g.phrase(g.start, g.final, "mug", 0.7)
    assert SentenceSnapper(g, _Fixed(0.0)).snap("xyz")[0] == "mug"


def test_a_graph_without_a_complete_sentence_gives_nothing():
    g = WordGraph()
    g.phrase(g.start, g.new(), "cup", 1.0)  # never reaches the final state
    text, cost = SentenceSnapper(g, _Fixed(0.5)).snap("cup")
    assert text == "" and cost == math.inf
