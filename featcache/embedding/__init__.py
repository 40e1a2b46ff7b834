"""Embedding: backbones, preprocessing, the mapper (runtime), engines and the runner that drives a source into the store."""
