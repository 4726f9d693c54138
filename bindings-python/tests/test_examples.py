"""The examples in examples/python, run as a user runs them, against the installed
package."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_encrypt_dir_to_two_recipients_and_rotate(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.bin").write_bytes(os.urandom(300_000))
    (src / "sub" / "b.txt").write_text("quarterly figures\n")
    (src / "empty").write_bytes(b"")
    env = dict(os.environ, STRONGROOM_PASSPHRASE="example pass")
    cmd = [sys.executable, str(ROOT / "examples/python/encrypt_dir.py"), "--store", str(tmp_path / "store"),
           "--src", str(src), "--out", str(tmp_path / "out")]
    for _ in range(2):  # a second run finds its keys by alias and encrypts again
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0] == "encrypted 3 files to alias/backup-primary and alias/backup-recovery"
        assert lines[1].startswith("rotated alias/backup-primary")
        assert lines[-1] == "with alias/backup-primary disabled, all 3 files open with alias/backup-recovery"
    for name in ["a.bin", "sub/b.txt", "empty"]:
        enc = (tmp_path / "out" / (name + ".srenv")).read_bytes()
        assert enc[:4] == b"SREN"
        assert b"quarterly" not in enc
    # Without the passphrase it refuses to run rather than prompt.
    r = subprocess.run(cmd, env={k: v for k, v in env.items() if k != "STRONGROOM_PASSPHRASE"},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "STRONGROOM_PASSPHRASE" in r.stderr
