"""Spoken commands, ROS-free: audio -> 16 kHz mono -> voice-activity utterances -> recogniser -> command text.

- :mod:`.audio`: message bytes / WAV files of any format, rate and channel count -> 16 kHz mono float32
- :mod:`.vad`: one :class:`~.vad.Utterance` per spoken command
- :mod:`.grammar` (+ :mod:`.g2p`): the command grammar generated from config/vocabulary.yaml
- :mod:`.recognizer`: ``create_recognizer("grammar" | "whisper" | "auto")``; backends in
  :mod:`.pocketsphinx_backend` and :mod:`.whisper_backend` (+ :mod:`.snap`)
- :mod:`.pipeline`: the streaming :class:`~.pipeline.SpeechPipeline` the node and `vipa listen` use
- :mod:`.tts`, :mod:`.testset`, :mod:`.evaluate`: synthetic voices, the spoken test set, `vipa speech-eval`

Nothing here imports pocketsphinx or faster-whisper until a backend is created.
"""
