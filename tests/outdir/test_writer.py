"""The write layer: what it replaces, what it leaves, what readers and rival writers see."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from lib.errors import SynthError
from lib.outdir import (
    OutputTarget,
    link_into,
    prepare_output,
    refuse_overlapping_cli_outdir,
    write_output,
)
from lib.outdir.stamp import IGNORE_NAME, IGNORE_TEXT, STAMP_NAME, stamp_text
from lib.output import RenderedFile
from tests.helpers import PROJECT_ROOT, AgeKey, clean_env, run_cli, tree_bytes
from tests.outdir.scenario import assert_refused, previous_output, tree

NAMES = ("00-namespace.k8s.yaml", "10-secrets.k8s.yaml", "20-gateway.k8s.yaml")


def version(number: int) -> list[RenderedFile]:
    """A complete output whose files are large enough that a partial one is easy to see."""
    return [
        RenderedFile(name, f"# version {number} of {name}\n" + f"k{number}: v\n" * 20_000, i == 1)
        for i, name in enumerate(NAMES)
    ]


def target(outdir: Path, tmp_path: Path) -> OutputTarget:
    return prepare_output(outdir, secrets_file=tmp_path / "secrets.yaml", plaintext=False)


def test_writer_replaces_its_own_output_with_exactly_the_new_files(tmp_path: Path) -> None:
    outdir = tmp_path / "dist"
    write_output(target(outdir, tmp_path), version(1))
    first = os.stat(outdir).st_ino
    write_output(target(outdir, tmp_path), version(2)[::2])
    assert sorted(p.name for p in outdir.iterdir()) == [IGNORE_NAME, STAMP_NAME, NAMES[0], NAMES[2]]
    assert (outdir / NAMES[0]).read_text().startswith("# version 2")
    assert os.stat(outdir).st_ino != first  # a new directory swapped in, not edited in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]  # nothing beside it


def test_writer_modes_are_exact_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o077)
    try:
        write_output(target(tmp_path / "dist", tmp_path), version(1))
    finally:
        os.umask(previous)
    modes = {name: mode for name, (_, mode) in tree_bytes(tmp_path / "dist").items()}
    assert modes == {
        IGNORE_NAME: 0o644,
        STAMP_NAME: 0o644,
        NAMES[0]: 0o644,
        NAMES[1]: 0o600,
        NAMES[2]: 0o644,
    }
    assert (tmp_path / "dist").stat().st_mode & 0o777 == 0o755


def test_writer_an_empty_directory_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "dist").mkdir()
    write_output(target(tmp_path / "dist", tmp_path), version(1))
    written = sorted(p.name for p in (tmp_path / "dist").iterdir())
    assert written == [IGNORE_NAME, STAMP_NAME, *NAMES]


@pytest.mark.parametrize(
    "spoil",
    [
        lambda d: (d / "notes.txt").write_text("mine\n"),
        lambda d: ((d / NAMES[0]).unlink(), (d / NAMES[0]).mkdir()),  # a listed name, now a dir
        lambda d: (d / STAMP_NAME).write_text(stamp_text(NAMES).replace("seance", "other")),
        lambda d: (d / STAMP_NAME).write_text('{"files": ["../../etc/passwd"]}'),
    ],
    ids=["foreign file", "listed name is a directory", "stamp of another tool", "forged stamp"],
)
def test_writer_refuses_what_it_did_not_write(
    spoil: Callable[[Path], object], tmp_path: Path
) -> None:
    outdir = tmp_path / "dist"
    write_output(target(outdir, tmp_path), version(1))
    spoil(outdir)
    before = tree(tmp_path)
    with pytest.raises(SynthError, match=f"refusing to replace {outdir}: it holds "):
        write_output(target(outdir, tmp_path), version(2))
    assert tree(tmp_path) == before


def test_writer_failure_while_staging_leaves_previous_output(tmp_path: Path) -> None:
    outdir = tmp_path / "dist"
    write_output(target(outdir, tmp_path), version(1))
    before = tree(tmp_path)
    with pytest.raises(ValueError, match="not a manifest file name"):
        write_output(target(outdir, tmp_path), [*version(2), RenderedFile("../x.yaml", "")])
    assert tree(tmp_path) == before


def test_writer_removes_only_the_stale_staging_it_owns(tmp_path: Path) -> None:
    outdir = previous_output(tmp_path / "dist", tmp_path / "secrets.yaml")
    ours = tmp_path / ".dist.staging-abcd1234"  # a killed synth's: stamp and listed files
    ours.mkdir()
    (ours / STAMP_NAME).write_text(stamp_text(["10-secrets.k8s.yaml"]))
    (ours / "10-secrets.k8s.yaml").write_text("plaintext\n")
    (tmp_path / ".dist.staging-empty123").mkdir()  # killed before its stamp
    keep = {
        ".dist.staging-notes123": "notes.txt",  # someone's files under our name pattern
        ".dist.staging-x": "x.k8s.yaml",  # not mkdtemp's pattern
        ".other.staging-abcd1234": STAMP_NAME,  # another output directory's
    }
    for name, content in keep.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / content).write_text(stamp_text([]) if content == STAMP_NAME else "x")
    foreign_owner = tmp_path / ".dist.staging-uid12345"
    foreign_owner.mkdir()
    os.chown(foreign_owner, 12345, 12345)
    (tmp_path / ".dist.staging-link1234").symlink_to(outdir)
    prepare_output(outdir, secrets_file=tmp_path / "secrets.yaml", plaintext=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*keep, "dist", foreign_owner.name, ".dist.staging-link1234"]
    )
    assert sorted(p.name for p in outdir.iterdir()) == [IGNORE_NAME, STAMP_NAME, *NAMES[1:]]


def poll(
    outdir: Path, complete: dict[str, set[bytes]], stop: threading.Event
) -> tuple[list[str], int]:
    """Read ``outdir`` as Tilt or ``kubectl apply -f`` would, until ``stop``: what went wrong,
    and how many complete reads there were."""
    problems: list[str] = []
    reads = 0
    while not stop.is_set() or reads == 0:
        try:
            names = sorted(os.listdir(outdir))
        except FileNotFoundError:
            problems.append("the output directory was missing")
            continue
        if names != sorted(complete):
            problems.append(f"saw {names}")
            continue
        for name in names:
            try:
                content = (outdir / name).read_bytes()
            except FileNotFoundError:
                problems.append(f"{name} was missing")
                continue
            if content not in complete[name]:
                problems.append(f"{name} was partial ({len(content)} bytes)")
        reads += 1
    return problems, reads


def test_writer_readers_never_see_a_missing_directory_or_a_partial_file(tmp_path: Path) -> None:
    outdir = tmp_path / "dist"
    versions = [version(number) for number in range(21)]
    complete: dict[str, set[bytes]] = {
        IGNORE_NAME: {IGNORE_TEXT.encode()},
        STAMP_NAME: {stamp_text(NAMES).encode()},
    }
    for files in versions:
        for rendered in files:
            complete.setdefault(rendered.name, set()).add(rendered.text.encode())
    write_output(target(outdir, tmp_path), versions[0])
    stop = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        reader = pool.submit(poll, outdir, complete, stop)
        for files in versions[1:]:
            write_output(target(outdir, tmp_path), files)
        stop.set()
        problems, reads = reader.result()
    assert problems == []
    assert reads >= 5  # the reader really ran beside the writes


def test_writer_concurrent_cli_synths_end_with_one_complete_output(
    fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    """Real synths: three at once into one directory, with a reader beside them."""
    outdir = tmp_path / "out" / "dist"
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file), HOME=str(tmp_path))
    args = ("--secrets", str(fixture_secrets), "--outdir", str(outdir))
    first = run_cli(*args, env=env)
    assert first.returncode == 0, first.stderr
    expected = tree_bytes(outdir)
    stop = threading.Event()
    with ThreadPoolExecutor(4) as pool:
        complete = {name: {content} for name, (content, _) in expected.items()}
        reader = pool.submit(poll, outdir, complete, stop)
        synths = [pool.submit(run_cli, *args, env=env) for _ in range(3)]
        results: list[subprocess.CompletedProcess[str]] = [synth.result() for synth in synths]
        stop.set()
        assert reader.result()[0] == []
    for result in results:
        # Serialized by the lock, so every one succeeds (a loser would print one line).
        assert result.returncode == 0, result.stderr
        assert result.stdout == first.stdout
    assert tree_bytes(outdir) == expected
    assert sorted(p.name for p in outdir.parent.iterdir()) == ["dist"]


def test_writer_cdk8s_cli_directory_may_not_overlap_the_output(tmp_path: Path) -> None:
    outdir = tmp_path / "dist"
    for cli_outdir in (outdir, outdir / "cli", tmp_path):
        with pytest.raises(SynthError, match=r"\(CDK8S_OUTDIR\) and --outdir .* overlap"):
            refuse_overlapping_cli_outdir(cli_outdir, outdir)
    refuse_overlapping_cli_outdir(tmp_path / ".cdk8s-cli-out", outdir)  # apart: fine


def test_writer_links_for_the_cdk8s_cli_fail_as_one_sentence(tmp_path: Path) -> None:
    outdir = tmp_path / "dist"
    files = version(1)
    write_output(target(outdir, tmp_path), files)
    (tmp_path / "cli-out").write_text("a file where the CLI's directory should be\n")
    with pytest.raises(SynthError, match=r"wrote .*dist, but cannot link its files into the cdk8s"):
        link_into(tmp_path / "cli-out", outdir, files)
    link_into(tmp_path / "links", outdir, files)
    assert (tmp_path / "links" / NAMES[1]).resolve() == outdir / NAMES[1]


def test_writer_cdk8s_links_never_replace_a_users_file(
    fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    """A stray CDK8S_OUTDIR naming a directory of the user's: their file stays a file."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "20-gateway.k8s.yaml").write_text("mine\n")
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file), CDK8S_OUTDIR=str(notes))
    args = ("--secrets", str(fixture_secrets), "--outdir", str(tmp_path / "out"))
    result = run_cli(*args, env=env)
    assert_refused(
        result, f"{notes / '20-gateway.k8s.yaml'} is already there and is not a link into"
    )
    assert (notes / "20-gateway.k8s.yaml").read_text() == "mine\n"
    assert not (notes / "20-gateway.k8s.yaml").is_symlink()

    links = tmp_path / "links"
    for _ in range(2):  # its own links are replaced, run after run
        result = run_cli(*args, env={**env, "CDK8S_OUTDIR": str(links)})
        assert result.returncode == 0, result.stderr
    assert (links / "20-gateway.k8s.yaml").resolve() == tmp_path / "out" / "20-gateway.k8s.yaml"


def run_after_swap(
    change: Callable[[Path], None], outdir: Path, secrets: Path, key: AgeKey, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """The real CLI, paused just after the swap; ``change`` is applied to the staging path
    (the previous output now), then the synth goes on to remove it."""
    ready = tmp_path / "ready"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.outdir.paused_entry",
            str(ready),
            "after-swap",
            "--secrets",
            str(secrets),
            "--outdir",
            str(outdir),
        ],
        cwd=PROJECT_ROOT,
        env=clean_env(SOPS_AGE_KEY_FILE=str(key.key_file), HOME=str(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    change(outdir.parent / ready.read_text())
    Path(f"{ready}.go").touch()
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_writer_a_file_added_during_the_synth_is_told_not_lost(
    fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    outdir = previous_output(tmp_path / "area" / "dist", fixture_secrets)
    staging: list[Path] = []

    def add_notes(previous: Path) -> None:
        staging.append(previous)
        (previous / "notes.txt").write_text("mine\n")

    result = run_after_swap(add_notes, outdir, fixture_secrets, age_key, tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"wrote {outdir}/" in result.stdout
    (line,) = result.stderr.splitlines()
    assert line == (
        f"warning: wrote {outdir}, but notes.txt, added to it during the synth, is now in the "
        f"previous output directory {staging[0]}, which stays because this tool deletes only "
        "what it wrote: move what you need out of it, then delete it"
    )
    assert sorted(p.name for p in staging[0].iterdir()) == ["notes.txt"]  # no secrets left


def test_writer_never_deletes_through_a_link_swapped_in_during_the_synth(
    fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    """The previous output's path is replaced by a link to a directory of the user's, stamped
    and named like an output: what it points to must not be touched."""
    outdir = previous_output(tmp_path / "area" / "dist", fixture_secrets)
    victim = previous_output(tmp_path / "victim", fixture_secrets)
    before = tree(victim)

    def swap_for_a_link(previous: Path) -> None:
        previous.rename(tmp_path / "moved-away")
        previous.symlink_to(victim)

    result = run_after_swap(swap_for_a_link, outdir, fixture_secrets, age_key, tmp_path)
    assert result.returncode == 0, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"warning: wrote {outdir}, but ")
    assert "was replaced by something else during the synth, so nothing was removed" in line
    assert tree(victim) == before


def test_writer_an_existing_output_directory_keeps_its_owner_group_and_mode(
    fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    """As root (the test runner): `mkdir out; chown nobody:nogroup out; chmod 2770 out`."""
    assert os.geteuid() == 0, "this test runs as root, like `make test` here"
    outdir = tmp_path / "out"
    outdir.mkdir()
    os.chown(outdir, 65534, 65534)
    outdir.chmod(0o2770)
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file))
    for _ in range(2):  # empty, then holding our stamp
        result = run_cli("--secrets", str(fixture_secrets), "--outdir", str(outdir), env=env)
        assert result.returncode == 0, result.stderr
        info = os.stat(outdir)
        assert (info.st_uid, info.st_gid, oct(stat.S_IMODE(info.st_mode))) == (
            65534,
            65534,
            "0o2770",
        )
        assert (outdir / ".seance-synth").exists()


def test_writer_staging_ignores_itself_from_its_first_entry(tmp_path: Path) -> None:
    """In a repository that ignores only the output directory, a staging directory a kill left
    behind at any step (empty, with its ignore file, with its stamp, with a file) is invisible
    to `git status`, and the next synth removes it."""
    from lib.outdir.writer import _write_file, _write_ignore_file

    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text("/dist/\n")
    outdir = target(repo / "dist", repo)

    def listed() -> str:
        return subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all", "--", ".dist.*"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    staging = Path(tempfile.mkdtemp(prefix=outdir.staging_prefix, dir=repo))
    assert listed() == ""
    _write_ignore_file(staging, replace(outdir, staging_needs_own_ignore=True))
    assert listed() == ""
    _write_file(staging / STAMP_NAME, stamp_text([NAMES[0]]), private=False)
    _write_file(staging / NAMES[0], "kind: Secret\n", private=True)
    assert listed() == ""
    write_output(outdir, version(1))
    assert not staging.exists()
    assert listed() == ""
    assert sorted(p.name for p in (repo / "dist").iterdir()) == [IGNORE_NAME, STAMP_NAME, *NAMES]
