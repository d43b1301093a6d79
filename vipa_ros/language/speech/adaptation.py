"""Acoustic-model adaptation for the grammar backend: pocketsphinx's en-us model fitted to a speaker or microphone.

"Enrolling" a voice: a few dozen recordings of known commands move the acoustic model's Gaussians towards how
that voice (through that microphone) sounds. ``vipa speech-adapt OUT recordings...`` writes the result to a
directory that :class:`.pocketsphinx_backend.GrammarRecognizer` loads as ``adaptation`` (speech_node: the
``acoustic_adaptation`` parameter), with the wheel's pocketsphinx alone:

- ``--method map`` (default): maximum a-posteriori re-estimation of the Gaussian means, an adapted ``means``
  file (0.8 MB) that replaces the model's;
- ``--method mllr``: one linear transform of all means (``mllr_matrix``, 5 KB; pocketsphinx applies only one
  transform class), which needs less speech but gained less on the synthetic voices (README).

Making one follows the CMU Sphinx tutorial "Adapting the default acoustic model" with the Debian ``sphinxtrain``
and ``sphinxbase-utils`` programs (only needed here, not to use an adaptation):

1. every recording is prepared exactly as the recogniser prepares audio (margins, noise floor) and turned into
   MFCC files by ``sphinx_fe`` with the model's front-end settings (``feat.params``);
2. pocketsphinx force-aligns each transcript with the grammar's dictionary, which picks the pronunciation
   variants and the pauses actually spoken (transcripts with words outside the grammar are skipped);
3. ``bw`` collects Baum-Welch statistics over those alignments (the model's mixture weights are unpacked from
   the quantised ``sendump`` in the pocketsphinx wheel, its model definition from the binary ``mdef``);
4. ``map_adapt`` or ``mllr_solve`` estimates the adaptation.

:func:`adaptation_config` checks an adaptation before pocketsphinx sees it: pocketsphinx aborts the process on
some malformed model files and silently decodes garbage with others.
"""
from __future__ import annotations

import logging
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np

SPHINXTRAIN_DIRS = ("/usr/lib/sphinxtrain", "/usr/libexec/sphinxtrain", "/usr/local/lib/sphinxtrain",
                    "/usr/local/libexec/sphinxtrain")
INSTALL_HINT = "apt-get install sphinxtrain sphinxbase-utils"


class AdaptationError(RuntimeError):
    """Adaptation could not be run or failed (missing tools, no usable recordings, a tool's error)."""


class ToolsMissing(AdaptationError):
    """The SphinxTrain / sphinxbase programs are not installed."""


@dataclass
class Tools:
    bw: str
    mllr_solve: str
    map_adapt: str
    sphinx_fe: str

    @classmethod
    def find(cls) -> "Tools":
        """Locate ``bw``, ``mllr_solve``, ``map_adapt`` (SphinxTrain) and ``sphinx_fe`` (sphinxbase-utils);
        ``$SPHINXTRAIN_DIR`` is searched first."""
        dirs = [d for d in (os.environ.get("SPHINXTRAIN_DIR", ""),) + SPHINXTRAIN_DIRS if d]
        found: dict[str, str] = {}
        for name in ("bw", "mllr_solve", "map_adapt", "sphinx_fe"):
            path = next((os.path.join(d, name) for d in dirs if os.access(os.path.join(d, name), os.X_OK)), None)
            found[name] = path or shutil.which(name) or ""
        missing = [n for n, p in found.items() if not p]
        if missing:
            raise ToolsMissing(f"speaker adaptation needs the SphinxTrain and sphinxbase programs "
                               f"({', '.join(missing)} not found); Debian/Ubuntu: {INSTALL_HINT}")
        return cls(**found)


# ---------------------------------------------------------------------------------------------------------------
# The pocketsphinx model in the forms SphinxTrain reads


def read_sendump(path: str | os.PathLike[str]) -> np.ndarray:
    """Mixture weights (senones x streams x densities, float32, each row summing to 1) from a pocketsphinx
    ``sendump``: 8-bit quantised negative logarithms (base 1.0001, shifted right by ``mixw_shift``)."""
    data = pathlib.Path(path).read_bytes()
    pos = 0

    def i32() -> int:
        nonlocal pos
        value = struct.unpack_from("<i", data, pos)[0]
        pos += 4
        return value

    def string() -> str | None:
        nonlocal pos
        n = i32()
        if n == 0:
            return None
        text = data[pos:pos + n].rstrip(b"\0").decode("ascii", "replace")
        pos += n
        return text

    if struct.unpack_from("<i", data, 0)[0] > 65536:
        raise AdaptationError(f"{path}: big-endian sendump files are not supported")
    string()  # title
    header: dict[str, str] = {}
    while (line := string()) is not None:
        key, _, value = line.partition(" ")
        header[key] = value.strip()
    n_feat = int(header.get("feature_count", "1"))
    shift = int(header.get("mixw_shift", "10"))
    if int(header.get("cluster_count", "0")) != 0:
        raise AdaptationError(f"{path}: clustered sendump files are not supported")
    n_density, n_senone = i32(), i32()
    size = n_feat * n_density * n_senone
    if len(data) - pos < size:
        raise AdaptationError(f"{path}: truncated ({len(data) - pos} of {size} bytes)")
    q = np.frombuffer(data, np.uint8, size, pos).reshape(n_feat, n_density, n_senone)
    w = np.power(1.0001, -(q.astype(np.float64) * (1 << shift)))
    w = w.transpose(2, 0, 1)
    return (w / w.sum(axis=2, keepdims=True)).astype(np.float32)


def write_s3_3d(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """A Sphinx-III binary parameter file (``s3`` header, byte-order mark, 3-D float32 array)."""
    a = np.ascontiguousarray(array, np.float32)
    head = b"s3\nversion 1.0\n"
    pad = (-(len(head) + len(b"endhdr\n"))) % 4
    with open(path, "wb") as f:
        f.write(head + b" " * pad + b"endhdr\n")
        f.write(struct.pack("=i", 0x11223344))
        f.write(struct.pack("=IIII", *a.shape, a.size))
        f.write(a.tobytes())


def mdef_text(binary: str | os.PathLike[str]) -> str:
    """The text form of pocketsphinx's binary model definition (``mdef``), as SphinxTrain reads it."""
    data = pathlib.Path(binary).read_bytes()
    if data[:4] == b"0.3\n" or data[:4] == b"0.3\r":
        return data.decode("ascii")
    if data[:4] != b"BMDF":
        raise AdaptationError(f"{binary}: not a binary model definition")
    pos = 4

    def ints(n: int) -> list[int]:
        nonlocal pos
        values = list(struct.unpack_from(f"<{n}i", data, pos))
        pos += 4 * n
        return values

    _version, = ints(1)
    length, = ints(1)
    pos += length  # format description
    (n_ciphone, n_phone, n_emit_state, n_ci_sen, n_sen, n_tmat, n_sseq, n_ctx, n_cd_tree,
     _sil) = ints(10)
    names_end = pos
    names: list[str] = []
    while len(names) < n_ciphone:
        end = data.index(b"\0", names_end)
        names.append(data[names_end:end].decode("ascii"))
        names_end = end + 1
    pos = names_end + (-(names_end) % 4)
    pos += 8 * n_cd_tree  # the context tree (int16 ctx, int16 n_down, int32 down): not needed
    phones = []
    for _ in range(n_phone):
        ssid, tmat = struct.unpack_from("<ii", data, pos)
        info = data[pos + 8:pos + 12]
        pos += 12
        phones.append((ssid, tmat, info))
    pos += 4  # size of the senone sequences
    sseq = np.frombuffer(data, "<u2", n_sseq * n_emit_state, pos).reshape(n_sseq, n_emit_state)
    if n_ctx != 3:
        raise AdaptationError(f"{binary}: {n_ctx} context phones, only triphone models are supported")
    n_state_map = n_phone * (n_emit_state + 1)
    lines = ["0.3", f"{n_ciphone} n_base", f"{n_phone - n_ciphone} n_tri", f"{n_state_map} n_state_map",
             f"{n_sen} n_tied_state", f"{n_ci_sen} n_tied_ci_state", f"{n_tmat} n_tied_tmat", "#",
             "# Columns definitions", "#base lft  rt p attrib tmat      ... state id's ..."]
    positions = "ibesu"  # word position codes: internal, begin, end, single, undefined
    for p, (ssid, tmat, info) in enumerate(phones):
        states = " ".join(f"{s:6d}" for s in sseq[ssid])
        if p < n_ciphone:
            attrib = "filler" if info[0] else "n/a"
            lines.append(f"{names[p]:>5s}   -   - - {attrib:>6s} {tmat:4d} {states} N")
        else:
            wpos, base, left, right = info[0], info[1], info[2], info[3]
            lines.append(f"{names[base]:>5s} {names[left]:>4s} {names[right]:>4s} {positions[wpos]} "
                         f"{'n/a':>6s} {tmat:4d} {states} N")
    return "\n".join(lines) + "\n"


@dataclass
class Model:
    """Paths of the acoustic model's files as SphinxTrain's programs take them."""
    directory: str
    mdef: str
    mixture_weights: str
    means: str
    variances: str
    transition_matrices: str
    noisedict: str
    feat_params: dict[str, str]


def model_directory() -> str:
    """The en-us acoustic model inside the pocketsphinx wheel."""
    from .pocketsphinx_backend import _import_pocketsphinx

    return _import_pocketsphinx()[1]


def read_feat_params(path: str | os.PathLike[str]) -> dict[str, str]:
    out = {}
    for line in pathlib.Path(path).read_text(encoding="ascii").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith("-"):
            out[parts[0][1:]] = parts[1]
    return out


def prepare_model(workdir: str | os.PathLike[str], hmm: str | None = None) -> Model:
    """Text model definition and mixture weights of the pocketsphinx model ``hmm`` written into ``workdir``."""
    hmm = hmm or model_directory()
    work = pathlib.Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    mdef = work / "mdef.txt"
    mdef.write_text(mdef_text(os.path.join(hmm, "mdef")), encoding="ascii")
    mixw = os.path.join(hmm, "mixture_weights")
    if not os.path.exists(mixw):
        mixw = str(work / "mixture_weights")
        write_s3_3d(mixw, read_sendump(os.path.join(hmm, "sendump")))
    return Model(hmm, str(mdef), mixw, os.path.join(hmm, "means"), os.path.join(hmm, "variances"),
                 os.path.join(hmm, "transition_matrices"), os.path.join(hmm, "noisedict"),
                 read_feat_params(os.path.join(hmm, "feat.params")))


def _run(cmd: Sequence[str], what: str, log_path: pathlib.Path) -> None:
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.run(list(cmd), stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
        raise AdaptationError(f"{what} failed (exit {proc.returncode}, log {log_path}): " + " | ".join(tail))


FE_KEYS = ("lowerf", "upperf", "nfilt", "transform", "lifter", "remove_noise", "alpha", "wlen", "nfft", "ncep",
           "dither", "frate")


@dataclass
class Enrollment:
    """What :func:`collect_statistics` made: the model, the aligned utterances and the counts directory."""
    workdir: str
    model: Model
    accumdir: str
    used: list[str] = field(default_factory=list)       # utterance ids with statistics
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (transcript, why)


def collect_statistics(utterances: Sequence[tuple[str, np.ndarray]], workdir: str | os.PathLike[str], *,
                       vocabulary=None, tools: Tools | None = None,
                       progress: Callable[[Iterable], Iterable] | None = None,
                       logger: logging.Logger | None = None) -> Enrollment:
    """Prepare the model, write features and aligned transcripts of ``utterances`` ((transcript, 16 kHz mono
    float32) pairs) and run ``bw``: the statistics every estimation step starts from."""
    import pocketsphinx as ps

    from ..vocabulary import normalize
    from .pocketsphinx_backend import GrammarRecognizer, _decoder_input, with_margins

    log = logger or logging.getLogger("vipa_ros.speech")
    tools = tools or Tools.find()
    work = pathlib.Path(workdir)
    (work / "feat").mkdir(parents=True, exist_ok=True)
    model = prepare_model(work / "model")
    if vocabulary is None:
        from ..vocabulary import load_vocabulary

        vocabulary = load_vocabulary()
    recognizer = GrammarRecognizer(vocabulary, logger=log)
    dictionary = work / "commands.dict"
    dictionary.write_text(recognizer.grammar.dictionary_text(), encoding="utf-8")
    aligner = ps.Decoder(ps.Config(hmm=model.directory, dict=str(dictionary), logfn=os.devnull, samprate=16000,
                                   bestpath=False))
    enrollment = Enrollment(str(work), model, str(work / "accum"))
    transcripts, ids = [], []
    items = list(enumerate(utterances))
    for i, (text, audio) in (progress(items) if progress else items):
        words = normalize(text).split()
        unknown = [w for w in words if w not in recognizer.grammar.pronunciations]
        if not words or unknown:
            enrollment.skipped.append((text, f"not in the grammar's dictionary: {' '.join(unknown)}" if unknown
                                       else "empty transcript"))
            continue
        pcm = _decoder_input(with_margins(np.asarray(audio, np.float32).ravel()))
        try:
            aligner.set_align_text(" ".join(words))
            aligner.start_utt()
            aligner.process_raw(pcm, no_search=False, full_utt=True)
            aligner.end_utt()
            segs = [s.word for s in aligner.seg()] if aligner.hyp() is not None else []
        except RuntimeError as exc:
            segs, why = [], str(exc)
        else:
            why = "the transcript could not be aligned to the audio"
        aligned = [w for w in segs if w not in ("<s>", "</s>")]
        if [w.split("(")[0] for w in aligned if w != "<sil>" and not w.startswith("[")] != words:
            enrollment.skipped.append((text, why))
            continue
        uid = f"utt{i:05d}"
        (work / "feat" / f"{uid}.raw").write_bytes(pcm)
        ids.append(uid)
        transcripts.append(f"<s> {' '.join(aligned)} </s> ({uid})")
    if not ids:
        raise AdaptationError("no usable recordings: " + "; ".join(f"{t!r}: {w}" for t, w in enrollment.skipped[:5]))
    enrollment.used = ids
    (work / "train.fileids").write_text("\n".join(ids) + "\n", encoding="ascii")
    (work / "train.transcription").write_text("\n".join(transcripts) + "\n", encoding="utf-8")
    fe = [tools.sphinx_fe, "-c", str(work / "train.fileids"), "-di", str(work / "feat"), "-do", str(work / "feat"),
          "-ei", "raw", "-eo", "mfc", "-raw", "yes", "-input_endian", "little", "-samprate", "16000",
          "-remove_silence", "no", "-dither", "no"]
    for key in FE_KEYS:
        if key in model.feat_params:
            fe += [f"-{key}", model.feat_params[key]]
    _run(fe, "sphinx_fe", work / "sphinx_fe.log")
    accum = pathlib.Path(enrollment.accumdir)
    accum.mkdir(exist_ok=True)
    fp = model.feat_params
    bw = [tools.bw, "-moddeffn", model.mdef, "-ts2cbfn", f".{fp.get('model', 'ptm')}.", "-meanfn", model.means,
          "-varfn", model.variances, "-mixwfn", model.mixture_weights, "-tmatfn", model.transition_matrices,
          "-dictfn", str(dictionary), "-fdictfn", model.noisedict, "-ctlfn", str(work / "train.fileids"),
          "-lsnfn", str(work / "train.transcription"), "-cepdir", str(work / "feat"), "-cepext", "mfc",
          "-accumdir", str(accum), "-feat", fp.get("feat", "1s_c_d_dd"), "-cmn", fp.get("cmn", "batch"),
          "-agc", fp.get("agc", "none"), "-varnorm", fp.get("varnorm", "no"), "-timing", "no"]
    if "svspec" in fp:
        bw += ["-svspec", fp["svspec"]]
    _run(bw, "bw", work / "bw.log")
    return enrollment


def solve_mllr(enrollment: Enrollment, out_path: str | os.PathLike[str], tools: Tools | None = None,
               cb2mllr: str | None = None) -> str:
    """``mllr_solve`` on the statistics: a global transform (or one per class of ``cb2mllr``) to ``out_path``."""
    tools = tools or Tools.find()
    m = enrollment.model
    cmd = [tools.mllr_solve, "-meanfn", m.means, "-varfn", m.variances, "-outmllrfn", str(out_path),
           "-accumdir", enrollment.accumdir]
    if cb2mllr:
        cmd += ["-cb2mllrfn", cb2mllr]
    _run(cmd, "mllr_solve", pathlib.Path(enrollment.workdir) / "mllr_solve.log")
    return str(out_path)


def map_adapt(enrollment: Enrollment, out_dir: str | os.PathLike[str], tools: Tools | None = None,
              tau: float | None = None) -> str:
    """``map_adapt``: adapted means, variances, mixture weights and transition matrices in ``out_dir`` (a model
    directory pocketsphinx loads as ``hmm``). ``tau``: a fixed prior weight instead of map_adapt's default
    Bayesian mean update (on the development set: 97.8 % with tau 3, 93.9 % with 50, 97.2 % by default)."""
    tools = tools or Tools.find()
    m = enrollment.model
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("mdef", "feat.params", "noisedict", "README"):
        if os.path.exists(os.path.join(m.directory, name)):
            shutil.copy(os.path.join(m.directory, name), out / name)
    cmd = [tools.map_adapt, "-moddeffn", m.mdef, "-ts2cbfn", f".{m.feat_params.get('model', 'ptm')}.",
           "-meanfn", m.means, "-varfn", m.variances, "-mixwfn", m.mixture_weights, "-tmatfn",
           m.transition_matrices, "-accumdir", enrollment.accumdir, "-mapmeanfn", str(out / "means"),
           "-mapvarfn", str(out / "variances"), "-mapmixwfn", str(out / "mixture_weights"),
           "-maptmatfn", str(out / "transition_matrices")]
    if tau is not None:
        cmd += ["-fixedtau", "yes", "-tau", str(tau), "-bayesmean", "no"]
    _run(cmd, "map_adapt", pathlib.Path(enrollment.workdir) / "map_adapt.log")
    return str(out)


# ---------------------------------------------------------------------------------------------------------------
# Loading: what the recogniser checks before pocketsphinx sees a file (pocketsphinx aborts the whole process on
# some malformed model files, and silently decodes garbage with others)

# adapted-model file name -> pocketsphinx configuration key
MODEL_FILES = {"means": "mean", "variances": "var", "sendump": "sendump", "mixture_weights": "mixw",
               "transition_matrices": "tmat"}
MLLR_NAME = "mllr_matrix"


def read_mllr(path: str | os.PathLike[str]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A pocketsphinx MLLR file: per feature stream (A, b, h) of the first class. Raises ``ValueError`` when
    it is not one (pocketsphinx itself would only log that it failed)."""
    try:
        values = pathlib.Path(path).read_text(encoding="ascii").split()
    except UnicodeDecodeError as exc:
        raise ValueError("not a text MLLR transform") from exc
    pos = 0

    def take(n: int) -> np.ndarray:
        nonlocal pos
        if pos + n > len(values):
            raise ValueError(f"truncated after {len(values)} numbers")
        try:
            out = np.array(values[pos:pos + n], np.float64)
        except ValueError as exc:
            raise ValueError(f"not a number near item {pos}: {exc}") from exc
        pos += n
        return out

    n_class, n_feat = take(2).astype(int)
    if n_class < 1 or not 1 <= n_feat <= 8:
        raise ValueError(f"implausible header: {n_class} classes, {n_feat} streams")
    streams = []
    for _ in range(n_feat):
        n = int(take(1)[0])
        if not 1 <= n <= 256:
            raise ValueError(f"implausible stream length {n}")
        for c in range(n_class):
            a, b, h = take(n * n).reshape(n, n), take(n), take(n)
            if c == 0:
                streams.append((a, b, h))
    if pos != len(values):
        raise ValueError(f"{len(values) - pos} numbers left over after the transform")
    if not all(np.isfinite(x).all() for s in streams for x in s):
        raise ValueError("not finite (NaN or infinity)")
    return streams


def _s3_array(path: str | os.PathLike[str]) -> tuple[tuple[int, ...], np.ndarray]:
    """(shape header, float32 data) of a Sphinx-III binary parameter file (means, variances, mixture weights,
    transition matrices)."""
    data = pathlib.Path(path).read_bytes()
    if not data.startswith(b"s3\n"):
        raise ValueError("not a Sphinx-III parameter file")
    end = data.find(b"endhdr\n")
    if end < 0:
        raise ValueError("no end of header")
    pos = end + len(b"endhdr\n")
    if len(data) < pos + 8:
        raise ValueError("truncated")
    bom = struct.unpack_from("<i", data, pos)[0]
    order = "<" if bom == 0x11223344 else ">" if bom == 0x44332211 else None
    if order is None:
        raise ValueError("bad byte-order mark")
    pos += 4
    header = data[:end].decode("ascii", "replace")
    gauden = os.path.basename(str(path)) in ("means", "variances") or "gau" in header
    if gauden:  # n_mgau, n_feat, n_density, veclen[n_feat], n_floats
        n_mgau, n_feat, n_density = struct.unpack_from(f"{order}3i", data, pos)
        if not 0 < n_feat < 16:
            raise ValueError("implausible header")
        shape = (n_mgau, n_feat, n_density) + struct.unpack_from(f"{order}{n_feat}i", data, pos + 12)
        pos += 12 + 4 * n_feat
    else:       # d1, d2, d3, n_floats
        shape = struct.unpack_from(f"{order}3i", data, pos)
        pos += 12
    n = struct.unpack_from(f"{order}i", data, pos)[0]
    pos += 4
    if n < 0 or len(data) < pos + 4 * n:
        raise ValueError(f"truncated ({(len(data) - pos) // 4} of {n} numbers)")
    return shape, np.frombuffer(data, f"{order}f4", n, pos)


def check_model_file(name: str, path: str | os.PathLike[str], base: str | os.PathLike[str]) -> None:
    """Raise ``ValueError`` unless ``path`` is a usable replacement for the base model's file ``base``."""
    if name == "sendump":
        try:
            got, want = read_sendump(path).shape, read_sendump(base).shape
        except (AdaptationError, struct.error, ValueError, IndexError) as exc:
            raise ValueError(f"not a sendump file: {exc}") from exc
        if got != want:
            raise ValueError(f"shape {got}, the model needs {want}")
        return
    try:
        shape, values = _s3_array(path)
    except struct.error as exc:
        raise ValueError("truncated") from exc
    if os.path.exists(base):
        want, _ = _s3_array(base)
        if shape != want:
            raise ValueError(f"shape {shape}, the model needs {want}")
    if not np.isfinite(values).all():
        raise ValueError("not finite (NaN or infinity)")
    if name in ("variances", "mixture_weights", "transition_matrices") and (values < 0).any():
        raise ValueError("negative values")


def adaptation_config(path: str | os.PathLike[str], model_dir: str) -> dict[str, str | None]:
    """pocketsphinx configuration for an adaptation ``path``: an MLLR transform file (``vipa speech-adapt``'s
    default output), or a directory with adapted model files (``means``, ``variances``, ``sendump`` or
    ``mixture_weights``, ``transition_matrices``, optionally an ``mllr_matrix``) that replace the model's.
    Raises ``ValueError`` naming what is wrong; nothing of a bad adaptation is used."""
    p = pathlib.Path(path)
    if not p.exists():
        raise ValueError(f"{p} does not exist")
    if p.is_file():
        read_mllr(p)
        return {"mllr": str(p)}
    config: dict[str, str | None] = {}
    for name, key in MODEL_FILES.items():
        f = p / name
        if f.is_file():
            try:
                base = os.path.join(model_dir, name if name != "mixture_weights" else "sendump")
                check_model_file(name, f, base if name != "mixture_weights" else os.path.join(model_dir, name))
            except ValueError as exc:
                raise ValueError(f"{f}: {exc}") from exc
            config[key] = str(f)
    if (p / MLLR_NAME).is_file():
        try:
            read_mllr(p / MLLR_NAME)
        except ValueError as exc:
            raise ValueError(f"{p / MLLR_NAME}: {exc}") from exc
        config["mllr"] = str(p / MLLR_NAME)
    if not config:
        raise ValueError(f"{p} holds no adaptation ({MLLR_NAME}, {', '.join(MODEL_FILES)})")
    if "mixw" in config and "sendump" not in config:
        config["sendump"] = None  # the wheel's quantised weights would be read instead of the adapted ones
    return config


# ---------------------------------------------------------------------------------------------------------------
# Enrolling: recordings in, an adaptation directory out

METHODS = ("map", "mllr")
README_NAME = "ADAPTATION.txt"


def adapt(utterances: Sequence[tuple[str, np.ndarray]], out_dir: str | os.PathLike[str], method: str = "map", *,
          vocabulary=None, workdir: str | os.PathLike[str] | None = None, description: str = "",
          progress: Callable[[Iterable], Iterable] | None = None,
          logger: logging.Logger | None = None) -> Enrollment:
    """Fit an adaptation of the grammar backend's acoustic model to ``utterances`` ((transcript, 16 kHz mono
    float32) pairs of one speaker or microphone, or of several that should share one) and write it to the
    directory ``out_dir``, which the recogniser's ``adaptation`` (the node's ``acoustic_adaptation``) loads.

    ``method``: "map" (the default: maximum a-posteriori re-estimation of the Gaussian means, written as an
    adapted ``means`` file of ~0.8 MB) or "mllr" (one linear transform of all means, ``mllr_matrix``, ~5 KB; it
    needs less speech but gained less on the synthetic voices, see the README). ``workdir`` keeps the
    intermediate files (features, alignments, statistics, logs); by default a temporary directory."""
    if method not in METHODS:
        raise ValueError(f"unknown adaptation method '{method}' ({' | '.join(METHODS)})")
    tools = Tools.find()
    out = pathlib.Path(out_dir)
    tmp = None if workdir else tempfile.TemporaryDirectory(prefix="vipa_adapt_")
    work = pathlib.Path(workdir or tmp.name)
    try:
        enrollment = collect_statistics(utterances, work, vocabulary=vocabulary, tools=tools, progress=progress,
                                        logger=logger)
        out.mkdir(parents=True, exist_ok=True)
        for name in (MLLR_NAME, *MODEL_FILES):
            if (out / name).exists():
                (out / name).unlink()  # a directory holds one adaptation
        if method == "mllr":
            solve_mllr(enrollment, out / MLLR_NAME, tools)
        else:
            adapted = map_adapt(enrollment, work / "map", tools)
            shutil.copy(os.path.join(adapted, "means"), out / "means")
        (out / README_NAME).write_text(
            f"Acoustic adaptation of pocketsphinx's en-us model ({method.upper()}), made by `vipa speech-adapt`.\n"
            f"Load it with speech_node's acoustic_adaptation parameter (or `vipa speech-eval --adaptation`).\n"
            f"Fitted on {len(enrollment.used)} utterances"
            + (f" ({len(enrollment.skipped)} skipped)" if enrollment.skipped else "")
            + (f": {description}" if description else "") + ".\n", encoding="utf-8")
        adaptation_config(out, model_directory())  # what the recogniser will check
        return enrollment
    finally:
        if tmp is not None:
            tmp.cleanup()


def read_recordings(paths: Sequence[str]) -> list[tuple[str, np.ndarray, str]]:
    """(transcript, audio, source) from WAV files with a transcript next to each (``x.wav`` + ``x.txt``),
    directories of them, or list files with one ``path.wav<TAB>transcript`` per line (``.tsv``/``.txt``)."""
    from .audio import read_wav, to_16k_mono

    pairs: list[tuple[pathlib.Path, str]] = []
    for arg in paths:
        p = pathlib.Path(arg)
        if p.is_dir():
            wavs = sorted(p.glob("*.wav"))
            if not wavs:
                raise AdaptationError(f"{p}: no .wav files")
            for wav in wavs:
                pairs.append((wav, _transcript_of(wav)))
        elif p.suffix.lower() == ".wav":
            pairs.append((p, _transcript_of(p)))
        elif p.is_file():
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                wav, sep, text = line.partition("\t")
                if not sep or not text.strip():
                    raise AdaptationError(f"{p}:{n}: expected 'file.wav<TAB>transcript'")
                wav_path = pathlib.Path(wav.strip())
                pairs.append((wav_path if wav_path.is_absolute() else p.parent / wav_path, text.strip()))
        else:
            raise AdaptationError(f"{p} does not exist")
    out = []
    for wav, text in pairs:
        samples, rate = read_wav(str(wav))
        out.append((text, to_16k_mono(samples, rate), str(wav)))
    return out


def _transcript_of(wav: pathlib.Path) -> str:
    txt = wav.with_suffix(".txt")
    if not txt.is_file():
        raise AdaptationError(f"{wav}: no transcript ({txt.name} next to it)")
    return txt.read_text(encoding="utf-8").strip()


def synthetic_enrollment(voices: Sequence[str] | None = None, n: int = 60, vocabulary=None
                         ) -> list[tuple[str, np.ndarray]]:
    """The synthetic enrollment set: :func:`.testset.enrollment_commands` (none of them a test command) spoken
    by every voice of ``voices`` (default: the test voices, :data:`.tts.VOICES`)."""
    from .testset import enrollment_commands
    from .tts import VOICES, synthesize

    commands = enrollment_commands(vocabulary, n)
    return [(c, synthesize(c, v)) for v in (voices or list(VOICES)) for c in commands]


def add_arguments(parser) -> None:
    parser.add_argument("out", help="output directory (the acoustic_adaptation parameter of speech_node)")
    parser.add_argument("recordings", nargs="*",
                        help="WAV files with a same-named .txt transcript, directories of them, or list files of "
                             "'file.wav<TAB>transcript' lines; transcripts must be commands of the vocabulary")
    parser.add_argument("--synthetic", action="store_true",
                        help="enrol the synthetic voices instead: 60 commands that are not test commands, spoken "
                             "by each voice of --voices (what config/speech_adaptation/synthetic_voices is)")
    parser.add_argument("--voices", default="", help="comma-separated synthetic voices for --synthetic "
                                                      "(default: the test voices)")
    parser.add_argument("--method", default="map", choices=METHODS,
                        help="map: adapted Gaussian means (0.8 MB; the default) | mllr: one linear transform (5 KB)")
    parser.add_argument("--vocabulary", default="", help="vocabulary YAML (default: config/vocabulary.yaml)")
    parser.add_argument("--workdir", default="", help="keep the intermediate files (features, logs) here")


def run(args) -> int:
    from ..vocabulary import load_vocabulary

    try:
        Tools.find()
        vocabulary = load_vocabulary(args.vocabulary or None)
        if args.synthetic == bool(args.recordings):
            raise AdaptationError("give recordings or --synthetic (one of the two)")
        if args.synthetic:
            from .tts import VOICES

            voices = [v for v in args.voices.split(",") if v] or list(VOICES)
            unknown = [v for v in voices if v not in VOICES]
            if unknown:
                raise AdaptationError(f"unknown voice(s) {', '.join(unknown)}; known: {', '.join(VOICES)}")
            print(f"synthesising the enrollment commands x {len(voices)} voices ...", flush=True)
            utterances = synthetic_enrollment(voices, vocabulary=vocabulary)
            description = f"60 enrollment commands (not test commands) x synthetic voices {', '.join(voices)}"
        else:
            recordings = read_recordings(args.recordings)
            utterances = [(t, a) for t, a, _ in recordings]
            description = f"{len(recordings)} recordings"
        try:
            from tqdm import tqdm

            def progress(items):
                return tqdm(items, desc="aligning", unit="utt", leave=False, dynamic_ncols=True)
        except ImportError:
            progress = None
        t0 = time.perf_counter()
        enrollment = adapt(utterances, args.out, args.method, vocabulary=vocabulary,
                           workdir=args.workdir or None, description=description, progress=progress)
    except AdaptationError as exc:
        print(f"vipa speech-adapt: {exc}", file=sys.stderr)
        return 1
    for text, why in enrollment.skipped:
        print(f"  skipped {text!r}: {why}")
    print(f"{args.method.upper()} adaptation from {len(enrollment.used)} utterances written to {args.out} "
          f"in {time.perf_counter() - t0:.0f} s; use it with speech_node's acoustic_adaptation parameter or "
          f"`vipa speech-eval --adaptation {args.out}`")
    return 0


def synthetic_voices_adaptation() -> pathlib.Path:
    """The shipped adaptation to the synthetic test voices (``vipa speech-adapt --synthetic``): for the tests and
    demos that speak with them, not for people (see the README)."""
    from ...resources import config_path

    return config_path("speech_adaptation", "synthetic_voices")
