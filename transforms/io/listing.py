"""List the files of one source: ``{kind, pattern, root, label, order}`` -> file dicts.

A file dict is ``{kind, path, source, size, order, key}`` (``key`` identifies the file's bytes:
the real path of a local file, so the same file reached twice is read once) or, for what is not
read, the same with ``reject: [error_kind, message]``. Local directories are walked here so that
symbolic links are decided, not silently followed or skipped:

* a link to a file or directory outside the source root is not followed (``symlink_outside_root``);
* a broken link is a reject (``broken_symlink``);
* a link to a directory inside the root is not walked: its files are listed where they really are.

Remote sources (``gs://``, ``s3://``...) and globs are listed with Beam's ``FileSystems.match``;
a local glob's matches get the same link checks.
"""
from __future__ import annotations

import os
from typing import Iterator

from apache_beam.io.filesystems import FileSystems


def relative_source(kind: str, path: str, root: str, label: str = "") -> str:
    rel = path
    if root and path.startswith(root):
        rel = path[len(root):].lstrip("/\\") or os.path.basename(path)
    return f"{kind}:{label}/{rel}" if label else f"{kind}:{rel}"


def _inside(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # different drives
        return False


def _file(src: dict, path: str, size: int, key: str, reject: tuple[str, str] | None = None) -> dict:
    f = {"kind": src["kind"], "path": path, "source": relative_source(src["kind"], path, src["root"],
                                                                         src.get("label", "")),
         "size": size, "order": src.get("order", 0), "key": key}
    if reject:
        f["reject"] = list(reject)
    return f


def _local_file(src: dict, path: str, root_real: str) -> dict:
    real = os.path.realpath(path)
    if os.path.islink(path):
        if not os.path.exists(real):
            return _file(src, path, 0, path, ("broken_symlink", "symbolic link to nothing; not followed"))
        if not _inside(real, root_real):
            return _file(src, path, 0, path, ("symlink_outside_root",
                                              "symbolic link to a file outside the source root; not followed"))
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        return _file(src, path, 0, path, ("unreadable_file", f"cannot stat the file ({type(exc).__name__})"))
    return _file(src, path, size, real)


def _walk(src: dict, root: str) -> Iterator[dict]:
    root_real = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            full = os.path.join(dirpath, d)
            if os.path.islink(full) and not _inside(os.path.realpath(full), root_real):
                yield _file(src, full, 0, full, ("symlink_outside_root",
                                                 "symbolic link to a directory outside the source root; not followed"))
        for name in filenames:
            yield _local_file(src, os.path.join(dirpath, name), root_real)


def list_source(src: dict) -> list[dict]:
    """Every file (or reject) of one source, sorted by path."""
    pattern, root = src["pattern"], src["root"]
    local = "://" not in pattern
    if local and pattern == os.path.join(root, "**") and os.path.isdir(root):
        files = list(_walk(src, root))
    else:
        metas = FileSystems.match([pattern])[0].metadata_list
        if local:
            root_real = os.path.realpath(root)
            files = [_local_file(src, m.path, root_real) for m in metas]
        else:
            files = [_file(src, m.path, m.size_in_bytes, m.path) for m in metas]
    return sorted(files, key=lambda f: f["path"])
