"""The names of featcache 0.1's ``featcache.store.cache``, kept importable for one version.

The cache now lives in ``store.layout`` (the HDF5 layout), ``store.writer``
(resumable and staged writers), ``store.reader`` (Cache, verify) and
``store.lock``; import from ``featcache.store`` instead.
"""

from featcache.store.layout import (  # noqa: F401
    CHUNK_ROWS,
    FORMAT,
    FORMAT_VERSION,
    STAGING,
    WRITE_CHUNK_CACHE,
    lock_path,
    partial_path,
)
from featcache.store.lock import exclusive_lock  # noqa: F401
from featcache.store.reader import (  # noqa: F401
    Cache,
    find_complete,
    open_cache,
    read_attrs,
    tidy_partial,
    verify,
)
from featcache.store.writer import COMMIT_SECONDS, CacheWriter, SplitSpec, StagedWriter  # noqa: F401
