"""Where the mix's audio is cut into pieces that are made, encoded and kept one by one: pure arithmetic.

The mix's audio is its clips one after another, each overlapping the next by a crossfade. A piece of it is
encoded as AAC on its own (with a few frames of its neighbours' audio before and after, so that the encoder
meets its edges as inside the whole; aibeats.mix_audio), and the pieces' AAC frames are joined. Where the
pieces are cut decides what each depends on: one that lies within a single clip's solo stretch depends on that
clip alone, one around a crossfade on the two clips it joins. A changed clip then remakes only its own pieces:
its solo stretch and the two crossfades on either side.

Every cut falls on an AAC frame (1024 samples) from the mix's start, so that the joined frames are those of one
continuous stream; and at least `context` samples from any crossfade, so that a solo piece, context included,
never reaches into another clip.
"""

from dataclasses import dataclass

AAC_FRAME = 1024


@dataclass(frozen=True)
class ClipPlacement:
    """A clip's audio on the mix's timeline: where it starts, how long it is, and whether it fades in / out."""

    start: int
    length: int
    fade_in: bool
    fade_out: bool

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass(frozen=True)
class Piece:
    """The samples [start, end) of the mix, and the clips (by index) whose audio they or their context hold."""

    start: int
    end: int
    clips: tuple[int, ...]


def place_clips(lengths: list[int], overlap: int) -> list[ClipPlacement]:
    """Each clip's place: it starts `overlap` samples before the one before it ends."""
    placements, start = [], 0
    for number, length in enumerate(lengths):
        placements.append(ClipPlacement(start, length, fade_in=number > 0 and overlap > 0,
                                        fade_out=number < len(lengths) - 1 and overlap > 0))
        start += length - overlap
    return placements


def mix_length(placements: list[ClipPlacement]) -> int:
    return placements[-1].end


def plan_pieces(placements: list[ClipPlacement], overlap: int, context: int) -> list[Piece]:
    """The pieces of the mix in order: solo stretches and crossfades, cut on AAC frames, `context` samples clear of
    every crossfade; a clip too short for a solo stretch of its own joins the crossfades on either side."""
    total = mix_length(placements)
    cuts = [0]
    for clip in placements[1:]:
        # the crossfade into this clip lies at [clip.start, clip.start + overlap)
        before = (clip.start - context) // AAC_FRAME * AAC_FRAME
        after = -(-(clip.start + overlap + context) // AAC_FRAME) * AAC_FRAME
        if before > cuts[-1]:
            cuts += [before, after]
        elif len(cuts) > 1:
            cuts[-1] = after  # no solo stretch since the last crossfade: one piece across both
        else:
            cuts.append(after)  # the mix's start is within reach: the first piece runs through this crossfade
    cuts = [cut for cut in cuts if cut < total] + [total]
    pieces = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        reach = (start - context, end + context)
        clips = tuple(number for number, clip in enumerate(placements) if clip.start < reach[1] and clip.end > reach[0])
        pieces.append(Piece(start, end, clips))
    return pieces
