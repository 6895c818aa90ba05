"""The mix's audio, made piece by piece in bounded memory and kept piece by piece, so that remaking the mix after
one clip changed processes that clip's pieces and nothing else, with the very bytes a mix made from scratch has.

- Each clip's audio is decoded (resampled to the mix's rate with SoX's resampler, in stereo) to a raw file on
  disk and read back in blocks; nothing longer than a block is held in memory, however long the mix.
- Each track is set to the mix's loudness (BS.1770, aibeats.bs1770) under its true-peak ceiling on its own:
  one gain per clip, found from the clip alone (with the limiter where the gain would push peaks over the
  ceiling). So the tracks do not jump in level from one to the next, the whole measures at the target too, and
  a changed clip leaves every other clip's part of the mix as it was. What a clip needs (its length, its gain)
  is kept, keyed by its audio's fingerprint (aibeats.aac.audio_fingerprint) and the settings.
- The audio is cut into pieces (aibeats.mix_plan): solo stretches of one clip and crossfades of two, equal power
  (two different pieces of music add in power: sine and cosine fades keep the level steady where linear ones
  dip by 3 dB). Each piece is mixed, limited (aibeats.limiter, which reads only a few ms around each sample) and
  encoded as AAC with a few frames of context on either side, then checked: decoded, its true peak measured
  under the ceiling (a lossy encoder adds peaks between samples; where it passes, the piece is limited a little
  lower and encoded again) and its 100 ms loudness cells kept. A piece is kept under a key over everything it
  depends on: the fingerprints, places and gains of the clips it reaches, the settings, ffmpeg's version.
- The pieces' AAC frames are joined into one stream; its loudness comes from the pieces' cells.

A piece is a pure function of its key, so a mix remade from kept pieces is byte-identical to one made from
scratch. The kept pieces and clip facts live in `{project}/.cache/mix/`; after a mix is made, only what it used
stays there.
"""

import hashlib
import json
import math
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aibeats import aac
from aibeats.atomic import atomic_path
from aibeats.bs1770 import TRUE_PEAK_CONTEXT, CellMeter, add_cells, decibels, integrated_loudness, oversampled_peaks
from aibeats.errors import MediaError
from aibeats.limiter import ATTACK_SECONDS, HOLD_SECONDS, limit, limiter_context
from aibeats.mix_plan import AAC_FRAME, ClipPlacement, Piece, mix_length, place_clips, plan_pieces
from aibeats.terminal import tell_user

# Raised whenever what a kept piece or clip fact holds would come out differently for the same key.
VERSION = 1
CHANNELS = 2
# Frames of the neighbours' audio each piece is encoded with on either side: the encoder's window decisions and
# its psychoacoustic state at a piece's edges are then those of one continuous encode.
ENCODER_CONTEXT = 4 * AAC_FRAME
# Samples mixed, limited and measured at once.
BLOCK = 1 << 17
# The limiter works this far under the ceiling; the encoder adds a little to the true peak.
LIMITER_MARGIN_DB = 0.5
# Encodes of a piece before its true peak is under the ceiling, and how far under it a retry aims.
PEAK_ROUNDS = 3
PEAK_STEP_DB = 0.1
# Gain refinements of a clip whose peaks the limiter holds down, and when to stop refining.
LOUDNESS_ROUNDS = 4
LOUDNESS_TOLERANCE_LU = 0.1


@dataclass(frozen=True)
class MixAudioSettings:
    sampling_rate: int
    loudness_lufs: float
    true_peak_db: float
    # samples consecutive clips overlap by
    overlap: int

    def material(self) -> dict:
        """What these settings and this code contribute to every key."""
        from aibeats.versions import library_versions

        return {"version": VERSION, "ffmpeg": library_versions().get("ffmpeg"), "rate": self.sampling_rate,
                "channels": CHANNELS, "loudness_lufs": self.loudness_lufs, "true_peak_db": self.true_peak_db,
                "bitrate": aac.MIX_BITRATE, "limiter": [ATTACK_SECONDS, HOLD_SECONDS, LIMITER_MARGIN_DB],
                "encoder_context": ENCODER_CONTEXT, "block": BLOCK}


@dataclass(frozen=True)
class ClipFacts:
    length: int
    gain: float
    loudness_lufs: float


@dataclass(frozen=True)
class MixAudio:
    """The mix's joined AAC stream and what was measured of it."""

    samples: int
    loudness_lufs: float
    true_peak_db: float
    pieces_made: int
    pieces_kept: int


def _key(material: dict) -> str:
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _write_json(path: Path, value: dict) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(value))


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class _DecodedClips:
    """Each clip's audio decoded to a raw file when a piece first needs it, deleted once no piece still needs it."""

    def __init__(self, clips: list[Path], scratch: Path, settings: MixAudioSettings, users: dict[int, int]):
        self.clips, self.scratch, self.settings, self.users = clips, scratch, settings, dict(users)
        self.locks = {number: threading.Lock() for number in range(len(clips))}
        self.raw: dict[int, Path] = {}

    def get(self, number: int) -> Path:
        with self.locks[number]:
            if number not in self.raw:
                raw = self.scratch / f"clip_{number}.f32"
                aac.decode_to_file(self.clips[number], raw, self.settings.sampling_rate, CHANNELS)
                self.raw[number] = raw
            return self.raw[number]

    def release(self, number: int) -> None:
        with self.locks[number]:
            self.users[number] -= 1
            if self.users[number] == 0 and number in self.raw:
                self.raw.pop(number).unlink(missing_ok=True)


def _fade(positions: np.ndarray, overlap: int, rising: bool) -> np.ndarray:
    """The equal-power fade's gain at each position from the fade's start (0 <= position < overlap)."""
    angle = (positions + 0.5) / overlap * (np.pi / 2)
    return np.sin(angle) if rising else np.cos(angle)


def crossfade_gains(clip: ClipPlacement, positions: np.ndarray, overlap: int) -> np.ndarray:
    """The fade gains of a clip at positions within it: rising over its first `overlap` samples where it fades
    in, falling over its last where it fades out, 1 between."""
    gains = np.ones(len(positions))
    if clip.fade_in:
        head = positions < overlap
        gains[head] = _fade(positions[head], overlap, rising=True)
    if clip.fade_out:
        tail = positions >= clip.length - overlap
        gains[tail] *= _fade(positions[tail] - (clip.length - overlap), overlap, rising=False)
    return gains


def _mixed(start: int, stop: int, parts: list[tuple[ClipPlacement, float, Path]], overlap: int) -> np.ndarray:
    """Samples [start, stop) of the mix of the parts (each a clip's place, gain and raw audio); silence beyond."""
    out = np.zeros((stop - start, CHANNELS))
    for clip, gain, raw in parts:
        first, last = max(start, clip.start), min(stop, clip.end)
        if last <= first:
            continue
        samples = aac.read_samples(raw, CHANNELS, first - clip.start, last - clip.start).astype(np.float64)
        gains = gain * crossfade_gains(clip, np.arange(first, last) - clip.start, overlap)
        out[first - start:last - start] += samples * gains[:, None]
    return out


def _limited(start: int, stop: int, source, sampling_rate: int, ceiling_db: float):
    """Blocks of [start, stop) of source(start, stop) limited under ceiling_db: (position, samples)."""
    context, ceiling = limiter_context(sampling_rate), 10 ** (ceiling_db / 20)
    for position in range(start, stop, BLOCK):
        end = min(position + BLOCK, stop)
        limited = limit(source(position - context, end + context), sampling_rate, ceiling)
        yield position, limited[context:context + end - position]


def _clip_facts(clip: Path, scratch: Path, settings: MixAudioSettings) -> ClipFacts:
    """A clip's length at the mix's rate, and the gain that sets it to the mix's loudness under its ceiling."""
    rate, ceiling_db = settings.sampling_rate, settings.true_peak_db - LIMITER_MARGIN_DB
    raw = scratch / f"facts_{hashlib.sha256(str(clip).encode()).hexdigest()[:12]}.f32"
    try:
        length = aac.decode_to_file(clip, raw, rate, CHANNELS)
        meter, peak = CellMeter(rate, CHANNELS, 0), 0.0
        for position, samples in aac.raw_blocks(raw, CHANNELS, 0, length, BLOCK):
            meter.feed(samples.astype(np.float64))
            ahead = aac.read_samples(raw, CHANNELS, position - TRUE_PEAK_CONTEXT,
                                     position + len(samples) + TRUE_PEAK_CONTEXT)
            peak = max(peak, oversampled_peaks(ahead)[TRUE_PEAK_CONTEXT:-TRUE_PEAK_CONTEXT].max(initial=0.0))
        measured = integrated_loudness(meter.energies, rate)
        if measured == float("-inf"):
            return ClipFacts(length, 1.0, measured)  # silence has no loudness to set
        gain_db = settings.loudness_lufs - measured
        if decibels(peak) + gain_db <= ceiling_db:
            return ClipFacts(length, 10 ** (gain_db / 20), measured)
        for _ in range(LOUDNESS_ROUNDS):
            gain = 10 ** (gain_db / 20)
            meter = CellMeter(rate, CHANNELS, 0)
            source = lambda lo, hi, gain=gain: aac.read_samples(raw, CHANNELS, lo, hi).astype(np.float64) * gain  # noqa: E731
            for _, samples in _limited(0, length, source, rate, ceiling_db):
                meter.feed(samples)
            error = settings.loudness_lufs - integrated_loudness(meter.energies, rate)
            if abs(error) <= LOUDNESS_TOLERANCE_LU:
                break
            gain_db += error
        else:
            # Audio whose energy sits in the bass (K-weighting counts it little) can hit the ceiling long before it
            # sounds loud enough; limiting harder would distort it.
            tell_user(f"ai-beats: warning: {clip} reaches {settings.loudness_lufs - error:.1f} LUFS in the mix, not "
                      f"{settings.loudness_lufs}, under the true-peak ceiling of {settings.true_peak_db} dBTP; lower "
                      "mix.loudness_lufs or raise mix.true_peak_db")
        return ClipFacts(length, 10 ** (gain_db / 20), measured)
    finally:
        raw.unlink(missing_ok=True)


@dataclass(frozen=True)
class _PlannedPiece:
    piece: Piece
    key: str
    parts: list[tuple[int, ClipPlacement, float]]  # (clip number, place, gain)

    @property
    def files(self) -> tuple[str, str]:
        return f"piece-{self.key}.aac", f"piece-{self.key}.json"


def _plan(fingerprints: list[str], facts: list[ClipFacts], settings: MixAudioSettings) -> list[_PlannedPiece]:
    placements = place_clips([fact.length for fact in facts], settings.overlap)
    context = ENCODER_CONTEXT + limiter_context(settings.sampling_rate)
    total = mix_length(placements)
    cell = settings.sampling_rate // 10
    planned = []
    for piece in plan_pieces(placements, settings.overlap, context):
        parts = [(number, placements[number], facts[number].gain) for number in piece.clips]
        material = {**settings.material(), "overlap": settings.overlap, "length": piece.end - piece.start,
                    "first": piece.start == 0, "last": piece.end == total, "cell_phase": piece.start % cell,
                    "clips": [[fingerprints[number], place.start - piece.start, place.length, repr(gain),
                               place.fade_in, place.fade_out] for number, place, gain in parts]}
        planned.append(_PlannedPiece(piece, _key(material), parts))
    return planned


def _encode_piece(planned: _PlannedPiece, total: int, decoded: _DecodedClips, settings: MixAudioSettings,
                  scratch: Path) -> tuple[list[bytes], dict]:
    """The AAC frames of one piece, and what was measured of it (its loudness cells and true peak)."""
    piece, rate = planned.piece, settings.sampling_rate
    parts = [(place, gain, decoded.get(number)) for number, place, gain in planned.parts]
    start, stop = max(0, piece.start - ENCODER_CONTEXT), min(total, piece.end + ENCODER_CONTEXT)
    # Frame n of the encode holds the samples from start - 1024 + 1024 n; the first piece keeps the priming frame,
    # the last every frame to the end.
    kept_from = -AAC_FRAME if piece.start == 0 else piece.start
    kept_to = math.inf if piece.end == total else piece.end
    ceiling_db = settings.true_peak_db - LIMITER_MARGIN_DB
    encoded = scratch / f"{planned.key}.aac"
    for _ in range(PEAK_ROUNDS):
        with aac.AdtsEncoder(encoded, rate, CHANNELS) as encoder:
            for _, samples in _limited(start, stop, lambda lo, hi: _mixed(lo, hi, parts, settings.overlap), rate,
                                       ceiling_db):
                encoder.write(samples)
        frames = aac.adts_frames(encoded.read_bytes(), encoded)
        measured = _measure_encoded(encoded, start, piece, rate, scratch)
        excess = measured["true_peak_db"] - settings.true_peak_db
        if excess <= 0:
            break
        ceiling_db -= excess + PEAK_STEP_DB
    encoded.unlink(missing_ok=True)
    kept = [frame for n, frame in enumerate(frames) if kept_from <= start - AAC_FRAME + n * AAC_FRAME < kept_to]
    return kept, measured


def _measure_encoded(encoded: Path, start: int, piece: Piece, sampling_rate: int, scratch: Path) -> dict:
    """The true peak and the loudness cells of a piece as its own encode decodes, over the samples it keeps."""
    raw = encoded.with_suffix(".f32")
    try:
        aac.decode_to_file(encoded, raw, sampling_rate, CHANNELS)
        # The decoder gives the priming frame too: decoded sample i is the mix's sample start - 1024 + i.
        offset = start - AAC_FRAME
        meter, peak = CellMeter(sampling_rate, CHANNELS, piece.start), 0.0
        meter.warm_up(aac.read_samples(raw, CHANNELS, start - offset, piece.start - offset).astype(np.float64))
        for position in range(piece.start, piece.end, BLOCK):
            end = min(position + BLOCK, piece.end)
            around = aac.read_samples(raw, CHANNELS, position - offset - TRUE_PEAK_CONTEXT,
                                      end - offset + TRUE_PEAK_CONTEXT).astype(np.float64)
            samples = around[TRUE_PEAK_CONTEXT:-TRUE_PEAK_CONTEXT]
            meter.feed(samples)
            peak = max(peak, oversampled_peaks(around)[TRUE_PEAK_CONTEXT:-TRUE_PEAK_CONTEXT].max(initial=0.0))
        return {"true_peak_db": decibels(peak), "first_cell": meter.first_cell, "cells": meter.energies.tolist()}
    finally:
        raw.unlink(missing_ok=True)


def _facts_of(clips: list[Path], fingerprints: list[str], cache: Path, scratch: Path, settings: MixAudioSettings,
              pool: ThreadPoolExecutor) -> tuple[list[ClipFacts], list[str]]:
    facts_key = _key(settings.material())
    names = [f"clip-{fingerprint}-{facts_key}.json" for fingerprint in fingerprints]

    def facts_of(number: int) -> ClipFacts:
        kept = _read_json(cache / names[number])
        if kept is not None:
            return ClipFacts(**kept)
        facts = _clip_facts(clips[number], scratch, settings)
        _write_json(cache / names[number], facts.__dict__)
        return facts

    return list(pool.map(facts_of, range(len(clips)))), names


def make_mix_audio(clips: list[Path], settings: MixAudioSettings, cache: Path, stream: Path,  # noqa: PLR0913
                   threads: int = 1) -> MixAudio:
    """Write the mix of the clips' audio to `stream` as ADTS frames; pieces kept in `cache` are used as they are."""
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".scratch-") as scratch_name, \
            ThreadPoolExecutor(max(1, threads)) as pool:
        scratch = Path(scratch_name)
        fingerprints = list(pool.map(aac.audio_fingerprint, clips))
        facts, fact_files = _facts_of(clips, fingerprints, cache, scratch, settings, pool)
        planned = _plan(fingerprints, facts, settings)
        total = planned[-1].piece.end
        missing = [item for item in planned if not _is_kept(cache, item)]
        users: dict[int, int] = {number: 0 for number in range(len(clips))}
        for item in missing:
            for number, *_ in item.parts:
                users[number] += 1
        decoded = _DecodedClips(clips, scratch, settings, users)

        def make(item: _PlannedPiece) -> None:
            try:
                frames, measured = _encode_piece(item, total, decoded, settings, scratch)
            finally:
                for number, *_ in item.parts:
                    decoded.release(number)
            audio, facts_file = (cache / name for name in item.files)
            with atomic_path(audio) as temporary:
                temporary.write_bytes(b"".join(frames))
            _write_json(facts_file, {**measured, "frames": len(frames)})

        list(pool.map(make, missing))
    measured = [_read_json(cache / item.files[1]) for item in planned]
    with atomic_path(stream) as temporary, open(temporary, "wb") as out:
        for item in planned:
            out.write((cache / item.files[0]).read_bytes())
    _keep_only(cache, {name for item in planned for name in item.files} | set(fact_files))
    cells = add_cells([(m["first_cell"], np.array(m["cells"]).reshape(-1, CHANNELS)) for m in measured])
    return MixAudio(samples=total, loudness_lufs=integrated_loudness(cells, settings.sampling_rate),
                    true_peak_db=max(m["true_peak_db"] for m in measured), pieces_made=len(missing),
                    pieces_kept=len(planned) - len(missing))


def _is_kept(cache: Path, item: _PlannedPiece) -> bool:
    """Whether the cache holds the piece whole: its facts, and as many AAC frames as they count."""
    audio, facts_file = (cache / name for name in item.files)
    measured = _read_json(facts_file)
    try:
        return measured is not None and len(aac.adts_frames(audio.read_bytes(), audio)) == measured["frames"]
    except (OSError, MediaError, KeyError):
        return False


def _keep_only(cache: Path, names: set[str]) -> None:
    """Remove what the mix just made did not use (and what a killed one left): the cache holds one mix's pieces,
    not every mix's."""
    for path in cache.iterdir():
        if path.name in names:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
