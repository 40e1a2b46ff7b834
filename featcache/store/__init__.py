"""The feature store: the HDF5 cache (layout, writer, reader), its identity, atomic files and the lock.

- ``layout``: the HDF5 layout, FORMAT_VERSION, attributes and the content digest
- ``identity``: ``CacheIdentity``, the settings that decide a cache's numbers
- ``writer``: ``CacheWriter`` (resumable) and ``StagedWriter`` (photo folders)
- ``reader``: ``Cache``/``open_cache``/``as_cache``, ``read_attrs``, ``verify``, ``find_complete``
- ``partial``: what may sit at ``<out>.partial.h5`` (featcache's partial, or refused)
- ``lock``: the writers' lock; ``atomic``: publishing files; ``fingerprint``: hashes
"""

from featcache import _lazy

# The names below are imported from their modules when first asked for (``_lazy.package_names``): the reader and
# writer import h5py, which the light modules (``store.atomic``, ``store.lock``, ``store.fingerprint``) and what
# imports only them (the CLI's parser) do not need.
_HOMES = {
    **dict.fromkeys(("atomic_path", "publish", "write_json", "write_text"), "featcache.store.atomic"),
    "CacheIdentity": "featcache.store.identity",
    **dict.fromkeys(("FORMAT", "FORMAT_VERSION"), "featcache.store.format"),
    **dict.fromkeys(("STAGING", "partial_path"), "featcache.store.layout"),
    **dict.fromkeys(("exclusive_lock", "lock_path"), "featcache.store.lock"),
    **dict.fromkeys(("Cache", "VerifyResult", "find_complete", "as_cache", "open_cache", "read_attrs", "tidy_partial",
                     "verify"), "featcache.store.reader"),
    **dict.fromkeys(("CacheWriter", "SplitSpec", "StagedWriter", "make_writer"), "featcache.store.writer"),
}
__getattr__ = _lazy.package_names(__name__, _HOMES)
__all__ = list(_HOMES)
