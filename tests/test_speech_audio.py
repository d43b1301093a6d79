"""Audio conversion (bytes of any format/rate/channel count -> 16 kHz mono float32), WAV files, and voice-activity
segmentation (one utterance per spoken command), on synthetic signals and real synthetic speech."""
from __future__ import annotations

import shutil
import struct
import wave

import numpy as np
import pytest

from vipa_ros.language.speech.audio import (TARGET_RATE, AudioError, StreamResampler, check_rate, decode_chunk,
                                            float_to_s16le, pcm_to_16k_mono, read_wav, read_wav_16k_mono, resample,
                                            to_16k_mono, write_wav)
from vipa_ros.language.speech.vad import VadConfig, VoiceActivitySegmenter, split_utterances


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


# -- decoding and conversion -------------------------------------------------------------------------------------
def test_s16le_stereo_is_averaged_to_mono():
    left, right = np.array([1000, -2000, 32767], np.int16), np.array([3000, 2000, 32767], np.int16)
    data = np.stack([left, right], axis=1).astype("<i2").tobytes()
    mono, rate = decode_chunk(data, 16000, 2, "S16LE")
    assert rate == 16000 and mono.dtype == np.float32
    np.testing.assert_allclose(mono, (left.astype(np.float32) + right) / 2 / 32768.0)


def test_f32le_and_encoding_aliases():
    x = np.array([0.25, -0.5, 0.0], "<f4")
    for encoding in ("F32LE", "f32le", "float32", "FLOAT_32"):
        mono, _ = decode_chunk(x.tobytes(), 16000, 1, encoding)
        np.testing.assert_array_equal(mono, x)
    mono, _ = decode_chunk(np.array([16384], "<i2").tobytes(), 16000, 1, "int16")
    assert mono[0] == 0.5


@pytest.mark.parametrize("data,rate,channels,encoding,message", [
    (b"\x00\x01" * 10, 16000, 1, "MP3", "unsupported audio encoding 'MP3'"),
    (b"", 16000, 1, "S16LE", "zero-length audio"),
    (b"\x00\x01\x02", 16000, 1, "S16LE", "not a whole number of 1-channel S16LE frames"),
    (b"\x00\x01" * 3, 16000, 2, "S16LE", "not a whole number of 2-channel S16LE frames"),
    (b"\x00\x01" * 4, 16000, 0, "S16LE", "channel count 0"),
    (np.array([0.1, np.nan], "<f4").tobytes(), 16000, 1, "F32LE", "1 NaN/inf samples of 2"),
    (np.array([np.inf], "<f4").tobytes(), 16000, 1, "F32LE", "NaN/inf"),
    (b"\x00\x01" * 4, 0, 1, "S16LE", "outside the supported"),
    (b"\x00\x01" * 4, 7, 1, "S16LE", "outside the supported"),
    (b"\x00\x01" * 4, 10_000_000, 1, "S16LE", "outside the supported"),
    (b"\x00\x01" * 4, float("nan"), 1, "S16LE", "finite number"),
])
def test_bad_chunks_raise_audio_error_saying_why(data, rate, channels, encoding, message):
    with pytest.raises(AudioError, match=message.replace("(", r"\(")):
        decode_chunk(data, rate, channels, encoding)


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 32000, 44100, 48000, 96000])
def test_common_rates_resample_to_16k_keeping_pitch_and_duration(rate):
    x = tone(440.0, 1.0, rate)
    y = pcm_to_16k_mono(float_to_s16le(x), rate, 1, "S16LE")
    assert abs(len(y) - TARGET_RATE) <= 1
    assert dominant_hz(y, TARGET_RATE) == pytest.approx(440.0, abs=2.0)
    assert np.max(np.abs(y)) == pytest.approx(0.5, abs=0.02)  # no gain change


def test_resampling_removes_content_above_the_new_nyquist():
    y = to_16k_mono(tone(11000.0, 0.5, 44100), 44100)  # 11 kHz cannot exist at 16 kHz: filtered, not aliased
    assert np.sqrt(np.mean(y[1000:-1000] ** 2)) < 0.01


def test_integer_arrays_are_scaled_by_their_range():
    np.testing.assert_allclose(to_16k_mono(np.array([-32768, 16384], np.int16), 16000), [-1.0, 0.5])
    np.testing.assert_allclose(to_16k_mono(np.array([0, 128, 255], np.uint8), 16000), [-1.0, 0.0, 127 / 128])
    np.testing.assert_allclose(to_16k_mono(np.array([[2 ** 30, 0]], np.int32), 16000), [0.25])
    with pytest.raises(AudioError, match="dtype"):
        to_16k_mono(np.array(["a"]), 16000)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_streamed_resampling_matches_whole_signal_resampling(rate):
    rng = np.random.default_rng(0)
    x = (tone(300.0, 1.3, rate) + 0.1 * rng.standard_normal(int(1.3 * rate))).astype(np.float32)
    whole = resample(x, rate)
    stream = StreamResampler(rate)
    sizes = rng.integers(1, 4000, 200)
    parts, pos = [], 0
    for n in sizes:
        parts.append(stream.push(x[pos:pos + n]))
        pos += n
        if pos >= len(x):
            break
    parts.append(stream.push(x[pos:]))
    parts.append(stream.flush())
    streamed = np.concatenate(parts)
    assert abs(len(streamed) - len(whole)) <= 1
    n = min(len(streamed), len(whole))
    # identical away from the very start and end (the stream pads with silence where the whole signal ends)
    np.testing.assert_allclose(streamed[200:n - 200], whole[200:n - 200], atol=2e-3)


# -- WAV files ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_pcm_wav_files_of_every_width(tmp_path, width):
    x = tone(500.0, 0.2, 22050, 0.5)
    ints = np.round(x * (2 ** (8 * width - 1) - 1)).astype(np.int64)
    if width == 1:
        raw = (ints + 128).astype(np.uint8).tobytes()
    else:
        raw = b"".join(int(v).to_bytes(width, "little", signed=True) for v in ints)
    path = tmp_path / f"pcm{width}.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(22050)
        w.writeframes(raw)
    samples, rate = read_wav(path)
    assert rate == 22050 and samples.shape == (len(x), 1)
    np.testing.assert_allclose(samples[:, 0], x, atol=1.0 / 2 ** (8 * width - 2))


def test_float_wav_stereo_and_round_trip(tmp_path):
    stereo = np.stack([tone(400.0, 0.1, 48000), tone(400.0, 0.1, 48000) * 0.5], axis=1)
    data = stereo.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 2, 48000, 48000 * 8, 8, 32)
    blob = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path = tmp_path / "float.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(blob)) + blob)
    samples, rate = read_wav(path)
    assert rate == 48000 and samples.shape == stereo.shape
    np.testing.assert_array_equal(samples, stereo)
    assert len(read_wav_16k_mono(path)) == pytest.approx(1600, abs=1)
    out = tmp_path / "out.wav"
    write_wav(out, stereo, 48000)
    again, _ = read_wav(out)
    np.testing.assert_allclose(again, stereo, atol=1 / 32767)


@pytest.mark.parametrize("blob,message", [(b"not a wav at all", "not a RIFF/WAVE file"),
                                           (b"RIFF\x04\x00\x00\x00WAVE", "without fmt/data")])
def test_bad_wav_files_raise_audio_error(tmp_path, blob, message):
    path = tmp_path / "bad.wav"
    path.write_bytes(blob)
    with pytest.raises(AudioError, match=message):
        read_wav(path)
    with pytest.raises(AudioError, match="cannot read WAV file"):
        read_wav(tmp_path / "missing.wav")


def test_check_rate_accepts_numbers_rounding_to_whole_hertz():
    assert check_rate(44100) == 44100 and check_rate(np.float32(22050.0)) == 22050
    with pytest.raises(AudioError):
        check_rate("16000")


# -- voice activity -------------------------------------------------------------------------------------------------
def burst(seconds: float, level_db: float, rng, rate: int = TARGET_RATE) -> np.ndarray:
    """Speech-like: noise amplitude-modulated at a syllable rate (4 Hz), RMS at about ``level_db`` dBFS."""
    n = int(seconds * rate)
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * np.arange(n) / rate)
    x = rng.standard_normal(n) * envelope
    return (x / np.sqrt(np.mean(x ** 2)) * 10 ** (level_db / 20)).astype(np.float32)


def silence(seconds: float, level_db: float | None, rng) -> np.ndarray:
    n = int(seconds * TARGET_RATE)
    if level_db is None:
        return np.zeros(n, np.float32)
    return (rng.standard_normal(n) * 10 ** (level_db / 20)).astype(np.float32)


@pytest.mark.parametrize("noise_db", [None, -60.0, -45.0])
def test_utterances_separated_by_pauses_are_found_with_their_boundaries(noise_db):
    rng = np.random.default_rng(1)
    parts = [silence(1.0, None, rng), burst(1.2, -20, rng), silence(1.0, None, rng), burst(0.8, -25, rng),
             silence(1.5, None, rng)]
    audio = np.concatenate(parts)
    if noise_db is not None:  # a steady background under everything
        audio = audio + silence(len(audio) / TARGET_RATE, noise_db, rng)
    utts = split_utterances(audio)
    assert len(utts) == 2, [(u.speech_start_s, u.speech_end_s) for u in utts]
    for u, (start, end) in zip(utts, [(1.0, 2.2), (3.2, 4.0)]):
        assert (u.speech_start_s, u.speech_end_s) == (pytest.approx(start, abs=0.08), pytest.approx(end, abs=0.08))
    for u in utts:
        assert not u.truncated
        assert u.start_s == pytest.approx(u.speech_start_s - 0.25, abs=0.03)  # pre-roll
        assert len(u.audio) == pytest.approx((u.end_s - u.start_s) * TARGET_RATE, abs=1)


def test_a_pause_within_an_utterance_does_not_split_it():
    rng = np.random.default_rng(2)
    audio = np.concatenate([silence(0.5, None, rng), burst(0.5, -20, rng), silence(0.3, None, rng),
                            burst(0.5, -20, rng), silence(1.0, None, rng)])
    (utt,) = split_utterances(audio)
    assert utt.speech_start_s == pytest.approx(0.5, abs=0.05) and utt.speech_end_s == pytest.approx(1.8, abs=0.05)


def test_clicks_and_quiet_sounds_are_not_utterances():
    rng = np.random.default_rng(3)
    click = burst(0.08, -10, rng)
    whisper_quiet = burst(1.0, -58, rng)  # below vad_min_energy_db
    audio = np.concatenate([silence(1.0, None, rng), click, silence(1.0, None, rng), whisper_quiet,
                            silence(1.0, None, rng)])
    assert split_utterances(audio) == []


def test_long_speech_is_cut_at_max_utterance_ms():
    rng = np.random.default_rng(4)
    audio = np.concatenate([silence(0.5, None, rng), burst(5.0, -20, rng), silence(1.0, None, rng)])
    utts = split_utterances(audio, VadConfig(max_utterance_ms=2000.0))
    assert len(utts) == 3 and utts[0].truncated and utts[1].truncated and not utts[2].truncated
    assert sum(u.speech_end_s - u.speech_start_s for u in utts) == pytest.approx(5.0, abs=0.1)


def test_streaming_in_any_chunk_size_gives_the_same_utterances():
    rng = np.random.default_rng(5)
    audio = np.concatenate([silence(0.7, -55, rng), burst(1.0, -20, rng), silence(0.9, -55, rng), burst(0.6, -22, rng),
                            silence(1.0, -55, rng)])
    whole = split_utterances(audio)
    vad = VoiceActivitySegmenter()
    streamed, pos = [], 0
    for n in rng.integers(1, 2500, 1000):
        streamed += vad.push(audio[pos:pos + n])
        pos += n
        if pos >= len(audio):
            break
    streamed += vad.push(np.zeros(vad.frame_len * 40, np.float32)) + vad.flush()
    assert len(whole) == len(streamed) == 2
    for a, b in zip(whole, streamed):
        assert (a.start_s, a.end_s, a.speech_start_s, a.speech_end_s) == (b.start_s, b.end_s, b.speech_start_s,
                                                                          b.speech_end_s)
        np.testing.assert_array_equal(a.audio, b.audio)


def test_vad_config_from_ros_parameter_names():
    cfg = VadConfig.from_mapping({"vad_hangover_ms": 300, "vad_threshold_db": 10.0, "unrelated": 1})
    assert cfg.hangover_ms == 300.0 and cfg.threshold_db == 10.0
    with pytest.raises(ValueError, match="max_utterance_ms"):
        VadConfig.from_mapping({"vad_min_utterance_ms": 500, "vad_max_utterance_ms": 400})


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_two_spoken_commands_become_two_utterances():
    from vipa_ros.language.speech.tts import synthesize

    a, b = synthesize("pick the blue cup", "espeak_us_m"), synthesize("stop", "espeak_us_m")
    gap = np.zeros(int(0.5 * TARGET_RATE), np.float32)
    utts = split_utterances(np.concatenate([a, gap, b]))
    assert len(utts) == 2
    assert utts[0].end_s <= len(a) / TARGET_RATE + 0.5 <= utts[1].start_s + 0.3


def test_speech_likeness_tells_syllables_from_steady_sound():
    from vipa_ros.language.speech.vad import energy_spread_db, speech_likeness

    rng = np.random.default_rng(6)
    steady = [rng.standard_normal(24000) * 0.1, 0.2 * np.sin(2 * np.pi * 100 * np.arange(24000) / TARGET_RATE)]
    for x in steady:
        assert energy_spread_db(x) < 2.0 and speech_likeness(x) == 0.0
    syllables = burst(1.5, -20, rng) * (0.2 + np.abs(np.sin(2 * np.pi * 3 * np.arange(24000) / TARGET_RATE)))
    assert energy_spread_db(syllables) > 10.0 and speech_likeness(syllables) == 1.0
    assert speech_likeness(np.zeros(10, np.float32)) == 0.0
