"""The default recipe with a milder version of the study's random affine in place of crop_flip.

    FER_ARTIFACTS=/some/folder python -m experiments.affine_mild   # full FER2013 imported there

Rotation ±10°, shifts and zoom 0.1, no shear, horizontal flips; everything else as
``python -m scripts.make_default_model train`` (FER-CNN, 40 epochs, seed 42, standard protocol).
Result in the README ("The default model"): PrivateTest 0.6868, under-fitting in 40 epochs.
"""

from unittest import mock

from fer import augment, vocab
from scripts.make_default_model import train

MILD = augment.AugmentRanges(rotation=10.0, width_shift=0.1, height_shift=0.1, shear=0.0, zoom=0.1)

if __name__ == "__main__":
    # Registered while it trains only: the library keeps no option that lost.
    with (
        mock.patch.dict(augment.AUGMENT_RANGES, affine_mild=MILD),
        mock.patch.dict(vocab.AUGMENTATIONS, affine_mild="rotation ±10°, shifts 0.1, zoom 0.1, flip"),
    ):
        train(40, augment="affine_mild")
