"""Character classifiers, picked by name (``--arch``). Every one is a Keras ``Sequential``."""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

from config import ARCHITECTURES


def _dense_head(num_classes: int) -> list[layers.Layer]:
    """The original program's head: Dense 1024 -> 512 -> 256 (BN + ReLU each), dropout, softmax."""
    head: list[layers.Layer] = []
    for units in (1024, 512, 256):
        head += [layers.Dense(units), layers.BatchNormalization(), layers.Activation("relu")]
    head += [layers.Dropout(0.5), layers.Dense(num_classes, activation="softmax")]
    return head


def _conv(filters: int) -> list[layers.Layer]:
    return [layers.Conv2D(filters, 3, padding="same"), layers.BatchNormalization(), layers.Activation("relu")]


def build_seed(num_classes: int, input_shape: tuple[int, int, int]) -> keras.Sequential:
    """The original program's network, layer for layer."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            *_conv(16),
            layers.MaxPooling2D(pool_size=3),
            layers.Dropout(0.25),
            *_conv(32),
            layers.Flatten(),
            *_dense_head(num_classes),
        ],
        name="seed",
    )


def build_wide(num_classes: int, input_shape: tuple[int, int, int]) -> keras.Sequential:
    """Three conv stages (VGG-like, 2x2 pooling) in front of the same dense head.

    Deeper features see whole strokes (the seed's single 3x3 stage before the
    head sees only fragments), which is what tells 8 from B and 0 from D.
    """
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            *_conv(32),
            layers.MaxPooling2D(2),
            *_conv(64),
            layers.MaxPooling2D(2),
            *_conv(128),
            layers.MaxPooling2D(2),
            layers.Dropout(0.25),
            layers.Flatten(),
            *_dense_head(num_classes),
        ],
        name="wide",
    )


BUILDERS: dict[str, Callable[[int, tuple[int, int, int]], keras.Sequential]] = {
    "seed": build_seed,
    "wide": build_wide,
}
assert tuple(BUILDERS) == ARCHITECTURES, "config.ARCHITECTURES and the builders must name the same networks"


def build_model(arch: str, num_classes: int, input_shape: tuple[int, int, int]) -> keras.Sequential:
    """Build an uncompiled model by registry name."""
    try:
        builder = BUILDERS[arch]
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r}; choose from {list(ARCHITECTURES)}") from None
    return builder(num_classes, input_shape)
