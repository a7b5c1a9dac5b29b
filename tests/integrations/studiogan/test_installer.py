"""`qagan-plugin studiogan check|install|uninstall`: the pure-Python patch engine and the installer.

Synthetic tests (always run) use small made-up trees and patch series; the tests at the end
run the real series against a copy of ``$STUDIOGAN_ROOT`` (a PyTorch-StudioGAN clone at 947b35e).
"""
import difflib
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from qagan_plugin.cli import main
from qagan_plugin.integrations.studiogan import installer as inst
from qagan_plugin.integrations.studiogan.installer import (InstallerError, PatchMismatch, TreeState, apply_hunks,
                                                           parse_patch)

REPO = Path(__file__).resolve().parents[3]


# ------------------------------------------------------------------ helpers
def snapshot(root: Path):
    """Every file's bytes and every directory under root (the tree's exact state)."""
    files, dirs = {}, set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root).as_posix()
        dirs.add(rel)
        for name in filenames:
            files[f"{rel}/{name}"] = (Path(dirpath) / name).read_bytes()
    return files, dirs


def udiff(path: str, old: str, new: str) -> str:
    """A git-style unified diff (-U3) of one file; old=None creates it."""
    a = [] if old is None else old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    text = "".join(difflib.unified_diff(a, b, "/dev/null" if old is None else f"a/{path}", f"b/{path}", n=3))
    return f"diff --git a/{path} b/{path}\n" + text


def format_patch(subject: str, *diffs: str) -> bytes:
    return (f"From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\nFrom: T <t@example.com>\n"
            f"Subject: [PATCH] {subject}\n\nWhy this change is useful.\n---\n" + "".join(diffs)
            + "-- \n2.39.5\n").encode()


def numbered(n, prefix="line"):
    return "".join(f"{prefix} {i}\n" for i in range(1, n + 1))


MAIN = numbered(20, "main")
WORKER = numbered(40, "worker")
CONFIG = numbered(12, "config")
LOADER = numbered(8, "loader")


def fake_tree(root: Path, **overrides) -> Path:
    files = {"src/main.py": MAIN, "src/worker.py": WORKER, "src/config.py": CONFIG, "src/loader.py": LOADER,
             "src/configs/DS1/existing.yaml": "DATA: {}\n", "README.md": "fake StudioGAN\n"}
    files.update(overrides)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    os.chmod(root / "src/main.py", 0o755)
    return root


def worker_v1(text=WORKER):
    return text.replace("worker 10\n", "worker 10\nplugin hook\n").replace("worker 30\n", "worker thirty\n")


def worker_v2(text=WORKER):
    return worker_v1(text).replace("plugin hook\n", "plugin hook (cpu)\n")


@pytest.fixture
def series(tmp_path):
    """Two dependent patches (the 2nd changes a line the 1st adds), a new file, and two config datasets."""
    pdir, cdir = tmp_path / "patches", tmp_path / "configs"
    pdir.mkdir()
    p1 = format_patch("Add a plugin hook",
                      udiff("src/utils/plugins.py", None, "def names(kind):\n    return []\n"),
                      udiff("src/worker.py", WORKER, worker_v1()),
                      udiff("src/config.py", CONFIG, CONFIG.replace("config 6\n", "config six\n")))
    p2 = format_patch("Run on the CPU",
                      udiff("src/worker.py", worker_v1(), worker_v2()),
                      udiff("src/main.py", MAIN, MAIN.replace("main 3\n", "main three\n")))
    (pdir / "0001-hook.patch").write_bytes(p1)
    (pdir / "0002-cpu.patch").write_bytes(p2)
    (pdir / "series").write_text("0001-hook.patch\n0002-cpu.patch\n")
    for rel, text in {"DS1/a.yaml": "DATA:\n  name: DS1\n", "DS2/b.yaml": "DATA:\n  name: DS2\n"}.items():
        (cdir / rel).parent.mkdir(parents=True, exist_ok=True)
        (cdir / rel).write_text(text)
    return pdir, cdir


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "sg"
    root.mkdir()
    return fake_tree(root)


# ------------------------------------------------------------------ the patch engine
def test_apply_and_reverse_with_offset():
    old = numbered(30)
    new = old.replace("line 12\n", "line twelve\nextra\n").replace("line 25\n", "")
    patch = parse_patch(format_patch("x", udiff("f.py", old, new)))
    (fp,) = patch.files
    assert [h.header for h in fp.hunks] == ["@@ -9,7 +9,8 @@", "@@ -22,7 +23,6 @@"]
    shifted = "header a\nheader b\n" + old                       # the lines moved down by 2: offset search
    out = apply_hunks(shifted.encode(), fp)
    assert out == ("header a\nheader b\n" + new).encode()
    assert apply_hunks(out, fp, reverse=True) == shifted.encode()


def test_no_fuzz_names_file_and_hunk():
    old = numbered(30)
    patch = parse_patch(format_patch("x", udiff("f.py", old, old.replace("line 5\n", "five\n")
                                                 .replace("line 25\n", "twenty-five\n"))))
    changed = old.replace("line 23\n", "line 23 edited\n")      # a context line of hunk 2
    with pytest.raises(PatchMismatch) as err:
        apply_hunks(changed.encode(), patch.files[0], patch_name="0001-x.patch")
    assert (err.value.path, err.value.hunk, err.value.header) == ("f.py", 2, "@@ -22,7 +22,7 @@")
    assert "f.py, hunk #2 (@@ -22,7 +22,7 @@) of 0001-x.patch" in str(err.value)


def test_new_file_and_no_newline_at_end_of_file():
    text = (b"Subject: [PATCH 1/1] t\n\nbody\n---\n"
            b"diff --git a/new.py b/new.py\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n+++ b/new.py\n"
            b"@@ -0,0 +1,2 @@\n+a = 1\n+b = 2\n\\ No newline at end of file\n"
            b"diff --git a/old.py b/old.py\n--- a/old.py\n+++ b/old.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n"
            b"\\ No newline at end of file\n+y = 3\n\\ No newline at end of file\n-- \n2.39.5\n")
    patch = parse_patch(text, "p")
    assert patch.subject == "t"
    new, old = patch.files
    assert new.old_path is None and apply_hunks(None, new) == b"a = 1\nb = 2"
    assert apply_hunks(b"a = 1\nb = 2", new, reverse=True) is None
    with pytest.raises(PatchMismatch, match="already exists"):
        apply_hunks(b"", new)
    assert apply_hunks(b"x = 1\ny = 2", old) == b"x = 1\ny = 3"
    assert apply_hunks(b"x = 1\ny = 3", old, reverse=True) == b"x = 1\ny = 2"
    with pytest.raises(PatchMismatch):
        apply_hunks(b"x = 1\ny = 2\n", old)                       # the newline is part of the match


def test_patch_is_all_or_nothing_when_second_file_fails(tree, series):
    pdir, _ = series
    (p1, _) = inst.load_series(pdir)
    (tree / "src/config.py").write_text(CONFIG.replace("config 7\n", "config 7 (local edit)\n"))
    state = TreeState(tree)
    with pytest.raises(PatchMismatch) as err:
        state.apply(p1)
    assert err.value.path == "src/config.py" and err.value.hunk == 1
    assert state.changes == {}                                   # the failed apply left no partial state


def test_real_series_is_upstream_ready():
    pdir, _ = inst.asset_dirs()
    patches = inst.load_series(pdir)
    assert [p.name[:5] for p in patches] == ["0001-", "0002-", "0003-"]
    for p in patches:
        text = (pdir / p.name).read_text()
        assert p.subject and "qagan" not in text.lower()
        body = text.split("Subject: ", 1)[1].split("\ndiff --git", 1)[0]
        assert len(body.strip().splitlines()) >= 3, f"{p.name}: needs a body paragraph"
        for fp in p.files:
            for h in fp.hunks:        # -U3: at most 3 context lines around the changes
                ctx_before = next(i for i, (a, b) in enumerate(zip(h.old + [None], h.new + [None])) if a != b)
                assert ctx_before <= 3, (p.name, fp.path, h.header)
    assert "src/utils/plugins.py" in [fp.path for fp in patches[0].files if fp.old_path is None]


# ------------------------------------------------------------------ check / install / uninstall (synthetic)
def test_check_install_idempotent_uninstall(tree, series):
    pdir, cdir = series
    before = snapshot(tree)
    result = inst.check(tree, pdir, cdir)
    assert result.mismatch is None
    assert result.status == {"0001-hook.patch": "not applied", "0002-cpu.patch": "not applied"}
    assert result.configs == {"DS1/a.yaml": "missing", "DS2/b.yaml": "missing"}

    lines = inst.install(tree, pdir, cdir)
    assert lines[:2] == ["applied 0001-hook.patch", "applied 0002-cpu.patch"]
    assert (tree / "src/worker.py").read_text() == worker_v2()
    assert (tree / "src/utils/plugins.py").read_text().startswith("def names")
    assert (tree / "src/configs/DS2/b.yaml").read_text() == "DATA:\n  name: DS2\n"
    assert os.stat(tree / "src/main.py").st_mode & 0o777 == 0o755   # mode kept
    assert (tree / inst.MANIFEST).is_file() and (tree / inst.BACKUP_DIR / "src/worker.py").read_text() == WORKER

    installed = snapshot(tree)
    assert "nothing to do" in inst.install(tree, pdir, cdir)[0]
    assert snapshot(tree) == installed
    result = inst.check(tree, pdir, cdir)
    assert set(result.status.values()) == {"applied"} and set(result.configs.values()) == {"installed"}
    assert inst.describe(result)[-1] == "state: installed (nothing to do)"

    inst.uninstall(tree)
    assert snapshot(tree) == before                              # every byte, no leftover dirs or manifest
    assert os.stat(tree / "src/main.py").st_mode & 0o777 == 0o755


def test_partly_patched_tree_gets_the_rest_and_uninstall_returns_to_it(tree, series):
    pdir, cdir = series
    p1, _ = inst.load_series(pdir)
    for rel, data in TreeState(tree).apply(p1).changes.items():   # someone applied 0001 by hand
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(data)
    before = snapshot(tree)
    assert inst.check(tree, pdir, cdir).status == {"0001-hook.patch": "applied", "0002-cpu.patch": "not applied"}
    assert inst.install(tree, pdir, cdir)[0] == "applied 0002-cpu.patch"
    assert (tree / "src/worker.py").read_text() == worker_v2()
    inst.uninstall(tree)
    assert snapshot(tree) == before


def test_tree_that_differs_is_refused_unchanged(tree, series, capsys):
    pdir, cdir = series
    (tree / "src/worker.py").write_text(WORKER.replace("worker 29\n", "worker 29 (local)\n"))  # context of hunk 2
    before = snapshot(tree)
    with pytest.raises(InstallerError) as err:
        inst.install(tree, pdir, cdir)
    msg = str(err.value)
    assert "src/worker.py, hunk #2 (@@ -27,7 +28,7 @@) of 0001-hook.patch" in msg and "not changed" in msg
    assert snapshot(tree) == before
    with pytest.raises(InstallerError, match=r"does not fit this tree: src/worker.py, hunk #2"):
        inst.check_lines(tree, pdir, cdir)


def test_partly_applied_patch_is_reported(tree, series):
    pdir, cdir = series
    (tree / "src/config.py").write_text(CONFIG.replace("config 6\n", "config six\n"))  # one file of 0001 only
    with pytest.raises(InstallerError, match=r"src/utils/plugins.py, hunk #1 \(@@ -0,0 \+1,2 @@\) of 0001-hook.patch: "
                                             r"the patch is only partly applied"):
        inst.check_lines(tree, pdir, cdir)


def test_write_error_rolls_back_every_byte(tree, series, monkeypatch):
    pdir, cdir = series
    before = snapshot(tree)
    real = inst._write_atomic
    written = []

    def flaky(path, data, mode_from=None):
        written.append(Path(path).relative_to(tree).as_posix())
        if Path(path) == tree / "src/worker.py":                   # after main.py, config.py, plugins.py ...
            raise OSError(28, "No space left on device")
        return real(path, data, mode_from)

    monkeypatch.setattr(inst, "_write_atomic", flaky)
    with pytest.raises(OSError):
        inst.install(tree, pdir, cdir)
    assert "src/main.py" in written                              # something was written before the failure
    monkeypatch.setattr(inst, "_write_atomic", real)
    assert snapshot(tree) == before                              # ... and rolled back, incl. backups, new dirs


def test_config_conflict_is_refused_and_outdated_own_config_updated(tree, series):
    pdir, cdir = series
    (tree / "src/configs/DS2").mkdir()
    (tree / "src/configs/DS2/b.yaml").write_text("DATA:\n  name: mine\n")
    before = snapshot(tree)
    with pytest.raises(InstallerError, match=r"src/configs/DS2/b.yaml exists with different content"):
        inst.install(tree, pdir, cdir)
    assert snapshot(tree) == before

    (tree / "src/configs/DS2/b.yaml").unlink()
    (tree / "src/configs/DS2").rmdir()
    original = snapshot(tree)
    inst.install(tree, pdir, cdir)
    (cdir / "DS2/b.yaml").write_text("DATA:\n  name: DS2 v2\n")    # a newer qagan-plugin ships a new version
    assert inst.check(tree, pdir, cdir).configs["DS2/b.yaml"] == "outdated"
    assert inst.install(tree, pdir, cdir)[0].startswith("copied 1 configs")
    assert (tree / "src/configs/DS2/b.yaml").read_text() == "DATA:\n  name: DS2 v2\n"
    inst.uninstall(tree)
    assert snapshot(tree) == original


def test_uninstall_refuses_files_edited_after_install_unless_forced(tree, series):
    pdir, cdir = series
    before = snapshot(tree)
    inst.install(tree, pdir, cdir)
    (tree / "src/config.py").write_text("edited after install\n")
    edited = snapshot(tree)
    with pytest.raises(InstallerError, match=r"src/config.py was changed after install"):
        inst.uninstall(tree)
    assert snapshot(tree) == edited
    inst.uninstall(tree, force=True)
    assert snapshot(tree) == before


# ------------------------------------------------------------------ the command line
def run_cli(capsys, *argv):
    code = main(["studiogan", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("make", ["missing", "plain_dir", "file"])
def test_cli_not_a_studiogan_tree(tmp_path, capsys, make):
    target = tmp_path / "x"
    if make == "plain_dir":
        (target / "src").mkdir(parents=True)
        (target / "src/main.py").write_text("")
    elif make == "file":
        target.write_text("")
    for action in ("check", "install", "uninstall"):
        code, out, err = run_cli(capsys, action, target)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
        assert err.startswith("qagan-plugin studiogan: error: ")
    if make == "plain_dir":
        assert "not a PyTorch-StudioGAN tree (no src/worker.py, src/config.py, src/loader.py)" in err


def test_cli_real_series_refuses_a_tree_that_differs(tree, capsys):
    before = snapshot(tree)
    code, out, err = run_cli(capsys, "install", tree)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "refusing to install" in err and "src/config.py, hunk #1 (@@ " in err and "0001-" in err
    assert snapshot(tree) == before
    code, out, err = run_cli(capsys, "check", tree)
    assert code == 2 and "does not fit this tree" in err


def test_cli_uninstall_without_install(tree, capsys):
    code, _, err = run_cli(capsys, "uninstall", tree)
    assert code == 2 and "nothing to uninstall" in err


# ------------------------------------------------------------------ package data
def test_build_py_ships_patches_and_configs(tmp_path):
    """What `pip install .` puts in the wheel: setup.py's build_py copies the assets into the package."""
    src, build = tmp_path / "src", tmp_path / "build"           # a copy, so that egg_info writes nothing here
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", "tests",
                                                             "benchmarks", "*_out", "out"))
    proc = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(build)], cwd=src,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assets = build / "qagan_plugin/integrations/studiogan/assets"
    names = (REPO / "patches/studiogan/series").read_text().split()
    assert (assets / "patches/series").read_text().split() == names
    assert all((assets / "patches" / n).read_bytes() == (REPO / "patches/studiogan" / n).read_bytes() for n in names)
    repo_configs = inst.list_configs(REPO / "configs/studiogan")
    assert inst.list_configs(assets / "configs") == repo_configs
    code = ("from qagan_plugin.integrations.studiogan import installer as i; p, c = i.asset_dirs(); "
            "print(p); print(len(i.list_configs(c)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(build)},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(assets / "patches"), str(len(repo_configs))]


# ------------------------------------------------------------------ a real StudioGAN tree (gated)
STUDIOGAN_ROOT = os.environ.get("STUDIOGAN_ROOT")
needs_studiogan = pytest.mark.skipif(not STUDIOGAN_ROOT,
                                     reason="set STUDIOGAN_ROOT to a PyTorch-StudioGAN clone at 947b35e")


@pytest.fixture
def studiogan(tmp_path):
    head = inst._git_head(Path(STUDIOGAN_ROOT))
    if head is not None and not head.startswith(inst.PINNED_COMMIT):
        pytest.skip(f"STUDIOGAN_ROOT is at {head[:12]}, the series is for {inst.PINNED_COMMIT}")
    root = tmp_path / "PyTorch-StudioGAN"
    shutil.copytree(STUDIOGAN_ROOT, root, ignore=shutil.ignore_patterns(".git"), symlinks=True)
    return root


@pytest.mark.studiogan
@needs_studiogan
def test_real_tree_install_idempotent_uninstall(studiogan, capsys):
    original = snapshot(studiogan)
    code, out, _ = run_cli(capsys, "check", studiogan)
    assert code == 0 and out.count("not applied") == 3
    result = inst.check(studiogan)
    assert set(result.status.values()) == {"not applied"} and result.mismatch is None

    code, out, _ = run_cli(capsys, "install", studiogan)
    assert code == 0 and out.count("applied 000") == 3
    assert (studiogan / "src/utils/plugins.py").is_file()
    for rel in ("src/utils/plugins.py", "src/config.py", "src/worker.py", "src/loader.py", "src/main.py",
                "src/utils/ckpt.py", "src/models/model.py", "src/evaluate.py"):
        with warnings.catch_warnings():                              # StudioGAN's own "\i" escapes
            warnings.simplefilter("ignore", DeprecationWarning)
            compile((studiogan / rel).read_text(), rel, "exec")      # no syntax errors
    configs = inst.list_configs(inst.asset_dirs()[1])
    assert all((studiogan / "src/configs" / rel).is_file() for rel in configs)

    installed = snapshot(studiogan)
    code, out, _ = run_cli(capsys, "install", studiogan)
    assert code == 0 and "nothing to do" in out
    assert snapshot(studiogan) == installed
    code, out, _ = run_cli(capsys, "check", studiogan)
    assert code == 0 and out.count("  applied ") == 3 and "state: installed (nothing to do)" in out

    code, out, _ = run_cli(capsys, "uninstall", studiogan)
    assert code == 0
    assert snapshot(studiogan) == original


@pytest.mark.studiogan
@needs_studiogan
def test_real_tree_that_differs_is_refused(studiogan, capsys):
    worker = studiogan / "src/worker.py"
    text = worker.read_text()
    assert text.count("        self.logger.info(log_message)\n") == 1    # a line patch 0001 changes
    worker.write_text(text.replace("        self.logger.info(log_message)\n",
                                   "        self.logger.info(log_message)  # local edit\n"))
    before = snapshot(studiogan)
    code, out, err = run_cli(capsys, "install", studiogan)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "src/worker.py, hunk #" in err and "0001-" in err and "not changed" in err
    assert snapshot(studiogan) == before


@pytest.mark.studiogan
@needs_studiogan
def test_real_tree_with_first_patch_applied(studiogan):
    first = inst.load_series(inst.asset_dirs()[0])[0]
    for rel, data in TreeState(studiogan).apply(first).changes.items():
        (studiogan / rel).write_bytes(data)
    before = snapshot(studiogan)
    result = inst.check(studiogan)
    assert [result.status[p.name] for p in result.patches] == ["applied", "not applied", "not applied"]
    assert len([ln for ln in inst.install(studiogan) if ln.startswith("applied")]) == 2
    inst.uninstall(studiogan)
    assert snapshot(studiogan) == before
