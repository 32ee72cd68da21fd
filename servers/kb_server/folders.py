"""What ``switchboard kb upload`` takes from its arguments: named files, and each folder's own files.

A folder upload takes the supported regular files directly inside the folder. It does not recurse:
a document id is a file name (letters, digits, '.', '-', '_': no '/'), so ``sub/faq.md`` and
``faq.md`` would be the same document, and a path flattened into an id (``sub-faq``) could be another
file's id. Nothing is left out silently: every subfolder, file of another type, symbolic link, pipe
or device is reported with its reason, and a folder with nothing to upload is an error (the upload
then writes nothing).

Folder uploads never follow symbolic links (a link to /etc/passwd must not become a KB document). A
file named on the command line may be a link: it is uploaded, and reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import invalid
from servers.kb_server.parsers import SUPPORTED, SUPPORTED_HINT

TAKES = ".md .txt .html .pdf .docx"
_HWP = "Hangul word-processor files cannot be read: in Hangul, save it as PDF or DOCX and upload that"
_HINTS = {
    ".hwp": _HWP,
    ".hwpx": _HWP,
    ".doc": "legacy Word files cannot be read: save it as .docx (or PDF) and upload that",
    ".rtf": "save it as .docx (or PDF) and upload that",
    ".csv": "rows of passages are imported with `switchboard kb import KB FILE.csv`",
    ".jsonl": "rows of passages are imported with `switchboard kb import KB FILE.jsonl`",
    ".parquet": "rows of passages are imported with `switchboard kb import KB FILE.parquet`",
}
SUBFOLDER = (
    "a subfolder: a folder upload takes only the files directly inside it (document ids are file names,"
    " so files of different folders could collide); upload the subfolder on its own"
)
LINK = "folder uploads never follow links; name the file itself to upload it"
HIDDEN = (
    "a hidden entry (its name starts with '.': a copy's metadata such as macOS '._faq.md', an editor's"
    " lock or swap file); name the file itself to upload it"
)


@dataclass(slots=True)
class Skipped:
    """An entry of a folder that is not uploaded, and why."""

    path: str
    reason: str


@dataclass(slots=True)
class Expansion:
    """The files to upload and what was left out or followed on the way."""

    files: list[Path] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    symlinks_skipped: list[str] = field(default_factory=list)
    symlinks_followed: list[str] = field(default_factory=list)


def unsupported_reason(path: Path) -> str | None:
    """Why ``path`` cannot be uploaded by its type, with what to do instead; None when it can."""
    suffix = path.suffix.lower()
    if suffix in SUPPORTED:
        return None
    return f"unsupported file type {suffix or '(no extension)'}; {_HINTS.get(suffix, f'upload {SUPPORTED_HINT}')}"


def link_target(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return "(unreadable)"


def expand(paths: list[Path], warn: Callable[[str], None]) -> Expansion:
    """Files to upload: named files as given, and each folder's supported regular files.

    ``warn`` gets one line per skipped entry and per followed link. A named file of an unsupported
    type, and a folder with nothing to upload, raise INVALID_ARGUMENT (after the warnings).
    """
    out = Expansion()
    for path in paths:
        if path.is_dir():
            before = len(out.skipped)
            if not _folder(path, out, warn):
                raise _nothing_to_upload(path, len(out.skipped) - before)
            continue
        if path.is_symlink():
            out.symlinks_followed.append(str(path))
            warn(f"{path} is a symlink to {link_target(path)}: uploading its target")
        reason = unsupported_reason(path) if path.exists() else None
        if reason:
            raise invalid(f"{path.name}: {reason}")
        out.files.append(path)
    return out


def _folder(folder: Path, out: Expansion, warn: Callable[[str], None]) -> int:
    """Add ``folder``'s own supported files to ``out``, reporting the rest; how many were added."""
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise invalid(f"{folder}: cannot read the folder ({exc.strerror or exc})") from None
    taken = 0
    for entry in entries:
        if entry.is_symlink():
            target = link_target(entry)
            out.symlinks_skipped.append(str(entry))
            out.skipped.append(Skipped(str(entry), f"a symlink to {target}: {LINK}"))
            warn(f"skipped symlink {entry} → {target}: {LINK}")
            continue
        if entry.name.startswith("."):
            reason: str | None = HIDDEN
        elif entry.is_dir():
            reason = SUBFOLDER
        elif not entry.is_file():
            reason = "not a regular file (a pipe, socket or device)"
        else:
            reason = unsupported_reason(entry)
        if reason is None:
            out.files.append(entry)
            taken += 1
        else:
            out.skipped.append(Skipped(str(entry), reason))
            warn(f"skipped {entry}: {reason}")
    return taken


def _nothing_to_upload(folder: Path, left_out: int) -> Exception:
    why = (
        "the folder is empty"
        if not left_out
        else f"{'its one entry was' if left_out == 1 else f'all {left_out} entries were'} skipped (listed above)"
    )
    return invalid(f"{folder}: nothing to upload: {why}; a folder upload takes the {TAKES} files directly inside it")
