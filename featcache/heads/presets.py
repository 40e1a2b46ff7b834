"""The Keras head's training presets (``DenseHead``'s), in a module that imports nothing: the CLI's parser names
them (``train --preset``, ``curve --keras-preset``) without importing scikit-learn, which ``heads.dense`` does."""

# "lesson": exactly the lesson's training (5 epochs, nothing else).
# "default": the same head with an L2 penalty on the Dense kernel, trained
# until validation loss has not improved for 10 epochs, best weights restored.
# Measured on the lesson's cache (4,000 / 3,000 images, out_relu, seeds 0 and
# 1): lesson 0.817 / 0.821; early stopping alone (patience 5, 10 or 20) 0.828 /
# 0.831, because validation loss bottoms out after ~9 epochs whatever the
# patience; dropout 0.5 0.831 / 0.838; L2 1e-2 0.844 / 0.847 (L2 1e-3 0.827,
# 3e-2 0.841, 1e-1 0.836). The penalty only shapes training: the layers, and
# so the end-to-end model the weights drop into, are the lesson's.
PRESETS = {
    "lesson": dict(epochs=5, early_stopping=False, l2=0.0),
    "default": dict(epochs=200, early_stopping=True, patience=10, l2=1e-2),
}
DEFAULT_PRESET = "default"  # what train uses without --preset (curve keeps the lesson's for speed: DEFAULT_KERAS_PRESET)
