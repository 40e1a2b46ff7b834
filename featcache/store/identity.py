"""A cache's identity: everything that decides its numbers, as one frozen dataclass.

Its ``settings()`` are stored in the cache (attrs["settings"]) and its
``fingerprint`` names it; a new kind of setting (e.g. cached augmented
views) is one new field here, with a default that keeps older identities.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from featcache.store.fingerprint import canonical, fingerprint
from featcache.store.layout import FORMAT_VERSION


@dataclass(frozen=True)
class CacheIdentity:
    backbone: str
    weights: str  # weights_identity(): 'imagenet', 'random' or a content hash of a weights file
    image_size: int
    preprocessing: str
    layers: tuple[str, ...]
    dtype: str
    dataset: str
    data_digest: Mapping[str, str]  # the source's content hash per split
    class_names: tuple[str, ...]
    format_version: int = field(default=FORMAT_VERSION)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "image_size", int(self.image_size))
        canonical(self.settings())  # refuses values a fingerprint cannot hold exactly, at construction

    def settings(self) -> dict[str, Any]:
        """The plain dict stored as the cache's ``settings`` attribute (and hashed into the fingerprint)."""
        return canonical({f.name: getattr(self, f.name) for f in fields(self)})

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.settings())

    def differences(self, stored: Mapping[str, Any] | None) -> list[str]:
        """Names of the settings in which a stored ``settings`` dict differs from this identity."""
        stored = stored if isinstance(stored, Mapping) else {}
        mine = self.settings()
        return [k for k in mine if stored.get(k) != mine[k]]
