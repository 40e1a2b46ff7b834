"""The feature store: the HDF5 cache (layout, writer, reader), its identity, atomic files and the lock.

- ``layout``: the HDF5 layout, FORMAT_VERSION, attributes and the content digest
- ``identity``: ``CacheIdentity``, the settings that decide a cache's numbers
- ``writer``: ``CacheWriter`` (resumable) and ``StagedWriter`` (photo folders)
- ``reader``: ``Cache``/``open_cache``/``as_cache``, ``read_attrs``, ``verify``, ``find_complete``
- ``partial``: what may sit at ``<out>.partial.h5`` (featcache's partial, or refused)
- ``lock``: the writers' lock; ``atomic``: publishing files; ``fingerprint``: hashes
"""

from featcache.store.atomic import atomic_path, publish, write_json, write_text  # noqa: F401
from featcache.store.identity import CacheIdentity  # noqa: F401
from featcache.store.layout import (  # noqa: F401
    FORMAT,
    FORMAT_VERSION,
    STAGING,
    lock_path,
    partial_path,
)
from featcache.store.lock import exclusive_lock  # noqa: F401
from featcache.store.reader import (  # noqa: F401
    Cache,
    VerifyResult,
    find_complete,
    as_cache,
    open_cache,
    read_attrs,
    tidy_partial,
    verify,
)
from featcache.store.writer import CacheWriter, SplitSpec, StagedWriter, make_writer  # noqa: F401
