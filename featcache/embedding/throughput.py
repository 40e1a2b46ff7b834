"""How fast a run of the network over images went: extract's figures, which predict and evaluate of a model say too.

The one home of images/s, view-images/s and their ``--json`` keys (``images``, ``seconds``, ``startup_seconds``,
``images_per_s``, ``views``, ``view_images_per_s``). Here, in the embedding stage, so that extract's result builds
its figures from it and deploy (predict, evaluate of a model) imports it, as the layering allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from featcache.progress import counted


@dataclass(frozen=True)
class Throughput:
    """``images`` run in ``seconds`` (reading, decoding and the forward passes), the model's preparation apart,
    ``startup_seconds`` (extract's model build; predict's and evaluate's TensorFlow import, load, conversion and
    trace), as extract leaves its model build out of its images/s. ``views``: forward passes per image, each view
    one (``view_images_per_s``: the network's throughput)."""

    images: int = 0
    seconds: float = 0.0
    startup_seconds: float = 0.0
    views: int = 1

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0

    @property
    def view_images_per_s(self) -> float:
        """Forward-pass images per second: every view of every image (the network's throughput)."""
        return self.images_per_s * self.views

    def to_dict(self, **other_startups: float) -> dict[str, Any]:
        """The figures under their ``--json`` keys. ``other_startups``: start-ups of the run's own, said beside
        ``startup_seconds`` and left out of the rates as it is (extract's ``engine_startup_seconds``, Ray's)."""
        return {"images": self.images, "seconds": round(self.seconds, 3),
                "startup_seconds": round(self.startup_seconds, 3),
                **{key: round(value, 3) for key, value in other_startups.items()},
                "images_per_s": round(self.images_per_s, 1), "views": self.views,
                "view_images_per_s": round(self.view_images_per_s, 1)}

    def views_words(self) -> str:
        """``" x 3 views"`` after the image count where an image is more than one pass, else ``""``."""
        return f" x {self.views} views" if self.views > 1 else ""

    def rate_words(self) -> str:
        """``"47 images/s"``, and ``", 141 view-images/s"`` after it where an image is more than one pass."""
        view_rate = f", {self.view_images_per_s:.0f} view-images/s" if self.views > 1 else ""
        return f"{self.images_per_s:.0f} images/s{view_rate}"

    def line(self, runtime: str | None) -> str:
        """``153 images in 3.2 s (47 images/s, runtime onnxruntime; model ready in 4.1 s)``: extract's summary's
        figures, as predict and evaluate of a model say them."""
        return (f"{counted(self.images, 'image')}{self.views_words()} in {self.seconds:.1f} s ({self.rate_words()}, "
                f"runtime {runtime}; model ready in {self.startup_seconds:.1f} s)")
