"""The fused random affine: identity, flips, ranges, and agreement with OpenCV's warp."""

from __future__ import annotations

import cv2
import keras
import numpy as np

from fer.augment import (
    STUDY_RANGES,
    AugmentRanges,
    FaceAugment,
    augmented_views,
    random_transforms,
)
from fer.dataset import FaceDataset

NO_CHANGE = AugmentRanges(rotation=0, width_shift=0, height_shift=0, shear=0, zoom=0, horizontal_flip=False)


def test_zero_ranges_are_the_identity(sample: FaceDataset) -> None:
    views = augmented_views(sample.images[0], 4, NO_CHANGE)
    assert np.array_equal(views, np.repeat(sample.images[:1], 4, axis=0))


def test_flip_only_gives_the_face_or_its_mirror_both_seen(sample: FaceDataset) -> None:
    face = sample.images[3]
    views = augmented_views(face, 64, AugmentRanges(0, 0, 0, 0, 0, horizontal_flip=True), seed=1)
    mirrored = [np.array_equal(v, face[:, ::-1]) for v in views]
    unchanged = [np.array_equal(v, face) for v in views]
    assert all(m or u for m, u in zip(mirrored, unchanged))
    assert 16 < sum(mirrored) < 48


def test_views_keep_shape_dtype_and_range_and_differ(sample: FaceDataset) -> None:
    views = augmented_views(sample.images[5], 16, STUDY_RANGES, seed=3)
    assert views.shape == (16, 48, 48) and views.dtype == np.uint8
    assert len({v.tobytes() for v in views}) == 16  # every image got its own transform
    # Bilinear sampling with nearest-edge fill cannot leave the face's own value range.
    face = sample.images[5]
    assert views.min() >= face.min() and views.max() <= face.max()
    # A mild affine keeps the face: a view resembles its own face (or mirror) more than other faces.
    def resemblance(view: np.ndarray, other: np.ndarray) -> float:
        flat = other.astype(float).ravel()
        return max(np.corrcoef(flat, v.astype(float).ravel())[0, 1] for v in (view, view[:, ::-1]))

    own = np.median([resemblance(v, face) for v in views])
    others = np.median([resemblance(v, other) for v in views for other in sample.images[100:110]])
    assert own > others + 0.2


def test_transforms_stay_within_the_study_ranges() -> None:
    rows = keras.ops.convert_to_numpy(random_transforms(2000, 48, 48, STUDY_RANGES, keras.random.SeedGenerator(0)))
    linear = rows[:, [0, 1, 3, 4]].reshape(-1, 2, 2)
    scale = np.abs(np.linalg.det(linear))  # zoom_x * zoom_y * cos(shear)
    assert scale.min() >= 0.85**2 * 0.999 and scale.max() <= 1.15**2 * 1.001
    flips = np.sign(np.linalg.det(linear))
    assert 0.4 < (flips < 0).mean() < 0.6
    assert np.all(rows[:, 6:] == 0)


def test_matches_opencv_warp_with_the_same_matrix(sample: FaceDataset) -> None:
    """The (x = column, y = row) convention and the centre: OpenCV applies the same inverse map."""
    face = sample.images[7]
    seed = keras.random.SeedGenerator(11)
    rows = keras.ops.convert_to_numpy(random_transforms(1, 48, 48, STUDY_RANGES, seed))
    from fer.augment import augment

    ours = keras.ops.convert_to_numpy(
        augment(face[None, :, :, None].astype("float32"), STUDY_RANGES, keras.random.SeedGenerator(11))
    )[0, :, :, 0]
    matrix = rows[0, :6].reshape(2, 3).astype(np.float64)
    reference = cv2.warpAffine(
        face.astype(np.float32), matrix, (48, 48), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    assert np.abs(ours - reference).mean() < 1.0


def test_layer_is_identity_at_inference_and_random_in_training(sample: FaceDataset) -> None:
    layer = FaceAugment(seed=0)
    batch = sample.images[:8, :, :, None].astype("float32")
    assert np.array_equal(keras.ops.convert_to_numpy(layer(batch, training=False)), batch)
    assert not np.array_equal(keras.ops.convert_to_numpy(layer(batch, training=True)), batch)
    assert FaceAugment.from_config(layer.get_config()).ranges == STUDY_RANGES
