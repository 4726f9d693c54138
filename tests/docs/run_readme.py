"""Runs every js / python / sh snippet of README.md's "Use it" section and of
docs/ACCESS.md's "Example" section as it stands, each in a fresh empty directory,
against this tree's npm package, Python wheel and CLI.
Usage: python tests/docs/run_readme.py CLI_DIR  (the directory holding `strongroom`)."""

import os
import pathlib
import re
import subprocess
import sys
import tempfile

root = pathlib.Path(__file__).resolve().parents[2]
cli_dir = pathlib.Path(sys.argv[1]).resolve()
blocks = []
for doc, heading, whole in (("README.md", "## Use it", True), ("docs/ACCESS.md", "## Example", False)):
    text = (root / doc).read_text()
    section = text[text.index(heading):]
    if not whole and "\n## " in section[4:]:
        section = section[: section.index("\n## ", 4)]
    found = re.findall(r"```(js|python|sh)\n(.*?)```", section, re.S)
    assert len(found) >= 3, f"found {len(found)} snippets in {doc}"
    blocks += [(doc, lang, code) for lang, code in found]
failed = 0
for n, (doc, lang, code) in enumerate(blocks, 1):
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, STRONGROOM_PASSPHRASE="readme-snippet", PATH=f"{cli_dir}:{os.environ['PATH']}")
        if lang == "js":
            nm = pathlib.Path(d) / "node_modules"
            nm.mkdir()
            (nm / "strongroom").symlink_to(root / "npm")
            (pathlib.Path(d) / "snippet.mjs").write_text(code)
            cmd = ["node", "snippet.mjs"]
        elif lang == "python":
            (pathlib.Path(d) / "snippet.py").write_text(code)
            cmd = [sys.executable, "snippet.py"]
        else:
            (pathlib.Path(d) / "snippet.sh").write_text(code)
            env.pop("STRONGROOM_PASSPHRASE")
            cmd = ["bash", "-euo", "pipefail", "snippet.sh"]
        r = subprocess.run(cmd, cwd=d, env=env, capture_output=True, text=True, timeout=300)
        if r.returncode == 0:
            print(f"ok - {doc} snippet {n} ({lang}) runs as written")
        else:
            failed += 1
            print(f"not ok - {doc} snippet {n} ({lang}) failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
sys.exit(1 if failed else 0)
