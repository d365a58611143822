"""People in a video: the faces of its sampled frames linked into one track per person.

A face detector sees faces, not people: each sampled frame brings its own list of boxes. A
person's face moves little between two samples (half a second by default), so a face is taken
to be the person's whose face was last seen nearest to it, at about its size. Nearest pairs are
linked first; a face that is near no one starts a new person. There is no recognition: a
person who walks out and comes back elsewhere, or whose face jumps further than
:data:`MAX_STEP` between two samples, comes back as another person.

People are numbered from 1 by the frames they were found in, most first (ties: the larger
face first), so person 1 is the one a video is mostly of, and a video of one face has person 1
alone.
"""

from __future__ import annotations

from collections.abc import Sequence

Box = tuple[int, int, int, int]
"""x, y, width, height in the video's pixels, as :attr:`fer.faces.Face.box`."""

MAX_STEP = 0.75
"""How far a face's centre may move between two samples and stay its person's: 0.75 of the width
it was last seen at (a head turning or a speaker leaning moves it a third to a half)."""
MAX_SCALE = 1.5
"""How much a face may grow or shrink between two samples and stay its person's (either way)."""


def track(boxes_per_frame: Sequence[Sequence[Box]]) -> list[list[int]]:
    """For each frame, the person (numbered from 1, see the module) of each of its boxes, in
    their order. Two boxes of one frame are never one person."""
    last: list[Box] = []  # each person's box where they were last seen
    frames: list[int] = []  # how many frames each was seen in
    area: list[int] = []  # and their face's area in all of them
    linked: list[list[int]] = []
    for boxes in boxes_per_frame:
        pairs = sorted(
            (_step(last[person], box), person, index)
            for person in range(len(last))
            for index, box in enumerate(boxes)
            if _may_follow(last[person], box)
        )
        owner = [-1] * len(boxes)
        for _, person, index in pairs:  # nearest first; each person and each box taken once
            if owner[index] < 0 and person not in owner:
                owner[index] = person
        for index, box in enumerate(boxes):
            if owner[index] < 0:
                owner[index] = len(last)
                last.append(box)
                frames.append(0)
                area.append(0)
            person = owner[index]
            last[person] = box
            frames[person] += 1
            area[person] += box[2] * box[3]
        linked.append(owner)
    order = sorted(range(len(last)), key=lambda person: (-frames[person], -area[person] / frames[person], person))
    number = {person: rank + 1 for rank, person in enumerate(order)}
    return [[number[person] for person in owner] for owner in linked]


def _step(before: Box, after: Box) -> float:
    """How far a face's centre moved, in widths of the face as it was."""
    (x0, y0, w0, h0), (x1, y1, w1, h1) = before, after
    dx, dy = (x1 + w1 / 2) - (x0 + w0 / 2), (y1 + h1 / 2) - (y0 + h0 / 2)
    return (dx * dx + dy * dy) ** 0.5 / max(w0, 1)


def _may_follow(before: Box, after: Box) -> bool:
    """Whether ``after`` is near enough to ``before``, at about its size, to be the same face."""
    ratio = max(after[2], 1) / max(before[2], 1)
    return _step(before, after) <= MAX_STEP and 1 / MAX_SCALE <= ratio <= MAX_SCALE
