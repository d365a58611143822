"""Image files to faces: headers read before decoding, size caps, empty and broken files, bit
depth; on real sample faces and on files built from them at run time."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer import images
from fer.dataset import FaceDataset
from fer.errors import FerError
from fer.images import decode_face, decode_photo, image_size, to_8bit, to_face

from .conftest import with_png_size


def encoded(image: np.ndarray, extension: str, params: tuple[int, ...] = ()) -> bytes:
    ok, buffer = cv2.imencode(extension, image, list(params))
    assert ok
    return buffer.tobytes()



@pytest.fixture
def face(sample: FaceDataset) -> np.ndarray:
    return sample.images[0]


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything reaches OpenCV's decoder: refusals must come before it."""

    def refuse(*args: object) -> None:
        raise AssertionError("decoded although the header already said no")

    monkeypatch.setattr(images.cv2, "imdecode", refuse)


@pytest.mark.parametrize(
    ("extension", "params"),
    [
        (".jpg", ()),
        (".jpg", (cv2.IMWRITE_JPEG_PROGRESSIVE, 1)),
        (".png", ()),
        (".webp", ()),
        (".webp", (cv2.IMWRITE_WEBP_QUALITY, 101)),  # lossless: the VP8L header
        (".bmp", ()),
    ],
)
def test_image_size_reads_every_accepted_format_without_decoding(
    face: np.ndarray, extension: str, params: tuple[int, ...], no_decoding: None
) -> None:
    colour = cv2.cvtColor(cv2.resize(face, (71, 53)), cv2.COLOR_GRAY2BGR)
    kind, width, height = image_size(encoded(colour, extension, params), "face")
    assert (kind, width, height) == ({".jpg": "jpg"}.get(extension, extension[1:]), 71, 53)


def test_empty_foreign_and_cut_short_files_are_named_errors(face: np.ndarray, capfd: pytest.CaptureFixture[str]) -> None:
    png, jpeg = encoded(face, ".png"), encoded(face, ".jpg")
    cases = {
        b"": "empty.png: empty file \\(0 bytes\\)",
        b"II*\x00" + png: "empty.png: not a readable image \\(jpg, png, webp or bmp expected\\)",  # a TIFF
        png[:20]: "its png header is damaged or cut short",
        jpeg[:20]: "its jpg header is damaged or cut short",  # cut before the frame header
        with_png_size(png, 0, 48): "its png header says 0x48 pixels",
    }
    for content, message in cases.items():
        for decode in (decode_face, decode_photo):
            with pytest.raises(FerError, match=message):
                decode(content, "empty.png")
    # A header that is fine, with the pixel data cut short: OpenCV's failure, in the project's words.
    with pytest.raises(FerError, match="cut.png: not a readable image"):
        decode_face(png[: len(png) // 2], "cut.png")
    # ... and only in those words: OpenCV's own "[ WARN:0] ... PNG input buffer is incomplete"
    # is not printed before them, and its log level is back as it was.
    assert "WARN" not in capfd.readouterr().err
    assert cv2.utils.logging.getLogLevel() == cv2.utils.logging.LOG_LEVEL_WARNING


def test_a_huge_declared_size_is_refused_before_decoding(face: np.ndarray, no_decoding: None) -> None:
    bomb = with_png_size(encoded(face, ".png"), 20_000, 20_000)  # a few hundred bytes, 1.2 GB decoded
    with pytest.raises(FerError, match="bomb.png: 20000x20000 pixels, too large for a face image"):
        decode_face(bomb, "bomb.png")
    with pytest.raises(FerError, match="bomb.png: 20000x20000 pixels \\(400 megapixels\\) is too large to open"):
        decode_photo(bomb, "bomb.png")


def test_dataset_images_above_the_side_limit_are_refused(face: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    assert decode_face(encoded(face, ".png"), "face.png")[0].shape == (48, 48)
    monkeypatch.setattr(images, "FACE_IMAGE_MAX_SIDE", 47)
    with pytest.raises(FerError, match="face.png: 48x48 pixels, too large for a face image \\(at most 47"):
        decode_face(encoded(face, ".png"), "face.png")


def test_large_jpeg_photos_are_decoded_shrunk_and_other_formats_refused(
    face: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = cv2.cvtColor(cv2.resize(face, (400, 300), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)
    jpeg, png = encoded(photo, ".jpg"), encoded(photo, ".png")
    full, shrunk = decode_photo(jpeg, "big.jpg")
    assert full.shape == (300, 400, 3) and shrunk == 1
    monkeypatch.setattr(images, "PHOTO_MAX_PIXELS", 10_000)  # 120,000 pixels: 1/4 is the first to fit
    small, shrunk = decode_photo(jpeg, "big.jpg")
    assert shrunk == 4 and small.shape == (75, 100, 3)
    expected = cv2.resize(full, (100, 75), interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(small.astype(int) - expected).mean() < 6  # the same picture, at a quarter of the size
    with pytest.raises(FerError, match="big.png: 400x300 pixels .* the limit is 0 megapixels"):
        decode_photo(png, "big.png")
    monkeypatch.setattr(images, "PHOTO_MAX_PIXELS", 1_000)  # even 1/8 is too big
    with pytest.raises(FerError, match="big.jpg: 400x300 pixels"):
        decode_photo(jpeg, "big.jpg")


def test_a_progressive_jpeg_opens_only_within_the_plain_pixel_limit(face: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    photo = cv2.cvtColor(cv2.resize(face, (400, 300), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)
    progressive = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes()
    assert decode_photo(progressive, "p.jpg")[1] == 1
    monkeypatch.setattr(images, "PHOTO_MAX_PIXELS", 10_000)
    # libjpeg would buffer every coefficient of the full-size image before shrinking it: a 9 KB
    # progressive file declaring 32000x32000 pixels took 6.9 GB. A baseline one shrinks (above).
    with pytest.raises(FerError, match="p.jpg: 400x300 pixels .* \\(this one is progressive or multi-scan, which can't be\\)"):
        decode_photo(progressive, "p.jpg")


def test_16_bit_images_are_scaled_by_bit_depth_not_stretched(face: np.ndarray) -> None:
    constant = np.full((48, 48), 40_000, np.uint16)
    low_contrast = (30_000 + face.astype(np.uint16) * 2).astype(np.uint16)  # 30000..30510
    for image in (constant, low_contrast):
        content = encoded(image, ".png")
        assert cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_UNCHANGED).dtype == np.uint16
        decoded, converted = decode_face(content, "deep.png")
        assert converted
        assert np.array_equal(decoded, (image >> 8).astype(np.uint8))
        # The same file read by OpenCV as 8-bit gives the same pixels.
        assert np.array_equal(decoded, cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_GRAYSCALE))
    assert set(np.unique(decode_face(encoded(constant, ".png"), "c.png")[0])) == {156}
    assert set(np.unique(decode_face(encoded(low_contrast, ".png"), "l.png")[0])) <= {117, 118, 119}


def test_float_images_are_taken_as_0_to_1_and_other_types_refused() -> None:
    values = np.array([[0.0, 0.5, 1.0, 2.0, -1.0, np.nan]], np.float32)
    assert to_8bit(values).tolist() == [[0, 128, 255, 255, 0, 0]]
    face, converted = to_face(np.full((48, 48), 0.25, np.float64))
    assert converted and set(np.unique(face)) == {64}
    with pytest.raises(FerError, match="unsupported pixel type int32"):
        to_face(np.zeros((48, 48), np.int32))


def test_every_colour_layout_becomes_the_same_gray(face: np.ndarray) -> None:
    """Detectors and crops share :func:`images.to_gray`, so a face is gray the same way in both."""
    bgr = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)
    bgra = cv2.cvtColor(face, cv2.COLOR_GRAY2BGRA)
    for image in (face, face[..., None], np.dstack([face, np.full_like(face, 255)]), bgr, bgra):
        assert np.array_equal(images.to_gray(image), face), image.shape
    assert images.to_gray(face) is face  # already gray: not copied
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[..., 2] = 255  # pure red in BGR: OpenCV's weight for red
    assert set(np.unique(images.to_gray(colour))) == {76}


def test_resized_scales_each_side_and_picks_the_interpolation_by_direction() -> None:
    checker = (np.indices((6, 9)).sum(axis=0) % 2 * 255).astype(np.uint8)
    assert images.resized(checker, 1.0) is checker
    assert images.resized(checker, 0.5).shape == (3, 4)  # 4.5 rounds to even, as Python does
    assert images.resized(checker, 0.01).shape == (1, 1)  # never below a pixel
    assert set(np.unique(images.resized(checker, 1 / 3))) == {113, 142}  # INTER_AREA averages 3x3 blocks
    assert set(np.unique(images.resized(checker, 1 / 3, shrink=cv2.INTER_NEAREST))) <= {0, 255}
    nearest = images.resized(checker, 3, grow=cv2.INTER_NEAREST)
    assert nearest.shape == (18, 27) and np.array_equal(nearest[::3, ::3], checker)
    assert len(np.unique(images.resized(checker, 3))) > 2  # INTER_LINEAR by default: blended edges


def test_a_photos_face_is_equalized_only_when_its_grey_levels_are_not_spread_as_fer2013s(sample: FaceDataset) -> None:
    faces = sample.images
    kept = [np.array_equal(images.photo_face(face), face) for face in faces]
    assert np.mean(kept) > 0.95  # FER2013's own faces are equalized already: nearly all pass as they are
    dark = (faces[0] * 0.5).astype(np.uint8)
    lit = images.photo_face(dark)
    np.testing.assert_array_equal(lit, cv2.equalizeHist(dark))
    assert lit.std() >= images.FER2013_MIN_STD and np.abs(lit.astype(int) - faces[0]).mean() < 12  # its light given back
    large = cv2.resize(dark, (200, 200), interpolation=cv2.INTER_CUBIC)  # a photo's region: brought to 48x48 first
    np.testing.assert_array_equal(images.photo_face(large), cv2.equalizeHist(to_face(large)[0]))
    for value in (0, 128, 255):  # a blank region stays blank
        assert np.unique(images.photo_face(np.full((60, 60), value, np.uint8))).tolist() == [value]


def test_equalizing_gives_the_reference_model_back_faces_photographed_in_poor_light(
    sample: FaceDataset, committed_references: object
) -> None:
    from fer import predict
    from fer.dataset import protocol_splits
    from fer.inference import classify_faces

    model = predict.load_choice(predict.choose_model())
    test = protocol_splits(sample, "thesis")["test"]
    labels = sample.labels[test]

    def accuracy(faces: list[np.ndarray]) -> float:
        return float((classify_faces(model, np.stack(faces), tta="flip").argmax(axis=1) == labels).mean())

    # 0.3 of the light or of the contrast: the default model, fine-tuned with exposure changes of
    # 0.6-1.5, reads half the light almost as well as full light (0.625 against 0.635 on these faces).
    dim = [(face * 0.3).astype(np.uint8) for face in sample.images[test]]
    flat = [(face * 0.3 + 90).astype(np.uint8) for face in sample.images[test]]
    # Measured: 0.635 as stored; dim 0.571, equalized 0.628; flat 0.578, equalized 0.622 (the base model: 0.639;
    # 0.480, 0.618; 0.493, 0.635).
    assert accuracy(list(sample.images[test])) - accuracy(dim) > 0.03  # poor light costs the model points
    assert accuracy([images.photo_face(face) for face in dim]) > accuracy(dim) + 0.03
    assert accuracy([images.photo_face(face) for face in flat]) > accuracy(flat) + 0.02
