"""Linking a video's faces into people: by where each face was last seen, nearest first."""

from __future__ import annotations

from fer.tracking import MAX_SCALE, MAX_STEP, track


def test_one_face_moving_a_little_is_one_person_throughout() -> None:
    frames = [[(100 + 10 * k, 50 + 5 * k, 80, 80)] for k in range(6)]
    assert track(frames) == [[1]] * 6
    assert track([[], [(0, 0, 80, 80)], [], [(4, 0, 82, 82)]]) == [[], [1], [], [1]]  # not found for a while: still them


def test_two_people_keep_their_numbers_whatever_the_detectors_order() -> None:
    left, right = (40, 100, 100, 100), (400, 90, 120, 120)
    frames = [[left, right], [right, left], [(46, 100, 100, 100), (396, 92, 118, 118)], [right]]
    assert track(frames) == [[2, 1], [1, 2], [2, 1], [1]]  # the right one is found in more frames: person 1


def test_people_are_numbered_by_the_frames_they_are_in_then_by_size() -> None:
    small, large = (40, 100, 60, 60), (400, 100, 150, 150)
    assert track([[small, large], [small, large]]) == [[2, 1], [2, 1]]  # equally often: the larger first
    assert track([[small, large], [small], [small]]) == [[1, 2], [1], [1]]


def test_a_face_too_far_or_too_changed_is_someone_else() -> None:
    start = (100, 100, 100, 100)
    jumped = (100 + int(100 * (MAX_STEP + 0.1)), 100, 100, 100)
    grown = (100, 100, int(100 * MAX_SCALE) + 10, int(100 * MAX_SCALE) + 10)
    assert track([[start], [jumped]]) == [[1], [2]]
    assert track([[start], [grown]]) == [[2], [1]]  # someone else, seen as often and larger: person 1
    assert track([[start], [(100 + int(100 * (MAX_STEP - 0.1)), 100, 100, 100)]]) == [[1], [1]]


def test_two_faces_of_one_frame_are_never_one_person_and_the_nearest_is_linked() -> None:
    before = (100, 100, 100, 100)
    near, farther = (110, 100, 100, 100), (150, 100, 100, 100)  # both within reach of the face before
    linked = track([[before], [farther, near], [before]])
    assert linked[1][1] == linked[0][0] != linked[1][0] and sorted(linked[1]) == [1, 2]
    assert track([]) == [] and track([[], []]) == [[], []]
