"""No tracked text file keeps a merge's conflict markers (they once slipped into docs/)."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^(<{7}|>{7}) ", re.MULTILINE)


def test_no_conflict_markers_in_tracked_text_files():
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split()
    suffixes = {".py", ".md", ".ipynb", ".toml", ".yml", ".yaml", ".json", ".cfg", ".txt"}
    bad = [
        name
        for name in tracked
        if Path(name).suffix in suffixes
        and (ROOT / name).is_file()
        and MARKER.search((ROOT / name).read_text(encoding="utf-8", errors="replace"))
    ]
    assert not bad, f"merge conflict markers left in: {bad}"
