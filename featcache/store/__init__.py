"""The feature store: the HDF5 cache (layout, writer, reader), its identity, atomic files and the lock."""
