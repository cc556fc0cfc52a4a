"""Reading import inputs from disk: the I/O edge of the importers.

Files hold YAML (one or many documents) or JSON; a directory stands for the `*.yaml`, `*.yml`
and `*.json` files under it. Backstage `Location` entities are followed here, since following
them means reading more files: relative file targets (and globs) are read, once each; URL
targets are reported, not fetched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

from correlator.errors import UsageError
from correlator.importers.graph import Document

SUFFIXES = (".yaml", ".yml", ".json")


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, directories replaced by the YAML/JSON files under them (sorted)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
            if not found:
                raise UsageError(f"{path}: no .yaml, .yml or .json files in this directory")
            out.extend(found)
        else:
            out.append(path)
    return out


def read_file(path: Path) -> list[Document]:
    """The documents in one file; a one-line `UsageError` if it is unreadable or not YAML/JSON."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text file (expected YAML or JSON)") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    source = str(path)
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return [Document(source, json.loads(text))]
        except ValueError:
            pass  # YAML flow style also starts with { or [: let the YAML parser decide
    try:
        values = [v for v in yaml.safe_load_all(text) if v is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"{path}: {where}not valid YAML/JSON: {problem}") from None
    if len(values) == 1:
        return [Document(source, values[0])]
    return [Document(f"{source} (document {i + 1})", v) for i, v in enumerate(values)]


def read_documents(paths: Sequence[str | Path]) -> list[Document]:
    """Every document of every file (directories expanded), in order."""
    docs: list[Document] = []
    for path in expand(paths):
        docs.extend(read_file(path))
    return docs


def read_backstage(paths: Sequence[str | Path]) -> tuple[list[Document], list[str], int]:
    """Catalog documents, following `Location` entities to the files they name.

    Returns the documents, one line per target that could not be followed, and the number of
    files read.
    """
    notes: list[str] = []
    seen: set[Path] = set()
    docs: list[Document] = []
    queue: list[Path] = expand(paths)
    while queue:
        path = queue.pop(0)
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        for doc in read_file(path):
            docs.append(doc)
            queue.extend(_location_targets(path, doc, notes))
    return docs, notes, len(seen)


def _location_targets(path: Path, doc: Document, notes: list[str]) -> list[Path]:
    data = doc.data
    if not isinstance(data, dict) or data.get("kind") != "Location":
        return []
    spec = data.get("spec")
    if not isinstance(spec, dict):
        return []
    name = (data.get("metadata") or {}).get("name", "?")
    targets = list(spec.get("targets") or [])
    if spec.get("target"):
        targets.insert(0, spec["target"])
    out: list[Path] = []
    for target in targets:
        if not isinstance(target, str) or not target:
            continue
        if "://" in target:
            notes.append(
                f"skipped: Location {name!r} target {target}: only files are followed, "
                "give the file instead"
            )
            continue
        resolved = path.parent / target
        if any(c in target for c in "*?["):
            matches = sorted(p for p in path.parent.glob(target) if p.is_file())
            if not matches:
                notes.append(f"unresolved: Location {name!r} target {target}: matches no file")
            out.extend(matches)
        elif resolved.is_file():
            out.append(resolved)
        else:
            notes.append(f"unresolved: Location {name!r} target {target}: no such file")
    return out
