"""The fused random affine: identity, flips, ranges, and agreement with OpenCV's warp; the photo
augmentation's blur and exposure."""

from __future__ import annotations

import cv2
import keras
import numpy as np

from fer.augment import (
    AUGMENT_RANGES,
    EXPOSURE_GAIN,
    STUDY_RANGES,
    AugmentRanges,
    FaceAugment,
    augment,
    augmented_views,
    blurred,
    exposed,
    random_transforms,
)
from fer.dataset import FaceDataset
from fer.models import build_model

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


def _sharpness(faces: np.ndarray) -> np.ndarray:
    """Each face's variance of the Laplacian: what blur takes away."""
    return np.array([cv2.Laplacian(face.astype(np.float64), cv2.CV_64F).var() for face in faces[..., 0]])


def test_blur_softens_the_faces_it_picks_and_leaves_the_others_as_they_were(sample: FaceDataset) -> None:
    faces = sample.images[:300, :, :, None].astype("float32") / 255
    out = keras.ops.convert_to_numpy(blurred(keras.ops.convert_to_tensor(faces), 0.4, keras.random.SeedGenerator(0)))
    changed = np.abs(out - faces).max(axis=(1, 2, 3)) > 1e-3
    assert 0.3 < changed.mean() < 0.5  # the share asked for
    np.testing.assert_allclose(out[~changed], faces[~changed], atol=1e-5)
    kept = _sharpness(out[changed]) / _sharpness(faces[changed])
    assert kept.max() < 1 and np.median(kept) < 0.5  # the mildest blur (sigma 0.3 px) takes little
    # Normalised kernels and mirrored edges keep each face's brightness.
    assert np.abs(out.mean(axis=(1, 2, 3)) - faces.mean(axis=(1, 2, 3))).max() < 0.01


def test_exposure_changes_the_share_asked_for_within_black_and_white(sample: FaceDataset) -> None:
    faces = sample.images[:300, :, :, None].astype("float32") / 255
    out = keras.ops.convert_to_numpy(exposed(keras.ops.convert_to_tensor(faces), 0.4, keras.random.SeedGenerator(0)))
    changed = np.abs(out - faces).max(axis=(1, 2, 3)) > 1e-3
    assert 0.3 < changed.mean() < 0.5
    assert out.min() >= 0.0 and out.max() <= 1.0
    ratios = out[changed].mean(axis=(1, 2, 3)) / faces[changed].mean(axis=(1, 2, 3))
    assert ratios.min() < 0.9 and ratios.max() > 1.1 and ratios.max() <= EXPOSURE_GAIN[1] + 0.01  # darker and brighter


def test_exposure_works_in_grey_levels_whatever_the_models_input_scale(sample: FaceDataset) -> None:
    """ResNet50 and VGG19 see faces as BGR minus ImageNet's mean: an exposed face must still be one
    grey face (three equal channels once the means are added back) between black and white."""
    model = build_model("vgg19", augment="photo", seed=0)
    black, white = (np.array(level) for level in model.get_layer("augment").levels)
    gray = sample.images[:64, :, :, None].astype("float32")
    caffe = keras.ops.convert_to_tensor((np.repeat(gray, 3, axis=-1) + black).astype("float32"))
    only_exposure = AugmentRanges(0, 0, 0, 0, 0, horizontal_flip=False, exposure=1.0)
    out = keras.ops.convert_to_numpy(augment(caffe, only_exposure, keras.random.SeedGenerator(0), (black, white))) - black
    assert np.abs(out - out[..., :1]).max() < 1e-3
    assert out.min() > -1e-3 and out.max() < 255 + 1e-3
    assert np.abs(out[..., 0] - gray[..., 0]).max(axis=(1, 2)).min() > 1  # every face exposed another way
    layer = model.get_layer("augment")
    assert FaceAugment.from_config(layer.get_config()).ranges == AUGMENT_RANGES["photo"]
