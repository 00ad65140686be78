"""The whole-plate reader's own Keras layers: learned cell positions and learned slot queries.

Imported by training and by the export of a saved model only (it imports Keras); reading goes
through the ONNX export and never needs them. Registered, so ``keras.models.load_model`` of a
saved ``.h5`` finds them.
"""

from __future__ import annotations

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="plateocr")
class PositionEmbedding(layers.Layer):
    """Adds a learned vector to every cell of a feature map, so that attention knows where a cell is."""

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.position = self.add_weight(
            shape=tuple(input_shape[1:]), initializer=keras.initializers.RandomNormal(stddev=0.02), name="position"
        )

    def call(self, x: object) -> object:
        return x + self.position


@keras.saving.register_keras_serializable(package="plateocr")
class SlotQueries(layers.Layer):
    """One learned query vector per output slot, repeated over the batch of its input."""

    def __init__(self, slots: int, dim: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.slots, self.dim = slots, dim

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.queries = self.add_weight(
            shape=(self.slots, self.dim), initializer=keras.initializers.RandomNormal(stddev=0.02), name="queries"
        )

    def call(self, x: object) -> object:
        # Zeros of shape (batch, 1, 1) plus the queries: the (slots, dim) part stays static, which the
        # ONNX export needs for a fixed output shape.
        return keras.ops.zeros_like(x[:, :1, :1]) + self.queries[None]

    def get_config(self) -> dict[str, object]:
        return {**super().get_config(), "slots": self.slots, "dim": self.dim}
