"""The names of featcache 0.1's ``featcache.store.cache``, kept importable for one version.

The cache now lives in ``store.layout`` (the HDF5 layout), ``store.writer``
(resumable and staged writers), ``store.reader`` (Cache, verify) and
``store.lock``; import from ``featcache.store`` instead.
"""

from featcache.store.layout import (  # noqa: F401
    CHUNK_ROWS,
    FORMAT,
    FORMAT_VERSION,
    JSON_ATTRS as _JSON_ATTRS,
    STAGING,
    WRITE_CHUNK_CACHE,
    decode_attrs as _decode_attrs,
    encode as _encode,
    lock_path,
    open_h5 as _open_h5,
    partial_path,
)
from featcache.store.lock import exclusive_lock  # noqa: F401
from featcache.store.reader import Cache, find_complete, open_cache, read_attrs, tidy_partial, verify  # noqa: F401
from featcache.store.writer import COMMIT_SECONDS, CacheWriter, SplitSpec, StagedWriter  # noqa: F401
