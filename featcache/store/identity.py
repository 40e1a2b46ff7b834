"""A cache's identity: everything that decides its numbers, as one frozen dataclass.

Its ``settings()`` are stored in the cache (attrs["settings"]) and its
``fingerprint`` names it; a new kind of setting (e.g. cached augmented
views) is one new field here, with a default that keeps older identities.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from featcache.store.fingerprint import canonical, fingerprint
from featcache.store.format import FORMAT_VERSION


# Where a file an output replaces was made from, where not from this cache (heads.io.replaced_from for heads and
# models; store.reader.other_cache for a cache extract --force replaces): one vocabulary for every command's line and
# --json ``replaced_from``. OTHER_SETTINGS: the same data set (and photo folder), other settings (extract's own).
ANOTHER_DATA_SET, ANOTHER_PHOTO_FOLDER, OTHER_SETTINGS = "another data set", "another photo folder", "other settings"


# The rules of those words, beside them (one home: heads.io and store.reader each had a copy; a reviewer, 2026-12-05).
# ``old`` and ``new`` are records: a cache's attributes, a head's or model's metadata (``dataset``, ``class_names``,
# the photo ``source``).
def other_data_set(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether ``old`` records another data set name or other classes than ``new`` (``ANOTHER_DATA_SET``)."""
    return old.get("dataset") != new.get("dataset") or list(old.get("class_names") or []) != list(new.get("class_names") or [])


def other_photo_folder(old: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    """``old``'s photo folder where it is another project's than ``new``'s (the same name and classes:
    ``ANOTHER_PHOTO_FOLDER``), else None (either not photos, or the same folder, moved or out of reach)."""
    from featcache.sources.base import other_folders, photo_root_of

    old_root, new_root = photo_root_of(old.get("source")), photo_root_of(new.get("source"))
    return old_root if old_root is not None and new_root is not None and other_folders(old_root, new_root) else None


# Fields added after caches existed: absent from settings() while None, so older identities keep their fingerprint.
OMITTED_WHEN_NONE = ("views",)


@dataclass(frozen=True)
class CacheIdentity:
    backbone: str
    weights: str  # weights_identity(): "random" or a content hash of the weights file (imagenet's: Keras's file)
    image_size: int
    preprocessing: str
    layers: tuple[str, ...]
    dtype: str
    dataset: str
    data_digest: Mapping[str, str]  # the source's content hash per split
    class_names: tuple[str, ...]
    format_version: int = field(default=FORMAT_VERSION)
    # featcache.embedding.views.identity(views): None for the original view alone, else each view's
    # "name@algorithm" in stored order. None is left out of settings(), so every cache made before
    # views existed (and every cache without views) keeps its fingerprint.
    views: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        if self.views is not None:
            object.__setattr__(self, "views", tuple(self.views))
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "image_size", int(self.image_size))
        canonical(self.settings())  # refuses values a fingerprint cannot hold exactly, at construction

    def settings(self) -> dict[str, Any]:
        """The plain dict stored as the cache's ``settings`` attribute (and hashed into the fingerprint)."""
        return canonical({f.name: getattr(self, f.name) for f in fields(self)
                          if not (f.name in OMITTED_WHEN_NONE and getattr(self, f.name) is None)})

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.settings())

    def differences(self, stored: Mapping[str, Any] | None) -> list[str]:
        """Names of the settings in which a stored ``settings`` dict differs from this identity."""
        stored = stored if isinstance(stored, Mapping) else {}
        mine = self.settings()
        # a field left out of mine (views=None) differs from a stored one that has it
        return [k for k in mine if stored.get(k) != mine[k]] + [k for k in OMITTED_WHEN_NONE if k not in mine and stored.get(k) is not None]
