"""policies/ of a pack: exact texts of the policy set in force, hashes, and versions not included."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from policies import default_policy_dir, load_default_policy_set
from retention.evidence import PolicyTexts, policy_texts
from retention.evidence.policies import write_policies


class TestPolicyTexts:
    def test_texts_are_the_files_byte_for_byte(self) -> None:
        """The texts are the shipped files as written, with the set's content hash."""
        ps = load_default_policy_set()
        texts = policy_texts(ps)
        assert texts.set_hash == ps.content_hash
        on_disk = {
            p.name: p.read_text(encoding="utf-8") for p in default_policy_dir().glob("*.policy")
        }
        assert dict(texts.files) == on_disk


class TestWrite:
    def test_index_lists_files_and_missing_versions(self, tmp_path: Path) -> None:
        """index.json gives each file's SHA-256, the set hash, and referenced hashes without text."""
        texts = PolicyTexts("aa" * 32, (("nl.policy", "policy NL\n"),))
        digests = write_policies(tmp_path, texts, {"aa" * 32, "bb" * 32})
        assert [d.path for d in digests] == ["policies/nl.policy", "policies/index.json"]
        index = json.loads((tmp_path / "policies" / "index.json").read_text())
        assert index["files"] == [
            {"file": "nl.policy", "sha256": hashlib.sha256(b"policy NL\n").hexdigest()}
        ]
        assert index["not_included"] == ["bb" * 32]

    def test_without_policies(self, tmp_path: Path) -> None:
        """Without a policy set the folder still says which hashes the actions named."""
        write_policies(tmp_path, None, {"cc" * 32})
        index = json.loads((tmp_path / "policies" / "index.json").read_text())
        assert index["policy_set_hash"] is None and index["not_included"] == ["cc" * 32]
