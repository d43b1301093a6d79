"""`vipa listen`: spoken commands from WAV files or the microphone, printed (no ROS needed).

The same pipeline as speech_node (voice activity -> recogniser -> confidence threshold -> command parser):
each utterance prints one line with the transcript, confidence, and the parsed action and expression, or
why it would not be sent as a command. ``--say "pick the blue cup"`` speaks a command with a synthetic voice
first (espeak-ng / flite), for trying it out without a recording.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from .audio import AudioError, read_wav
from .pipeline import Decision, SpeechPipeline
from .vad import VadConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("wav", nargs="*", help="WAV files (any rate, channel count and sample format)")
    parser.add_argument("--mic", action="store_true", help="listen to the default microphone until Ctrl-C")
    parser.add_argument("--device", default="", help="microphone device name or index")
    parser.add_argument("--say", action="append", default=[], metavar="TEXT",
                        help="synthesise TEXT with a test voice and recognise it (repeatable)")
    parser.add_argument("--voice", default="espeak_us_m", help="voice for --say (see `vipa speech-eval --help`)")
    parser.add_argument("--backend", default="grammar", choices=("grammar", "whisper", "combined", "auto"))
    parser.add_argument("--vocabulary", default="", help="vocabulary YAML (default: config/vocabulary.yaml)")
    parser.add_argument("--threshold", type=float, default=0.5, help="confidence_threshold")
    parser.add_argument("--json", action="store_true", help="print one JSON object per utterance")


def _print(decision: Decision, source: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"source": source, **decision.to_dict()}), flush=True)
        return
    r = decision.result
    if decision.accepted:
        p = decision.parsed
        print(f"{source}: '{r.transcript}'  confidence {r.confidence:.2f}  -> action '{p.action}' expression "
              f"'{p.expression}'  ({r.timings_ms.get('total', 0):.0f} ms)", flush=True)
    else:
        print(f"{source}: not sent: '{r.transcript}' ({decision.reason})", flush=True)


def run(args: argparse.Namespace) -> int:
    from .recognizer import create_recognizer

    if not (args.wav or args.mic or args.say):
        raise SystemExit("give WAV files, --say TEXT or --mic")
    recognizer = create_recognizer(args.backend, args.vocabulary or None)
    pipeline = SpeechPipeline(recognizer, VadConfig(), args.threshold)
    failed = 0
    for text in args.say:
        from .tts import synthesize

        for decision in pipeline.recognize_audio(synthesize(text, args.voice)):
            _print(decision, f"said '{text}'", args.json)
    for path in args.wav:
        try:
            samples, rate = read_wav(path)
        except AudioError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            failed += 1
            continue
        pipeline.push(samples.mean(axis=1), rate)
        pipeline.flush()
        decisions = pipeline.process_pending()
        if not decisions:
            print(f"{path}: no speech found", flush=True)
        for decision in decisions:
            _print(decision, path, args.json)
    if args.mic:
        from .microphone import MicrophoneUnavailable, open_microphone

        try:
            stream = open_microphone(pipeline.push, args.device)
        except MicrophoneUnavailable as exc:
            print(f"no microphone: {exc}", file=sys.stderr)
            return 1
        print("listening (Ctrl-C to stop) ...", flush=True)
        try:
            while True:
                if pipeline.wait(0.2):
                    for decision in pipeline.process_pending():
                        _print(decision, "mic", args.json)
                else:
                    time.sleep(0.01)
        except KeyboardInterrupt:
            pass
        finally:
            stream.close()
    return 1 if failed else 0
