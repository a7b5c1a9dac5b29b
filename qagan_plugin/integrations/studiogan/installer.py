"""Install the StudioGAN patch series and our configs into a PyTorch-StudioGAN tree, and take them out again.

``qagan-plugin studiogan check|install|uninstall PATH``:

- **check** says whether PATH is a StudioGAN tree the series fits, which patches are applied
  and which of our configs are installed. A patch is *applied* when it applies in reverse,
  *not applied* when it applies forward; anything else means the tree differs where a patch
  lands, and the message names the patch, the file and the hunk.
- **install** checks first, then applies only the missing patches, in order, and copies the
  configs into ``src/configs/<DATASET>/`` (never over a different file). Every new file
  content is computed in memory before anything is written, so a patch or config that does
  not fit leaves the tree as it was; while writing, every file is replaced atomically
  (temporary file + ``os.replace``, mode kept) and any error rolls every file already
  written back to its original bytes. A second install finds nothing to do and says so.
- **uninstall** restores every byte install changed (from ``.qagan-plugin-backup/``), deletes
  the files it created and the directories it made, then removes the manifest
  (``.qagan-plugin-install.json``: sha256 of each file's original and installed bytes) and the
  backup directory. A file edited after install is not overwritten unless ``--force``.

The patch engine is pure Python (no git or patch binary): it reads the unified diffs of the
series (``git format-patch`` files) and applies each hunk at its line number or, like
``patch``, at the nearest offset where its context matches exactly; there is no fuzz.
New files (``--- /dev/null``) and ``\\ No newline at end of file`` are supported.

Package data. The canonical files live at the repository root, ``patches/studiogan/`` (with
its ``series`` file) and ``configs/studiogan/<DATASET>/*.yaml``. ``setup.py``'s ``build_py``
copies both into the built package as ``qagan_plugin/integrations/studiogan/assets/
{patches,configs}``, so a regular ``pip install .`` (or a wheel) carries them; an editable
install (``pip install -e .``) or a plain checkout has no ``assets/`` and uses the repository
root ones. No symlinks, no second copy in git.
"""
import dataclasses
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

PINNED_COMMIT = "947b35e"
MANIFEST = ".qagan-plugin-install.json"
BACKUP_DIR = ".qagan-plugin-backup"
STUDIOGAN_MARKERS = ("src/main.py", "src/worker.py", "src/config.py", "src/loader.py")


class InstallerError(Exception):
    """A user-facing error (printed as one line by the CLI)."""


class PatchMismatch(InstallerError):
    """A hunk whose lines are not in the file (or a new file that already exists)."""

    def __init__(self, patch: str, path: str, hunk: Optional[int], header: str, reason: str):
        self.patch, self.path, self.hunk, self.header, self.reason = patch, path, hunk, header, reason
        where = f"{path}, hunk #{hunk} ({header})" if hunk is not None else path
        super().__init__(f"{where} of {patch}: {reason}")


# ------------------------------------------------------------------ package data
def asset_dirs() -> Tuple[Path, Path]:
    """``(patches_dir, configs_dir)``: packaged copies if present, else the repository root's."""
    here = Path(__file__).resolve().parent
    packaged = here / "assets"
    if (packaged / "patches" / "series").is_file():
        return packaged / "patches", packaged / "configs"
    root = here.parents[2]
    return root / "patches" / "studiogan", root / "configs" / "studiogan"


# ------------------------------------------------------------------ unified diffs
@dataclasses.dataclass
class Hunk:
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    header: str
    old: List[bytes]        # context + removed lines, with their line endings
    new: List[bytes]        # context + added lines


@dataclasses.dataclass
class FilePatch:
    old_path: Optional[str]  # None: /dev/null (a new file)
    new_path: Optional[str]  # None: /dev/null (a deleted file)
    hunks: List[Hunk]

    @property
    def path(self) -> str:
        return self.new_path or self.old_path


@dataclasses.dataclass
class Patch:
    name: str
    subject: str
    files: List[FilePatch]


_HUNK_RE = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def split_lines(data: bytes) -> List[bytes]:
    """Lines with their ``\\n`` (the last one without if the data does not end with one)."""
    lines = data.split(b"\n")
    out = [line + b"\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def _diff_path(raw: bytes, prefix: str) -> Optional[str]:
    text = raw.decode("utf-8").rstrip("\n").rstrip("\r").split("\t")[0]
    if text == "/dev/null":
        return None
    if text.startswith('"'):
        raise InstallerError(f"quoted path names are not supported: {text}")
    if not text.startswith(prefix):
        raise InstallerError(f"expected a path starting with {prefix!r} (-p1), got {text!r}")
    path = text[len(prefix):]
    if path.startswith("/") or ".." in Path(path).parts:
        raise InstallerError(f"unsafe path in patch: {text!r}")
    return path


def parse_patch(data: bytes, name: str = "<patch>") -> Patch:
    """Parse a ``git format-patch`` (or plain unified diff) file with ``a/``, ``b/`` paths."""
    lines = split_lines(data)
    subject, files, i = "", [], 0
    while i < len(lines):
        line = lines[i]
        if not files and not subject and line.startswith(b"Subject: "):
            raw = line[9:]
            while i + 1 < len(lines) and lines[i + 1][:1] in (b" ", b"\t") and lines[i + 1].strip():
                i += 1
                raw = raw.rstrip(b"\r\n") + b" " + lines[i].strip()
            subject = re.sub(r"^\[PATCH[^\]]*\]\s*", "", raw.decode("utf-8").strip())
        if line.startswith(b"--- ") and i + 1 < len(lines) and lines[i + 1].startswith(b"+++ "):
            fp = FilePatch(_diff_path(line[4:], "a/"), _diff_path(lines[i + 1][4:], "b/"), [])
            if fp.old_path is None and fp.new_path is None:
                raise InstallerError(f"{name}: a file patch from /dev/null to /dev/null")
            files.append(fp)
            i += 2
            while i < len(lines) and lines[i].startswith(b"@@ "):
                hunk, i = _parse_hunk(lines, i, name, fp.path)
                fp.hunks.append(hunk)
            if not fp.hunks:
                raise InstallerError(f"{name}: {fp.path} has no hunks")
            continue
        i += 1
    if not files:
        raise InstallerError(f"{name}: no file changes found (not a unified diff)")
    return Patch(name=name, subject=subject, files=files)


def _parse_hunk(lines: List[bytes], i: int, name: str, path: str) -> Tuple[Hunk, int]:
    m = _HUNK_RE.match(lines[i])
    if not m:
        raise InstallerError(f"{name}: {path}: malformed hunk header {lines[i]!r}")
    old_start, new_start = int(m.group(1)), int(m.group(3))
    old_len = 1 if m.group(2) is None else int(m.group(2))
    new_len = 1 if m.group(4) is None else int(m.group(4))
    header = m.group(0).decode("ascii")
    old, new, last = [], [], None
    i += 1
    while len(old) < old_len or len(new) < new_len or (i < len(lines) and lines[i].startswith(b"\\")):
        if i >= len(lines):
            raise InstallerError(f"{name}: {path}: hunk {header} is truncated")
        line = lines[i]
        tag, body = line[:1], line[1:]
        if line in (b"\n", b"\r\n"):           # an empty context line whose space was stripped
            tag, body = b" ", line
        if tag == b" ":
            old.append(body), new.append(body)
            last = (old, new)
        elif tag == b"-":
            old.append(body)
            last = (old,)
        elif tag == b"+":
            new.append(body)
            last = (new,)
        elif tag == b"\\":                       # "\ No newline at end of file"
            for side in last or ():
                side[-1] = side[-1][:-1] if side[-1].endswith(b"\n") else side[-1]
        else:
            raise InstallerError(f"{name}: {path}: unexpected line in hunk {header}: {line!r}")
        if len(old) > old_len or len(new) > new_len:
            raise InstallerError(f"{name}: {path}: hunk {header} has more lines than its header says")
        i += 1
    return Hunk(old_start, old_len, new_start, new_len, header, old, new), i


# ------------------------------------------------------------------ applying
def _find(lines: List[bytes], needle: List[bytes], expected: int, lo: int) -> int:
    """Index of ``needle`` in ``lines[lo:]`` nearest to ``expected`` (offset search, no fuzz); -1 if absent."""
    n, hi = len(needle), len(lines) - len(needle)
    if hi < lo:
        return -1
    expected = min(max(expected, lo), hi)
    for delta in range(0, max(expected - lo, hi - expected) + 1):
        for pos in ((expected - delta, expected + delta) if delta else (expected,)):
            if lo <= pos <= hi and lines[pos:pos + n] == needle:
                return pos
    return -1


def apply_hunks(content: Optional[bytes], fp: FilePatch, reverse: bool = False,
                patch_name: str = "<patch>") -> Optional[bytes]:
    """The file's new content (None: deleted) or :class:`PatchMismatch` naming the hunk."""
    source, target = (fp.new_path, fp.old_path) if reverse else (fp.old_path, fp.new_path)
    creates, deletes = source is None, target is None   # /dev/null on the side we start from / end at
    if creates:
        if content is not None:
            raise PatchMismatch(patch_name, fp.path, None, "", "the patch creates this file, but it already exists")
        content = b""
    elif content is None:
        raise PatchMismatch(patch_name, fp.path, None, "", "no such file")
    lines, out, pos, offset = split_lines(content), [], 0, 0
    for number, hunk in enumerate(fp.hunks, 1):
        old, new = (hunk.new, hunk.old) if reverse else (hunk.old, hunk.new)
        start, length = (hunk.new_start, hunk.new_len) if reverse else (hunk.old_start, hunk.old_len)
        expected = (start if length == 0 else start - 1) + offset
        found = _find(lines, old, expected, pos)
        if found < 0:
            state = "the patched lines are not there" if reverse else "the lines it changes are not there"
            raise PatchMismatch(patch_name, fp.path, number, hunk.header, state)
        offset = found - (expected - offset)
        out.extend(lines[pos:found])
        out.extend(new)
        pos = found + len(old)
    out.extend(lines[pos:])
    result = b"".join(out)
    if deletes:
        if result:
            raise PatchMismatch(patch_name, fp.path, None, "", "the patch deletes this file, but it has other content")
        return None
    return result


class TreeState:
    """Files of a tree as bytes (None: absent), read lazily; changes stay in memory."""

    def __init__(self, root: Path, changes: Optional[Dict[str, Optional[bytes]]] = None):
        self.root, self.changes = Path(root), dict(changes or {})

    def read(self, rel: str) -> Optional[bytes]:
        if rel in self.changes:
            return self.changes[rel]
        path = self.root / rel
        return path.read_bytes() if path.is_file() else None

    def copy(self) -> "TreeState":
        return TreeState(self.root, self.changes)

    def apply(self, patch: Patch, reverse: bool = False) -> "TreeState":
        """A new state with ``patch`` applied (all files or none), or :class:`PatchMismatch`."""
        new = self.copy()
        for fp in patch.files:
            new.changes[fp.path] = apply_hunks(new.read(fp.path), fp, reverse, patch.name)
        return new

    def hunk_status(self, patch: Patch) -> List[Tuple[FilePatch, int, str]]:
        """For each hunk on its own: "forward", "reverse" or "neither"."""
        result = []
        for fp in patch.files:
            for number, hunk in enumerate(fp.hunks, 1):
                single = FilePatch(fp.old_path, fp.new_path, [hunk])
                status = "neither"
                for name, rev in (("forward", False), ("reverse", True)):
                    try:
                        apply_hunks(self.read(fp.path), single, rev, patch.name)
                        status = name
                        break
                    except PatchMismatch:
                        pass
                result.append((fp, number, status))
        return result


# ------------------------------------------------------------------ the series and configs
def load_series(patches_dir: Path) -> List[Patch]:
    patches_dir = Path(patches_dir)
    series = patches_dir / "series"
    if series.is_file():
        names = [ln.split("#")[0].strip() for ln in series.read_text(encoding="utf-8").splitlines()]
        names = [n for n in names if n]
    else:
        names = sorted(p.name for p in patches_dir.glob("*.patch"))
    if not names:
        raise InstallerError(f"{patches_dir}: no patches found (missing series file?)")
    return [parse_patch((patches_dir / n).read_bytes(), n) for n in names]


def list_configs(configs_dir: Path) -> List[str]:
    """Config files as paths relative to ``src/configs`` (``DATASET/NAME.yaml``)."""
    configs_dir = Path(configs_dir)
    if not configs_dir.is_dir():
        return []
    return sorted(p.relative_to(configs_dir).as_posix() for p in configs_dir.glob("*/*.yaml") if p.is_file())


def _sha(data: Optional[bytes]) -> Optional[str]:
    return None if data is None else hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------ check
@dataclasses.dataclass
class CheckResult:
    root: Path
    patches: List[Patch]
    status: Dict[str, str]             # patch name -> "applied" | "not applied"
    mismatch: Optional[PatchMismatch]  # the tree differs where a patch lands
    configs: Dict[str, str]            # DATASET/NAME.yaml -> "installed" | "missing" | "outdated" | "differs"
    git_head: Optional[str]

    @property
    def missing_patches(self) -> List[Patch]:
        return [p for p in self.patches if self.status[p.name] == "not applied"]


def ensure_studiogan_tree(path) -> Path:
    root = Path(path)
    if not root.exists():
        raise InstallerError(f"{path}: no such directory")
    if not root.is_dir():
        raise InstallerError(f"{path}: not a directory")
    missing = [m for m in STUDIOGAN_MARKERS if not (root / m).is_file()]
    if missing:
        raise InstallerError(f"{path}: not a PyTorch-StudioGAN tree (no {', '.join(missing)})")
    return root


def _git_head(root: Path) -> Optional[str]:
    """The checked-out commit, read from .git without running git (best effort)."""
    git = root / ".git"
    try:
        if git.is_file():                                    # worktree / submodule: "gitdir: ..."
            git = (root / git.read_text().split(":", 1)[1].strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).is_file():
            return (git / ref).read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except (OSError, IndexError):
        pass
    return None


def check(path, patches_dir: Optional[Path] = None, configs_dir: Optional[Path] = None) -> CheckResult:
    root = ensure_studiogan_tree(path)
    default_patches, default_configs = asset_dirs()
    patches = load_series(patches_dir or default_patches)
    configs_dir = Path(configs_dir or default_configs)
    current = TreeState(root)

    # peel applied patches off from the last one; what is left must then apply forward in order
    status, state = {}, current
    for patch in reversed(patches):
        try:
            state = state.apply(patch, reverse=True)
            status[patch.name] = "applied"
        except PatchMismatch:
            status[patch.name] = "not applied"
    mismatch = None
    applied = [status[p.name] == "applied" for p in patches]
    if any(applied[i] and not applied[i - 1] for i in range(1, len(applied))):
        first_gap = applied.index(False)
        mismatch = _diagnose(current, patches[first_gap])
    else:
        state = current
        for patch in patches:
            if status[patch.name] == "not applied":
                try:
                    state = state.apply(patch)
                except PatchMismatch as exc:
                    mismatch = _diagnose(state, patch) or exc
                    break

    configs, owned = {}, (_read_manifest(root) or {"files": {}})["files"]
    for rel in list_configs(configs_dir):
        have = current.read(f"src/configs/{rel}")
        want = (configs_dir / rel).read_bytes()
        entry = owned.get(f"src/configs/{rel}")
        if have is None or have == want:
            configs[rel] = "missing" if have is None else "installed"
        else:       # ours and untouched since: an older version of the config, safe to update
            configs[rel] = "outdated" if entry and entry["installed_sha256"] == _sha(have) else "differs"
    return CheckResult(root, patches, status, mismatch, configs, _git_head(root))


def _diagnose(state: TreeState, patch: Patch) -> PatchMismatch:
    """The first hunk of ``patch`` that applies neither way (or a partly applied patch)."""
    hunks = state.hunk_status(patch)
    for fp, number, status in hunks:
        if status == "neither":
            hunk = fp.hunks[number - 1]
            return PatchMismatch(patch.name, fp.path, number, hunk.header,
                                 "the tree differs there: neither the original nor the patched lines are present")
    fp, number, _ = next((h for h in hunks if h[2] == "forward"), hunks[0])
    return PatchMismatch(patch.name, fp.path, number, fp.hunks[number - 1].header,
                         "the patch is only partly applied (this hunk is missing, others are present)")


def describe(result: CheckResult) -> List[str]:
    head = f", git HEAD {result.git_head[:12]}" if result.git_head else ""
    lines = [f"{result.root}: PyTorch-StudioGAN tree (series for {PINNED_COMMIT}{head})"]
    for p in result.patches:
        lines.append(f"  {result.status[p.name]:<12} {p.name}")
    counts = {s: sum(1 for v in result.configs.values() if v == s)
              for s in ("installed", "missing", "outdated", "differs")}
    lines.append(f"  configs: {counts['installed']} of {len(result.configs)} installed in src/configs/"
                 + (f", {counts['outdated']} outdated" if counts["outdated"] else "")
                 + (f", {counts['differs']} differ (not ours)" if counts["differs"] else ""))
    for rel, s in result.configs.items():
        if s == "differs":
            lines.append(f"    differs: src/configs/{rel}")
    missing = result.missing_patches
    n_cfg = counts["missing"] + counts["outdated"]
    if not missing and not n_cfg:
        lines.append("state: installed (nothing to do)")
    else:
        todo = [f"{len(missing)} patch(es)"] if missing else []
        todo += [f"{n_cfg} config(s)"] if n_cfg else []
        lines.append(f"state: not (fully) installed; `qagan-plugin studiogan install` would add {' and '.join(todo)}")
    return lines


# ------------------------------------------------------------------ writing, with rollback
def _write_atomic(path: Path, data: bytes, mode_from: Optional[Path] = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if mode_from is not None and mode_from.exists():
            shutil.copymode(mode_from, tmp)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class _Transaction:
    """Writes and deletes files under ``root``; ``rollback()`` puts back every byte it touched."""

    def __init__(self, root: Path):
        self.root = root
        self.saved: Dict[str, Tuple[Optional[bytes], Optional[int]]] = {}
        self.made_dirs: List[Path] = []

    def _save(self, rel: str) -> None:
        if rel not in self.saved:
            path = self.root / rel
            self.saved[rel] = (path.read_bytes(), path.stat().st_mode) if path.is_file() else (None, None)

    def _mkdirs(self, directory: Path) -> None:
        missing = []
        while not directory.exists():
            missing.append(directory)
            directory = directory.parent
        for d in reversed(missing):
            d.mkdir()
            self.made_dirs.append(d)

    def write(self, rel: str, data: bytes) -> None:
        self._save(rel)
        path = self.root / rel
        self._mkdirs(path.parent)
        _write_atomic(path, data, mode_from=path)

    def delete(self, rel: str) -> None:
        self._save(rel)
        path = self.root / rel
        if path.is_file():
            path.unlink()

    def rollback(self) -> List[str]:
        """Put every touched file back (best effort, all of them); the paths it could not restore."""
        failed = []
        for rel, (data, mode) in self.saved.items():
            path = self.root / rel
            try:
                if data is None:
                    if path.is_file():
                        path.unlink()
                elif not path.is_file() or path.read_bytes() != data:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    _write_atomic(path, data)
                    os.chmod(path, mode & 0o7777)
                elif path.stat().st_mode != mode:
                    os.chmod(path, mode & 0o7777)
            except OSError:
                failed.append(rel)
        for d in reversed(self.made_dirs):
            try:
                d.rmdir()
            except OSError:
                pass
        return failed

    def abort(self, exc: BaseException) -> None:
        """Roll back, then re-raise ``exc`` (saying which files could not be restored, if any)."""
        failed = self.rollback()
        if failed:
            raise InstallerError(f"{exc}; rolling back failed for {', '.join(failed)} (originals are in "
                                 f"{self.root / BACKUP_DIR}/ if they were saved)") from exc
        raise exc


def _read_manifest(root: Path) -> Optional[dict]:
    path = root / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InstallerError(f"{path}: unreadable install manifest ({exc})") from None
    if manifest.get("format") != 1:
        raise InstallerError(f"{path}: unknown install manifest format {manifest.get('format')!r}")
    return manifest


# ------------------------------------------------------------------ install / uninstall
def install(path, patches_dir: Optional[Path] = None, configs_dir: Optional[Path] = None) -> List[str]:
    """Apply the missing patches and copy the missing configs; all or nothing. Returns report lines."""
    result = check(path, patches_dir, configs_dir)
    root = result.root
    if result.mismatch is not None:
        raise InstallerError(f"refusing to install into {root}: {result.mismatch}; the tree was not changed")
    differing = [rel for rel, s in result.configs.items() if s == "differs"]
    if differing:
        raise InstallerError(f"refusing to install into {root}: src/configs/{differing[0]} exists with different "
                             f"content (will not overwrite it); the tree was not changed")
    missing = result.missing_patches
    new_configs = [rel for rel, s in result.configs.items() if s in ("missing", "outdated")]
    if not missing and not new_configs:
        return [f"{root}: already installed ({len(result.patches)} patches applied, "
                f"{len(result.configs)} configs present); nothing to do"]

    # everything computed in memory first
    state = TreeState(root)
    for patch in missing:
        state = state.apply(patch)
    configs_dir = Path(configs_dir or asset_dirs()[1])
    for rel in new_configs:
        state.changes[f"src/configs/{rel}"] = (configs_dir / rel).read_bytes()

    manifest = _read_manifest(root) or {"format": 1, "studiogan_commit": PINNED_COMMIT, "patches": [],
                                        "configs": [], "files": {}, "created_dirs": []}
    original = TreeState(root)
    txn = _Transaction(root)
    try:
        for rel in sorted(state.changes):
            before, after = original.read(rel), state.changes[rel]
            entry = manifest["files"].get(rel)
            if entry is None:
                entry = manifest["files"][rel] = {"original_sha256": _sha(before),
                                                  "backup": None if before is None else f"{BACKUP_DIR}/{rel}"}
                if before is not None:
                    txn.write(entry["backup"], before)
            entry["installed_sha256"] = _sha(after)
            if after is None:
                txn.delete(rel)
            else:
                txn.write(rel, after)
        manifest["patches"] += [p.name for p in missing]
        manifest["configs"] += [f"src/configs/{rel}" for rel in new_configs
                                if f"src/configs/{rel}" not in manifest["configs"]]
        made = [d.relative_to(root).as_posix() for d in txn.made_dirs
                if not d.relative_to(root).as_posix().startswith(BACKUP_DIR)]
        manifest["created_dirs"] += [d for d in made if d not in manifest["created_dirs"]]
        txn.write(MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    except BaseException as exc:
        txn.abort(exc)
    lines = [f"applied {p.name}" for p in missing]
    if new_configs:
        lines.append(f"copied {len(new_configs)} configs into {root / 'src' / 'configs'}")
    lines.append(f"recorded in {root / MANIFEST} (backups in {root / BACKUP_DIR}/); "
                 f"`qagan-plugin studiogan uninstall {root}` restores the tree")
    return lines


def uninstall(path, force: bool = False) -> List[str]:
    """Restore every file install changed, delete what it created, then the manifest and backups."""
    root = ensure_studiogan_tree(path)
    manifest = _read_manifest(root)
    if manifest is None:
        raise InstallerError(f"{root}: nothing to uninstall (no {MANIFEST}; was it installed with qagan-plugin?)")
    current = TreeState(root)
    plan: Dict[str, Optional[bytes]] = {}
    for rel, entry in sorted(manifest["files"].items()):
        if not force and _sha(current.read(rel)) != entry["installed_sha256"]:
            raise InstallerError(f"refusing to uninstall: {rel} was changed after install (use --force to restore "
                                 f"the original anyway); the tree was not changed")
        if entry["backup"] is None:
            plan[rel] = None
        else:
            data = current.read(entry["backup"])
            if data is None or _sha(data) != entry["original_sha256"]:
                raise InstallerError(f"refusing to uninstall: the backup of {rel} ({entry['backup']}) is missing or "
                                     f"damaged; the tree was not changed")
            plan[rel] = data
    txn = _Transaction(root)
    try:
        for rel, data in plan.items():
            if data is None:
                txn.delete(rel)
            else:
                txn.write(rel, data)
        for rel in list(manifest["files"]):
            if manifest["files"][rel]["backup"]:
                txn.delete(manifest["files"][rel]["backup"])
        txn.delete(MANIFEST)
    except BaseException as exc:
        txn.abort(exc)
    for rel in sorted(manifest["created_dirs"], key=lambda d: -d.count("/")):
        try:
            (root / rel).rmdir()
        except OSError:
            pass
    if (root / BACKUP_DIR).is_dir():
        shutil.rmtree(root / BACKUP_DIR)
    restored = sum(1 for d in plan.values() if d is not None)
    return [f"restored {restored} file(s) and removed {len(plan) - restored} file(s) created by install in {root}",
            f"reverted {', '.join(manifest['patches']) or 'no patches'}; removed {MANIFEST} and {BACKUP_DIR}/"]


def check_lines(path, patches_dir=None, configs_dir=None) -> List[str]:
    result = check(path, patches_dir, configs_dir)
    if result.mismatch is not None:
        raise InstallerError(f"{result.root}: the patch series does not fit this tree: {result.mismatch}")
    return describe(result)
