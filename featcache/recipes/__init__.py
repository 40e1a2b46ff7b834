"""Recipes: what is built on every stage of the pipeline (sources -> embedding -> store -> heads -> analysis ->
deploy). ``lesson`` is the lesson's comparison table, ``featcache.lesson(...)`` / ``featcache lesson``; ``files``
reads any file featcache writes, a cache, a head or a model (``featcache.verify``, ``featcache.info``).

A package of its own, not ``featcache/lesson.py``: a module there shared its name with the API's function
``featcache.lesson``, and importing it (``from featcache.lesson import ROWS``, or the CLI, which did) put the
module in the function's place, so ``featcache.lesson(weights=W)`` was "'module' object is not callable"."""
