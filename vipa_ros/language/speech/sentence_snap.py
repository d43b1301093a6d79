"""Snap a free transcript onto the closest *whole sentence* of the grammar's word graph.

:mod:`.snap` replaces words one at a time, which leaves sentences the grammar cannot say ("pick the gray mug
near" stays wrong in length). Here the transcript is aligned with every path of the word graph at once: the
result is the grammar sentence with the smallest word edit distance to what was heard, where

- substituting a heard word by a grammar word costs ``1 - similarity`` (:meth:`.snap.VocabularySnapper.similarity`:
  by pronunciation where both words are in the dictionary, so "mag" -> "mug" is cheap and "mag" -> "tray" is not),
- leaving out a heard word or inserting a grammar word the speaker did not say costs ``insert_cost`` /
  ``delete_cost`` (0.8: a little less than substituting an unrelated word, which costs ~1),
- every transition adds ``prior_weight`` x its negative log probability, so between equally close sentences the
  one the grammar deems likelier wins (0.05: small, it only breaks near-ties).

The search is a shortest path (Dijkstra) over (graph state, words consumed) pairs; the graph's null transitions are
followed for free apart from their prior. The costs were set on a development set of commands, never on the
test set (see :mod:`.combined_backend`).
"""
from __future__ import annotations

import heapq
import math
from typing import Protocol

from ..vocabulary import normalize
from .snap import WRITTEN


class _Graph(Protocol):
    """What the snapper needs of :class:`.grammar.WordGraph`."""

    transitions: list[tuple[int, int, float, str | None]]

    @property
    def start(self) -> int: ...

    @property
    def final(self) -> int: ...


class _Similarity(Protocol):
    def similarity(self, heard: str, word: str) -> float: ...


INSERT_COST = 0.8
DELETE_COST = 0.8
PRIOR_WEIGHT = 0.05
UNREACHABLE = math.inf


class SentenceSnapper:
    """``snap(text)`` -> (closest grammar sentence, its cost); ("", inf) when the graph has no complete path."""

    def __init__(self, graph: _Graph, similarity: _Similarity, insert_cost: float = INSERT_COST,
                 delete_cost: float = DELETE_COST, prior_weight: float = PRIOR_WEIGHT) -> None:
        self.graph = graph
        self.similarity = similarity
        self.insert_cost = float(insert_cost)
        self.delete_cost = float(delete_cost)
        # state -> [(next state, prior cost of the transition, word or None)]
        self._out: dict[int, list[tuple[int, float, str | None]]] = {}
        for a, b, p, w in graph.transitions:
            self._out.setdefault(a, []).append((b, prior_weight * -math.log(max(p, 1e-300)), w))
        # (heard, grammar word) -> substitution cost; the same pairs recur from utterance to utterance
        self._sub: dict[tuple[str, str], float] = {}

    def substitution_cost(self, heard: str, word: str) -> float:
        key = (heard, word)
        cost = self._sub.get(key)
        if cost is None:
            cost = self._sub[key] = 1.0 - self.similarity.similarity(heard, word)
        return cost

    def snap(self, text: str) -> tuple[str, float]:
        heard = [WRITTEN.get(w, w) for w in normalize(text).split()]
        n = len(heard)
        start, goal = (self.graph.start, 0), (self.graph.final, n)
        dist: dict[tuple[int, int], float] = {start: 0.0}
        back: dict[tuple[int, int], tuple[tuple[int, int], str | None]] = {}
        queue: list[tuple[float, tuple[int, int]]] = [(0.0, start)]
        while queue:
            d, node = heapq.heappop(queue)
            if d > dist.get(node, UNREACHABLE):
                continue  # a stale entry: the node was reached more cheaply since
            if node == goal:
                break
            state, i = node
            moves: list[tuple[tuple[int, int], float, str | None]] = []
            if i < n:  # the heard word i was not said (whisper hallucinated it): skip it
                moves.append(((state, i + 1), self.delete_cost, None))
            for nxt, prior, word in self._out.get(state, ()):
                if word is None:
                    moves.append(((nxt, i), prior, None))
                    continue
                moves.append(((nxt, i), prior + self.insert_cost, word))  # said but not heard
                if i < n:
                    moves.append(((nxt, i + 1), prior + self.substitution_cost(heard[i], word), word))
            for nxt_node, cost, word in moves:
                nd = d + cost
                if nd < dist.get(nxt_node, UNREACHABLE):
                    dist[nxt_node] = nd
                    back[nxt_node] = (node, word)
                    heapq.heappush(queue, (nd, nxt_node))
        if goal not in dist:
            return "", UNREACHABLE
        words: list[str] = []
        node = goal
        while node != start:
            node, word = back[node]
            if word:
                words.append(word)
        return " ".join(reversed(words)), dist[goal]
