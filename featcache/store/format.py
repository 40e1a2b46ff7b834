"""A cache's format name and version and what its file's name ends in, in a module that imports no h5py: the CLI's
parser quotes them (extract's --out; train's, through ``store.identity``) without the HDF5 layout's import
(``store.layout``, which re-exports these names)."""

import os
from pathlib import Path

FORMAT = "featcache"
# 2: Fletcher-32 on every dataset and the content_digest attribute (issue 13).
# It is part of every fingerprint, so format-1 caches are not taken for hits.
FORMAT_VERSION = 2

# What a cache file's name ends in: CACHE_SUFFIX is the default name's; extract's --out (StoreSpec(out=)) takes any of
# CACHE_SUFFIXES in any case. Only .h5 was taken at first, and a user's existing feats.hdf5 or x.H5, which train and
# info read, could no longer be re-run, resumed or hit (a review).
CACHE_SUFFIX = ".h5"
CACHE_SUFFIXES = (".h5", ".hdf5")
CACHE_SUFFIX_WORDS = " or ".join(CACHE_SUFFIXES)


def is_cache_name(path: str | os.PathLike[str]) -> bool:
    """Whether ``path``'s name ends in a cache's suffix (:data:`CACHE_SUFFIXES`, any case)."""
    return Path(path).suffix.lower() in CACHE_SUFFIXES
