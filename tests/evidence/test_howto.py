"""VERIFY.md: its steps, run exactly as printed (openssl, sha256sum, the Python script), hold."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from retention.evidence.pack import PackFile
from tests.evidence_support import flip_byte


class TestInstructions:
    def test_python_script_in_verify_md_checks_the_pack(self, pack: Path, tmp_path: Path) -> None:
        """The Python script printed in VERIFY.md verifies a good pack and rejects an edited one."""
        text = (pack / PackFile.VERIFY).read_text()
        script = re.search(r"```python\n(.*?)```", text, re.S)
        assert script is not None
        path = tmp_path / "check_pack.py"
        path.write_text(script.group(1))
        ok = subprocess.run([sys.executable, str(path), str(pack)], capture_output=True, text=True)
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.startswith("OK: entries")
        flip_byte(pack / PackFile.PROOFS, at=len((pack / PackFile.PROOFS).read_bytes()) - 40)
        bad = subprocess.run([sys.executable, str(path), str(pack)], capture_output=True, text=True)
        assert bad.returncode != 0

    def test_openssl_steps_in_verify_md(self, pack: Path) -> None:
        """The sha256sum and openssl commands of VERIFY.md succeed on a good pack."""
        if shutil.which("openssl") is None:
            pytest.skip("openssl is not installed")
        text = (pack / PackFile.VERIFY).read_text()
        commands = [
            line[4:]
            for line in text.split("## 4.")[0].splitlines()
            if line.startswith("    ") and not line.startswith("     ")
        ]
        commands = [c.replace("python3 ", f"{sys.executable} ") for c in commands]
        out = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", "\n".join(commands)],
            cwd=pack,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stdout.count("Signature Verified Successfully") == 2
        assert ": OK" in out.stdout
