"""Engines (distributors): who runs the mapper over the batches.

An engine gets the list of batches still to do, a ``read`` (reader), an
``embed`` (mapper) and a ``write`` (writer) callable, and must call ``write``
in batch order. Only the engine changes when extraction moves to a cluster.
"""
