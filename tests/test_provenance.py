"""What a result records about where it came from: the commit, clean or dirty."""

from __future__ import annotations

import subprocess

from bnn_models.provenance import git_commit


def test_a_checkout_is_dirty_when_code_changed_not_when_results_were_rewritten(tmp_path):
    """A regeneration rewrites committed results folder by folder: the runs after the
    first must still record the clean commit; a changed source file must not."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    for path in ("bnn_models/x.py", "results/rupture/report.md", "studies/s/results/r.md"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("one\n")
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    sha = git_commit(tmp_path)
    assert sha is not None and len(sha) == 40
    (tmp_path / "results/rupture/report.md").write_text("two\n")
    (tmp_path / "studies/s/results/r.md").write_text("two\n")
    assert git_commit(tmp_path / "bnn_models") == sha
    (tmp_path / "bnn_models/x.py").write_text("two\n")
    assert git_commit(tmp_path / "bnn_models") == sha + "-dirty"
