"""Acoustic-model adaptation of the grammar backend (vipa_ros.language.speech.adaptation, `vipa speech-adapt`).

The shipped adaptation to the synthetic voices loads with the wheel's pocketsphinx alone and changes what is
recognised; a missing or corrupt adaptation is reported and left out while recognition goes on; and, where the
SphinxTrain programs are installed, enrolling recordings writes an adaptation that loads. The recognition rate
with the shipped adaptation on the test set is asserted in tests/test_speech_recognition.py.
"""
from __future__ import annotations

import shutil
import struct
import subprocess

import numpy as np
import pytest

pytest.importorskip("pocketsphinx", reason="the grammar backend needs pocketsphinx")
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng not installed (apt-get install espeak-ng)", allow_module_level=True)

from vipa_ros.language import load_vocabulary  # noqa: E402
from vipa_ros.language.speech import adaptation as adapt  # noqa: E402
from vipa_ros.language.speech.pocketsphinx_backend import GrammarRecognizer, _import_pocketsphinx  # noqa: E402
from vipa_ros.language.speech.testset import command_set, enrollment_commands  # noqa: E402
from vipa_ros.language.speech.tts import synthesize  # noqa: E402

SHIPPED = adapt.synthetic_voices_adaptation()
MODEL = _import_pocketsphinx()[1]


def _sphinxtrain() -> bool:
    try:
        adapt.Tools.find()
    except adapt.ToolsMissing:
        return False
    return True


needs_sphinxtrain = pytest.mark.skipif(not _sphinxtrain(), reason=f"SphinxTrain not installed ({adapt.INSTALL_HINT})")


@pytest.fixture(scope="module")
def vocabulary():
    return load_vocabulary()


@pytest.fixture(scope="module")
def adapted(vocabulary):
    return GrammarRecognizer(vocabulary, adaptation=SHIPPED)


def test_the_shipped_adaptation_is_small_and_fitted_to_other_commands():
    files = sorted(p.name for p in SHIPPED.iterdir())
    assert files == [adapt.README_NAME, "means"], files
    assert SHIPPED.joinpath("means").stat().st_size < 1_000_000
    assert adapt.adaptation_config(SHIPPED, MODEL) == {"mean": str(SHIPPED / "means")}
    # fitted to the enrollment commands, which are no test commands
    assert not set(enrollment_commands()) & set(command_set())
    assert "60 enrollment commands (not test commands)" in SHIPPED.joinpath(adapt.README_NAME).read_text()


def test_the_adaptation_changes_recognition(vocabulary, adapted):
    plain = GrammarRecognizer(vocabulary)
    assert adapted.info()["acoustic_adaptation"] == str(SHIPPED) and "adaptation_error" not in adapted.info()
    assert plain.info()["acoustic_adaptation"] == "none"
    said = "search for the wide bowl in front of the bowl"  # an enrollment command, not a test command
    audio = synthesize(said, "espeak_us_f")
    a, b = plain.recognize(audio), adapted.recognize(audio)
    assert a.transcript == "search for the white bowl in front of the bowl"  # the en-us model's wide/white
    assert b.transcript == said and b.confidence > 0.5
    # the adapted means explain the voice better: a higher grammar-vs-phone-loop score per frame
    assert b.details["llr_per_frame"] > a.details["llr_per_frame"] + 1.0, (a.details, b.details)


def _s3_means(path, shape=(42, 3, 128, 13, 13, 13), values=None) -> None:
    """A Sphinx-III Gaussian parameter file of ``shape`` (n_mgau, n_feat, n_density, veclen...)."""
    n_mgau, n_feat, n_density, *veclen = shape
    n = n_mgau * n_density * sum(veclen)
    data = np.zeros(n, np.float32) if values is None else values
    with open(path, "wb") as f:
        f.write(b"s3\nversion 1.0\nendhdr\n" + struct.pack("<i", 0x11223344))
        f.write(struct.pack(f"<{3 + n_feat}i", n_mgau, n_feat, n_density, *veclen) + struct.pack("<i", n))
        f.write(data.astype("<f4").tobytes())


def _bad_adaptations(tmp):
    good = (SHIPPED / "means").read_bytes()
    cases = {}
    cases["missing"] = tmp / "no_such_adaptation"
    (tmp / "empty").mkdir()
    cases["empty directory"] = tmp / "empty"
    for name, content in {"text": b"these are not means\n", "truncated": good[: len(good) // 2]}.items():
        (tmp / name).mkdir()
        (tmp / name / "means").write_bytes(content)
        cases[f"{name} means"] = tmp / name
    (tmp / "shape").mkdir()
    _s3_means(tmp / "shape" / "means", shape=(10, 3, 128, 13, 13, 13))
    cases["wrong-shape means"] = tmp / "shape"
    (tmp / "nan").mkdir()
    values = np.zeros(42 * 128 * 39, np.float32)
    values[7] = np.nan
    _s3_means(tmp / "nan" / "means", values=values)
    cases["NaN means"] = tmp / "nan"
    (tmp / "mllr_text").write_text("1\n3\n13\nnot a number\n")
    cases["garbage MLLR file"] = tmp / "mllr_text"
    (tmp / "mllr_short").write_text("1\n3\n13\n" + "1.0 " * 100)
    cases["truncated MLLR file"] = tmp / "mllr_short"
    (tmp / "binary").write_bytes(bytes(range(256)))
    cases["binary file"] = tmp / "binary"
    return cases


def test_bad_adaptations_are_refused_with_the_reason(tmp_path):
    for what, path in _bad_adaptations(tmp_path).items():
        with pytest.raises(ValueError) as err:
            adapt.adaptation_config(path, MODEL)
        assert str(err.value), what


def test_a_bad_adaptation_is_reported_and_recognition_goes_on(tmp_path, vocabulary, caplog):
    bad = _bad_adaptations(tmp_path)["truncated means"]
    recognizer = GrammarRecognizer(vocabulary, adaptation=bad)
    info = recognizer.info()
    assert info["acoustic_adaptation"] == "none"
    assert str(bad) in info["adaptation_error"] and "truncated" in info["adaptation_error"], info
    assert "not used, recognising with the unadapted model" in caplog.text
    result = recognizer.recognize(synthesize("pick the blue cup", "espeak_us_m"))
    assert result.transcript == "pick the blue cup" and result.confidence > 0.5


def test_the_sendump_and_model_definition_readers(tmp_path):
    mixw = adapt.read_sendump(f"{MODEL}/sendump")
    assert mixw.shape == (5126, 3, 128) and np.allclose(mixw.sum(axis=2), 1.0, atol=1e-4)
    text = adapt.mdef_text(f"{MODEL}/mdef")
    lines = text.splitlines()
    assert lines[:2] == ["0.3", "42 n_base"] and len(lines) == 10 + 42 + 137053
    if shutil.which("pocketsphinx_mdef_convert"):  # the Debian pocketsphinx tool writes the same table
        subprocess.run(["pocketsphinx_mdef_convert", "-text", f"{MODEL}/mdef", str(tmp_path / "mdef.txt")],
                       check=True, capture_output=True)
        assert [x.split() for x in (tmp_path / "mdef.txt").read_text().splitlines()] == [x.split() for x in lines]


def test_speech_adapt_says_what_to_install_without_sphinxtrain(monkeypatch, tmp_path, capsys):
    from vipa_ros.cli import main

    monkeypatch.setattr(adapt, "SPHINXTRAIN_DIRS", ())
    monkeypatch.setenv("SPHINXTRAIN_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["speech-adapt", str(tmp_path / "out"), "--synthetic"]) == 1
    err = capsys.readouterr().err
    assert "apt-get install sphinxtrain sphinxbase-utils" in err and "bw" in err
    assert not (tmp_path / "out").exists()


@needs_sphinxtrain
@pytest.mark.parametrize("method", ["mllr", "map"])
def test_enrolling_recordings_writes_an_adaptation_that_loads(tmp_path, vocabulary, method):
    from vipa_ros.cli import main
    from vipa_ros.language.speech.audio import write_wav

    for i, command in enumerate(enrollment_commands(vocabulary, 8)):
        write_wav(tmp_path / f"u{i}.wav", synthesize(command, "espeak_us_m"), 16000)
        (tmp_path / f"u{i}.txt").write_text(command + "\n")
    (tmp_path / "u8.wav").write_bytes((tmp_path / "u0.wav").read_bytes())
    (tmp_path / "u8.txt").write_text("order a pizza with extra cheese\n")  # not the grammar's words: skipped
    out = tmp_path / "adapted"
    assert main(["speech-adapt", str(out), str(tmp_path), "--method", method]) == 0
    expected = "mllr_matrix" if method == "mllr" else "means"
    assert sorted(p.name for p in out.iterdir()) == sorted([adapt.README_NAME, expected])
    assert "Fitted on 8 utterances (1 skipped)" in (out / adapt.README_NAME).read_text()
    recognizer = GrammarRecognizer(vocabulary, adaptation=out)
    assert recognizer.info()["acoustic_adaptation"] == str(out)
    result = recognizer.recognize(synthesize("pick the blue cup", "espeak_us_m"))
    assert result.transcript == "pick the blue cup"
