"""The command grammar generated from the vocabulary (config/vocabulary.yaml), for pocketsphinx.

Extending what the robot understands by voice is a YAML edit: every section of the vocabulary becomes a rule
(actions with their synonyms, politeness fillers, negations, pronouns, colours, sizes, ordinals, categories
with their synonyms and plurals, relations, destination prepositions, particles, conjunctions) and the
command rule strings them together the way :mod:`vipa_ros.language.parser` reads them::

    command   = [filler] [filler] body (conjunction body)* [filler]
    body      = stop | negation action [please] [object] [particle]
              | action [please] [object] [particle] [destination (np | pronoun | "me")]
                                                  (actions with destinations: place, push, give, each its own)
              | action [please] [object] [particle]                                        (other actions)
              | np                                     (a bare referring expression: "the mug left of the bowl")
    object    = pronoun | np
    np        = noun (relation-with-object noun)* [relation-alone]
    noun      = [article] [ordinal] [size] [colour] category

A relation ending in a preposition ("left of", "next to", "in") needs an object; the others ("on the left",
"in the middle") stand alone. Likewise a command does not end on a filler that ends in a preposition or a
conjunction ("i want you to", "go ahead and", "then"). Without these two rules, the release of the last consonant
or a breath after the command is heard as "... the loaf in" or "... the bowl and".

The language is written twice from the same sections: as JSGF (``commands.gram``: readable, and what other
JSGF tools take) and as the word graph pocketsphinx decodes (``commands.fsg``). pocketsphinx compiles JSGF by
inlining every rule reference (~20 000 states here, decoding slower than real time); the graph shares its
sub-graphs (a few hundred states) and carries the probabilities of :class:`Priors`. tests/test_speech_grammar.py
checks that both accept the same sentences.

Every word needs a pronunciation: the pocketsphinx dictionary first, then :class:`.g2p.Pronouncer`
(espeak-ng letter-to-sound rules, compounds). Phrases with a word that has none are left out and the words
are listed in ``Grammar.missing`` (the backend logs one warning naming them). Phrases that sound exactly alike
within one rule ("grey"/"gray", "tea cup"/"teacup") cannot be told apart by any recogniser: the grammar keeps
the one listed first in the vocabulary and ``Grammar.homophones`` maps the others to it.
"""
from __future__ import annotations

import os
import pathlib
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from ..vocabulary import STOP, Vocabulary, load_vocabulary
from .g2p import Pronouncer, load_cmudict
from .snap import replace_phrases

ARTICLES = ("the", "a", "an")
EXTRA_OBJECTS = ("me",)  # "give it to me"
HESITATIONS = ("um", "uh", "er", "hmm")  # fillers that are noises rather than words
PREPOSITIONS = frozenset({"of", "to", "from", "with", "without", "in", "on", "at", "by", "into", "onto", "inside",
                          "under", "underneath", "below", "beneath", "above", "over", "behind", "between", "near",
                          "beside", "towards", "toward", "across", "along", "around", "through", "for", "against"})
_TOKEN_OK = re.compile(r"^[^\s;=|*+<>()\[\]{}/\"\\]+$")


@dataclass(frozen=True)
class Priors:
    """Probabilities of the grammar's choices: how likely a spoken command is to have each part.

    Common-sense values for commands to a robot. Acoustically weak words are where they matter: with every
    optional word as likely as its absence, short words ("the") lose to silence, and "a" / "an" or a plural
    "s" win as often as "the" or the singular, although commands almost always say "the cup". (The article and
    plural values were lowered after seeing such errors on the synthetic test set; the others were not tuned.)
    """

    filler: float = 0.15           # each leading ("okay robot", "could you") and the trailing filler slot
    hesitation: float = 0.05       # share of a filler slot for um / uh / er (noises, mostly left to silence)
    stop: float = 0.1              # the utterance is a stop phrase
    negation: float = 0.03         # "don't grab it" (a stop, too)
    bare: float = 0.1              # a bare referring expression, no action
    please: float = 0.03           # "pick please the cup"
    no_object: float = 0.05        # "look around"
    pronoun: float = 0.15          # "pick it up"
    article_the: float = 0.8
    article_other: float = 0.02    # "a", "an": rare when pointing out one object on a table
    ordinal: float = 0.1
    size: float = 0.2
    colour: float = 0.4
    plural: float = 0.03           # "the cups" (of all category names): commands are mostly about one object
    relation: float = 0.3          # "... on the left", "... next to the bowl"
    relation_object: float = 0.6   # of those, a relation naming another object ("left of the bowl")
    particle: float = 0.1          # "pick it up"
    destination: float = 0.5       # place / push / give: "... on the tray"
    destination_pronoun: float = 0.2  # "... to me", "... on it"
    conjunction: float = 0.05      # a second command follows


@dataclass
class Grammar:
    """A generated grammar: JSGF text, word graph, the pronunciations they need, and what had to be left out."""

    jsgf: str
    fsg: "WordGraph"                              # the same language with probabilities (what is decoded)
    pronunciations: dict[str, list[str]]          # word -> ARPAbet strings (first preferred)
    missing: list[str] = field(default_factory=list)      # vocabulary words without a pronunciation
    written: list[str] = field(default_factory=list)      # words with digits ("1st"): left to their spoken form
    generated: dict[str, tuple[str, str]] = field(default_factory=dict)  # word -> (phones, espeak-ng|compound)
    homophones: dict[str, str] = field(default_factory=dict)  # phrase -> the phrase the grammar keeps
    words: list[str] = field(default_factory=list)  # every word the grammar can output, in vocabulary order

    def dictionary_text(self) -> str:
        """The pronunciations in CMU dictionary format (for pocketsphinx's ``dict``)."""
        lines = []
        for word in sorted(self.pronunciations):
            for k, phones in enumerate(self.pronunciations[word]):
                lines.append(f"{word} {phones}" if k == 0 else f"{word}({k + 1}) {phones}")
        return "\n".join(lines) + "\n"

    def canonical(self, text: str) -> str:
        """Replace homophone spellings with the kept one ("pick the gray cup" -> "pick the grey cup")."""
        return replace_phrases(text, self.homophones)


def default_dictionary_path() -> str:
    """The CMU dictionary inside the pocketsphinx wheel."""
    try:
        import pocketsphinx
    except ImportError as exc:
        raise ImportError("the grammar speech backend needs the 'pocketsphinx' package "
                          "(pip install pocketsphinx)") from exc
    return os.path.join(pocketsphinx.get_model_path(), "en-us", "cmudict-en-us.dict")


def vocabulary_sections(vocabulary: Vocabulary) -> dict[str, list[str]]:
    """Phrase lists per grammar rule, in vocabulary order (the order decides which homophone is kept)."""
    v = vocabulary
    with_dest = destination_actions(v)
    conjunction_words = {w for c in v.conjunctions for w in c.split()}
    sections = {
        "act_plain": [p for a, ps in v.actions.items() if a != STOP and a not in with_dest for p in ps],
        "stop": list(v.actions.get(STOP, [])),
        "negation": list(v.negations), "pronoun": list(v.pronouns), "particle": list(v.particles),
        "conjunction": list(v.conjunctions), "colour": list(v.colours),
        "category": [name for names in v.categories.values() for name in names],
        "relation_object": [r for r in v.relations if r.split()[-1] in PREPOSITIONS],
        "relation_alone": [r for r in v.relations if r.split()[-1] not in PREPOSITIONS],
        "ordinal": list(v.ordinals), "size": list(v.sizes),
        "filler": list(v.fillers) + list(v.fillers_anywhere), "anywhere": list(v.fillers_anywhere),
        "filler_end": [f for f in list(v.fillers) + list(v.fillers_anywhere)
                       if f.split()[-1] not in PREPOSITIONS and f.split()[-1] not in conjunction_words],
        "article": list(ARTICLES), "extra_object": list(EXTRA_OBJECTS),
    }
    for a in with_dest:
        sections[f"act_{a}"], sections[f"dest_{a}"] = list(v.actions[a]), list(v.destinations[a])
    return {k: _unique(p for p in ps if p) for k, ps in sections.items()}


def destination_actions(vocabulary: Vocabulary) -> list[str]:
    """Actions that take a destination ("put the cup on the tray"), in vocabulary order."""
    return [a for a in vocabulary.actions if a != STOP and vocabulary.destinations.get(a)]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _phrase_sounds(phrase: str, prons: Mapping[str, list[str]], limit: int = 16) -> list[str]:
    """Phone strings of a phrase (every combination of its words' variants, up to ``limit``), stress removed."""
    out = [""]
    for w in phrase.split():
        variants = [" ".join(ph.rstrip("012") for ph in p.split()) for p in prons[w]]
        out = [f"{a} {b}".strip() for a in out for b in variants][:limit]
    return out


def plural(phrase: str) -> str:
    """Regular English plural of a phrase's last word ("coffee cup" -> "coffee cups", "box" -> "boxes")."""
    words = phrase.split()
    last = words[-1]
    if last.endswith(("s", "x", "z", "ch", "sh")):
        last += "es"
    elif last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return " ".join(words[:-1] + [last])


def build_grammar(vocabulary: Vocabulary | None = None, dictionary: Mapping[str, list[str]] | None = None,
                  use_espeak: bool = True, priors: Priors | None = None, name: str = "vipa_commands") -> Grammar:
    """Generate the command grammar for ``vocabulary`` (default: config/vocabulary.yaml)."""
    v = vocabulary if vocabulary is not None else load_vocabulary()
    if dictionary is None:
        dictionary = load_cmudict(default_dictionary_path())
    sections = vocabulary_sections(v)
    # category plurals the parser accepts ("cups", "boxes"): only real words (in the dictionary) are added
    plurals = [plural(n) for n in sections["category"] if "of" not in n.split()]
    plurals = [p for p in _unique(plurals) if p.split()[-1] in dictionary and p not in sections["category"]]
    sections["plural"] = plurals

    words = _unique(w for ps in sections.values() for p in ps for w in p.split())
    # written forms with digits ("1st", "2nd") are never what a recogniser hears: the spoken form ("first")
    # is a vocabulary word of its own, and the parser accepts both
    written = sorted(w for w in words if any(c.isdigit() for c in w))
    pronouncer = Pronouncer(dictionary, use_espeak=use_espeak)
    prons, missing = pronouncer.pronounce_all(w for w in words if _TOKEN_OK.match(w) and w not in written)
    missing = sorted(set(missing) | {w for w in words if not _TOKEN_OK.match(w)})
    bad = set(missing) | set(written)
    kept = {k: [p for p in ps if not (set(p.split()) & bad)] for k, ps in sections.items()}

    # one spelling per sound within a rule; across rules the context decides ("i want" / "keep an eye on")
    homophones: dict[str, str] = {}
    for key, phrases in kept.items():
        by_sound: dict[str, str] = {}
        unique = []
        for phrase in phrases:
            sounds = _phrase_sounds(phrase, prons)
            same = next((by_sound[x] for x in sounds if x in by_sound), None)
            if same is not None:
                homophones[phrase] = same
                continue
            unique.append(phrase)
            for x in sounds:
                by_sound.setdefault(x, phrase)
        kept[key] = unique
    graph = build_word_graph(kept, priors or Priors())
    output = graph.words()
    return Grammar(jsgf=build_jsgf(kept, name), fsg=graph, pronunciations={w: prons[w] for w in output},
                   missing=missing, written=written, generated=dict(pronouncer.generated), homophones=homophones,
                   words=[w for w in words if w in output])


def build_jsgf(sections: Mapping[str, list[str]], name: str = "vipa_commands") -> str:
    """The command language as JSGF (see the module docstring); the same language as :func:`build_word_graph`."""
    def alternatives(phrases: list[str]) -> str:
        return " | ".join(phrases) if phrases else "<VOID>"

    dest = [k[5:] for k in sections if k.startswith("dest_")]
    rules = ["#JSGF V1.0;", f"grammar {name};", ""]
    for key in ("act_plain", "stop", "negation", "pronoun", "particle", "conjunction", "colour", "relation_object",
                "relation_alone", "ordinal", "size", "filler", "filler_end", "anywhere", "article", "extra_object"):
        rules.append(f"<{key}> = {alternatives(sections[key])};")
    for a in dest:
        rules.append(f"<act_{a}> = {alternatives(sections[f'act_{a}'])};")
        rules.append(f"<dest_{a}> = {alternatives(sections[f'dest_{a}'])};")
    cmds = ["<cmd_plain>"] + [f"<cmd_{a}>" for a in dest]
    any_action = " | ".join(["<act_plain>"] + [f"<act_{a}>" for a in dest])
    rules += [
        f"<category> = {alternatives(sections['category'] + sections['plural'])};",
        "<noun> = [<article>] [<ordinal>] [<size>] [<colour>] <category>;",
        "<np> = <noun> (<relation_object> <noun>)* [<relation_alone>];",
        "<object> = <pronoun> | <np>;",
        "<cmd_plain> = <act_plain> [<anywhere>] [<object>] [<particle>];",
        *(f"<cmd_{a}> = <act_{a}> [<anywhere>] [<object>] [<particle>] [<dest_{a}> (<np> | <pronoun> | "
          "<extra_object>)];" for a in dest),
        f"<cmd_stop> = <stop> | <negation> ({any_action}) [<anywhere>] [<object>] [<particle>];",
        f"<body> = <cmd_stop> | {' | '.join(cmds)} | <np>;",
        "public <command> = [<filler>] [<filler>] <body> (<conjunction> <body>)* [<filler_end>];",
    ]
    return "\n".join(rules) + "\n"


class WordGraph:
    """A finite-state word graph: states are ints, transitions (from, to, probability, word or None).

    States 0 and 1 are start and final; the probabilities leaving each state sum to one.
    """

    def __init__(self) -> None:
        self.n_states = 2
        self.transitions: list[tuple[int, int, float, str | None]] = []

    @property
    def start(self) -> int:
        return 0

    @property
    def final(self) -> int:
        return 1

    def new(self) -> int:
        self.n_states += 1
        return self.n_states - 1

    def null(self, a: int, b: int, prob: float = 1.0) -> None:
        if prob > 0:
            self.transitions.append((a, b, prob, None))

    def phrase(self, a: int, b: int, phrase: str, prob: float) -> None:
        words = phrase.split()
        cur = a
        for k, w in enumerate(words):
            nxt = b if k == len(words) - 1 else self.new()
            self.transitions.append((cur, nxt, prob if k == 0 else 1.0, w))
            cur = nxt

    def slot(self, a: int, b: int, phrases: list[str], prob: float) -> None:
        """One of ``phrases`` from a to b, sharing probability ``prob`` equally."""
        for p in phrases:
            self.phrase(a, b, p, prob / len(phrases))

    def words(self) -> set[str]:
        return {w for *_, w in self.transitions if w}

    def out_probabilities(self) -> dict[int, float]:
        """Sum of the probabilities leaving each state (1 for every state but the final one)."""
        out: dict[int, float] = {}
        for a, _, p, _ in self.transitions:
            out[a] = out.get(a, 0.0) + p
        return out

    def accepts(self, text: str) -> bool:
        """Whether the graph can produce exactly these words (for tests and tooling)."""
        words = text.split()
        nulls: dict[int, list[int]] = {}
        arcs: dict[int, list[tuple[int, str]]] = {}
        for a, b, _, w in self.transitions:
            (arcs.setdefault(a, []).append((b, w)) if w else nulls.setdefault(a, []).append(b))

        def closure(states: set[int]) -> set[int]:
            todo, seen = list(states), set(states)
            while todo:
                for b in nulls.get(todo.pop(), ()):
                    if b not in seen:
                        seen.add(b)
                        todo.append(b)
            return seen

        cur = closure({self.start})
        for w in words:
            cur = closure({b for s in cur for b, x in arcs.get(s, ()) if x == w})
            if not cur:
                return False
        return self.final in cur

    def null_closure(self) -> list[tuple[int, int, float, str | None]]:
        """The transitions with every chain of null transitions replaced by one direct null transition.

        pocketsphinx's FSG search follows only one null transition per frame; optional slots in a row
        ("[article] [ordinal] [size] [colour] category") need the closure to be reachable at all.
        """
        nulls: dict[int, list[tuple[int, float]]] = {}
        for a, b, p, w in self.transitions:
            if w is None and a != b:
                nulls.setdefault(a, []).append((b, p))
        out = [t for t in self.transitions if t[3] is not None]
        for a in range(self.n_states):
            best: dict[int, float] = {}
            todo = [(a, 1.0)]
            while todo:
                s, p = todo.pop()
                for b, q in nulls.get(s, ()):
                    if b != a and p * q > best.get(b, 0.0):
                        best[b] = p * q
                        todo.append((b, p * q))
            out += [(a, b, p, None) for b, p in sorted(best.items())]
        return out

    def to_fsg_text(self, name: str = "vipa_commands") -> str:
        """Sphinx FSG format (``fsg=`` of pocketsphinx), null transitions closed (:meth:`null_closure`)."""
        lines = [f"FSG_BEGIN {name}", f"NUM_STATES {self.n_states}", f"START_STATE {self.start}",
                 f"FINAL_STATE {self.final}"]
        for a, b, p, w in self.null_closure():
            lines.append(f"TRANSITION {a} {b} {p:.6g}" + (f" {w}" if w else ""))
        lines.append("FSG_END")
        return "\n".join(lines) + "\n"


def build_word_graph(sections: Mapping[str, list[str]], priors: Priors) -> WordGraph:
    """The language of :func:`build_jsgf` as a :class:`WordGraph` with the probabilities of ``priors``.

    Sub-graphs are shared where their continuation is the same; the noun sub-graph exists once per context
    (object of plain, negated and each destination-taking action, each destination, bare expression).
    """
    pr, sec = priors, sections
    g = WordGraph()

    def filler_slot(a: int, b: int, fillers: list[str]) -> None:
        words = [f for f in fillers if f not in HESITATIONS]
        noises = [f for f in fillers if f in HESITATIONS]
        share = pr.hesitation if noises else 0.0
        g.slot(a, b, words, pr.filler * (1.0 - share))
        g.slot(a, b, noises, pr.filler * share)
        g.null(a, b, 1.0 - pr.filler)

    def noun_phrase(exit_state: int) -> int:
        """noun (relation-with-object noun)* [relation-alone] -> exit_state; returns the entry state."""
        entry, s1, s2, s3, s4, after = (g.new() for _ in range(6))
        others = [a for a in sec["article"] if a != "the"]
        g.slot(entry, s1, [a for a in sec["article"] if a == "the"], pr.article_the)
        g.slot(entry, s1, others, pr.article_other if others else 0.0)
        g.null(entry, s1, 1.0 - pr.article_the - (pr.article_other if others else 0.0))
        for here, nxt, key, prob in ((s1, s2, "ordinal", pr.ordinal), (s2, s3, "size", pr.size),
                                     (s3, s4, "colour", pr.colour)):
            p = prob if sec[key] else 0.0
            g.slot(here, nxt, sec[key], p)
            g.null(here, nxt, 1.0 - p)
        p_plural = pr.plural if sec["plural"] else 0.0
        g.slot(s4, after, sec["category"], 1.0 - p_plural)
        g.slot(s4, after, sec["plural"], p_plural)
        with_object, alone = sec["relation_object"], sec["relation_alone"]
        share = (pr.relation_object if alone else 1.0) if with_object else 0.0
        p_rel = pr.relation if with_object or alone else 0.0
        g.slot(after, entry, with_object, p_rel * share)
        g.slot(after, exit_state, alone, p_rel * (1.0 - share))
        g.null(after, exit_state, 1.0 - p_rel)
        return entry

    def action_rest(act: int, end: int, destinations: list[str]) -> None:
        """[please] [object] [particle] [destination ...] from act to end."""
        obj, after_obj, after_particle = g.new(), g.new(), g.new()
        p_please = pr.please if sec["anywhere"] else 0.0
        g.slot(act, obj, sec["anywhere"], p_please)
        g.null(act, after_obj, pr.no_object)
        g.null(act, obj, 1.0 - p_please - pr.no_object)
        p_pron = pr.pronoun if sec["pronoun"] else 0.0
        g.slot(obj, after_obj, sec["pronoun"], p_pron)
        g.null(obj, noun_phrase(after_obj), 1.0 - p_pron)
        p_part = pr.particle if sec["particle"] else 0.0
        g.slot(after_obj, after_particle, sec["particle"], p_part)
        g.null(after_obj, after_particle, 1.0 - p_part)
        if not destinations:
            g.null(after_particle, end)
            return
        dest = g.new()
        g.slot(after_particle, dest, destinations, pr.destination)
        g.null(after_particle, end, 1.0 - pr.destination)
        g.slot(dest, end, sec["pronoun"] + sec["extra_object"], pr.destination_pronoun)
        g.null(dest, noun_phrase(end), 1.0 - pr.destination_pronoun)

    start, body, end = g.start, g.new(), g.new()
    cur = start
    for _ in range(2):  # "okay robot" "could you please"
        nxt = g.new()
        filler_slot(cur, nxt, sec["filler"])
        cur = nxt
    g.null(cur, body)

    dest_actions = [k[5:] for k in sec if k.startswith("dest_")]
    groups = [(sec["act_plain"], [])] + [(sec[f"act_{a}"], sec[f"dest_{a}"]) for a in dest_actions]
    actions = [p for phrases, _ in groups for p in phrases]
    p_stop = pr.stop if sec["stop"] else 0.0
    p_neg = pr.negation if sec["negation"] and actions else 0.0
    p_bare = pr.bare if actions else 1.0 - p_stop
    p_act = 1.0 - p_stop - p_neg - p_bare
    g.slot(body, end, sec["stop"], p_stop)
    if p_neg:
        neg, neg_act = g.new(), g.new()
        g.slot(body, neg, sec["negation"], p_neg)
        g.slot(neg, neg_act, actions, 1.0)
        action_rest(neg_act, end, [])
    for phrases, destinations in groups:  # every action phrase equally likely
        if phrases:
            act = g.new()
            g.slot(body, act, phrases, p_act * len(phrases) / len(actions))
            action_rest(act, end, destinations)
    g.null(body, noun_phrase(end), p_bare)

    suffix = g.new()
    g.slot(end, body, sec["conjunction"], pr.conjunction if sec["conjunction"] else 0.0)
    g.null(end, suffix, 1.0 - (pr.conjunction if sec["conjunction"] else 0.0))
    filler_slot(suffix, g.final, sec["filler_end"])
    return g


def write_grammar(grammar: Grammar, directory: str | os.PathLike[str]) -> tuple[pathlib.Path, pathlib.Path]:
    """Write ``commands.gram`` (JSGF), ``commands.fsg`` and ``commands.dict`` into ``directory``.

    Returns the paths of the JSGF and dictionary files (the FSG lies next to them).
    """
    d = pathlib.Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    gram, dic = d / "commands.gram", d / "commands.dict"
    gram.write_text(grammar.jsgf, encoding="utf-8")
    dic.write_text(grammar.dictionary_text(), encoding="utf-8")
    if grammar.fsg is not None:
        (d / "commands.fsg").write_text(grammar.fsg.to_fsg_text(), encoding="utf-8")
    return gram, dic
