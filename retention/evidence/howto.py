"""VERIFY.md of an evidence pack: how to check it without this software.

An auditor should not have to trust the program that made the evidence, so the pack explains how
to check it with standard tools: sha256sum for the files, openssl for the Ed25519 signatures, and
a short Python script (standard library plus `cryptography`) for the hash chain and the RFC 9162
proofs. The script is a constant here so that a test runs it, exactly as printed, against a pack.
"""

from __future__ import annotations

from retention.evidence.pack import RETENTION_ACTIONS, PackPeriod

__all__ = ["CHECK_SCRIPT", "render_instructions"]

CHECK_SCRIPT = r'''import base64, hashlib, json, sys
from pathlib import Path
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

pack = Path(sys.argv[1])
key_line = Path(sys.argv[2] if len(sys.argv) > 2 else pack / "verifier-key.txt").read_text().strip()
name, key_id, key_b64 = key_line.split("+", 2)
raw = base64.b64decode(key_b64)
assert raw[0] == 1 and hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() == key_id
public_key = Ed25519PublicKey.from_public_bytes(raw[1:])


def signed_text(note):
    """The text of a C2SP signed note, after checking its signature by the verifier key."""
    text, _, signatures = note.rpartition("\n\n")
    for line in signatures.splitlines():
        _dash, signer, blob = line.split(" ")
        blob = base64.b64decode(blob)
        if signer == name and blob[:4].hex() == key_id:
            public_key.verify(blob[4:], (text + "\n").encode())  # raises InvalidSignature
            return text + "\n"
    sys.exit("FAIL: not signed by the verifier key")


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_root(index, size, leaf, path):  # RFC 9162 2.1.3.2
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0, "inclusion proof has the wrong length"
    return r


def consistent(size1, size2, path, root1, root2):  # RFC 9162 2.1.4.2
    if size1 == size2:
        return not path and root1 == root2
    if size1 & (size1 - 1) == 0:
        path = [root1, *path]
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == root1 and sr == root2


manifest_bytes = (pack / "manifest.json").read_bytes()
assert signed_text((pack / "manifest.sig").read_text()).encode() == manifest_bytes, "manifest.sig"
manifest = json.loads(manifest_bytes)
for f in manifest["files"]:
    data = (pack / f["path"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["size"], f["path"]

origin, size, root = signed_text((pack / "checkpoint.txt").read_text()).splitlines()[:3]
size, root, b64 = int(size), base64.b64decode(root), base64.b64decode
assert origin == manifest["origin"] and size == manifest["checkpoint_size"], "checkpoint.txt"

period = manifest["period"]
prev = "0" * 64 if period["prior_seq"] is None else None
leaves = {}
with open(pack / "audit-log.jsonl", "rb") as fh:
    for line in fh:
        line = line.rstrip(b"\n")
        entry = json.loads(line)
        if prev is not None:
            assert entry["prev"] == prev, f"audit-log.jsonl: chain broken at entry {entry['seq']}"
        prev = hashlib.sha256(b"\x00" + line).hexdigest()
        if entry["seq"] in (period["first_seq"], period["last_seq"]):
            leaves[entry["seq"]] = bytes.fromhex(prev)
assert entry["seq"] == period["last_seq"] if leaves else True, "audit-log.jsonl ends early"

proofs = json.loads((pack / "proofs.json").read_text())
for which in ("first", "last") if proofs["inclusion"] else ():
    p = proofs["inclusion"][which]
    seq = period[which + "_seq"]
    assert p["leaf_index"] == seq and p["tree_size"] == size and b64(p["leaf_hash"]) == leaves[seq]
    got = inclusion_root(seq, size, leaves[seq], [b64(h) for h in p["hashes"]])
    assert got == root, f"inclusion proof of entry {seq}"
if proofs["consistency"]:
    c = proofs["consistency"]
    _, size1, root1 = signed_text(c["from_checkpoint"]).splitlines()[:3]
    p = c["proof"]
    assert int(size1) == p["size1"] and b64(root1) == b64(p["root1"]) and p["size2"] == size
    assert consistent(p["size1"], size, [b64(h) for h in p["hashes"]], b64(root1), root)
print(f"OK: entries {period['first_seq']}..{period['last_seq']} of {origin} verify")
'''


def render_instructions(*, origin: str, fingerprint: str, period: PackPeriod) -> str:
    """The text of VERIFY.md for a pack of `period`."""
    return f"""# How to verify this evidence pack

This folder is evidence from the audit log `{origin}` for {period.start_date} to
{period.end_date} ({period.timezone}){f", country {period.country}" if period.country else ""}.
Everything in it is signed with one Ed25519 key; you can check it without the software that made it
and without its database. Work in a copy of the folder; the commands write a few scratch files
(`*.der`, `*.pem`, `*.bin`, `*.body`).

## 1. Check the key

`verifier-key.txt` holds the verifier key in C2SP note format (`name+keyid+base64(0x01 || key)`).
Compare its fingerprint with the one the DPO gave you on another channel (mail, phone, letter):

    sha256sum verifier-key.txt

The fingerprint when this pack was made: `{fingerprint}`.
If they differ, stop: the pack may have been re-signed by someone else.

## 2. Check the manifest's signature and every file's hash

`manifest.json` lists every other file with its SHA-256 and size; `manifest.sig` is a C2SP signed
note whose text is exactly `manifest.json`. Turn the key into PEM, cut the signature out of the
note (the last 64 bytes of the base64 blob after the signer's name) and let openssl check it:

    printf '\\060\\052\\060\\005\\006\\003\\053\\145\\160\\003\\041\\000' > verifier.der
    cut -d+ -f3- verifier-key.txt | base64 -d | tail -c 32 >> verifier.der
    openssl pkey -pubin -inform DER -in verifier.der -out verifier.pem
    tail -n 1 manifest.sig | cut -d' ' -f3 | base64 -d | tail -c 64 > manifest.sig.bin
    openssl pkeyutl -verify -pubin -inkey verifier.pem -rawin -in manifest.json -sigfile manifest.sig.bin

Then check every file against the manifest:

    python3 -c 'import json; [print(f["sha256"] + "  " + f["path"]) for f in json.load(open("manifest.json"))["files"]]' | sha256sum -c

## 3. Check the checkpoint's signature

`checkpoint.txt` is a signed C2SP checkpoint: origin, tree size and Merkle root of the whole log
when the pack was made. The signed text is everything before the blank line:

    sed '/^$/,$d' checkpoint.txt > checkpoint.body
    tail -n 1 checkpoint.txt | cut -d' ' -f3 | base64 -d | tail -c 64 > checkpoint.sig.bin
    openssl pkeyutl -verify -pubin -inkey verifier.pem -rawin -in checkpoint.body -sigfile checkpoint.sig.bin

## 4. Check the entries, the chain and the proofs

Each line of `audit-log.jsonl` is one audit entry exactly as stored (RFC 8785 canonical JSON); its
hash is SHA-256(0x00 || line), the RFC 9162 leaf hash, and the next entry's `prev` field holds it.
The first line is the entry just before the period, so the period's first link can be checked.
`proofs.json` holds RFC 9162 inclusion proofs of the period's first and last entries in the tree
of `checkpoint.txt`, and a consistency proof from the checkpoint signed before the period began
(its signed note is in `proofs.json` too): together they show the period was not rewritten since.
Save this script as `check_pack.py` and run `python3 check_pack.py . [KEYFILE]` (it needs the
`cryptography` package; give KEYFILE to use the key you obtained yourself):

```python
{CHECK_SCRIPT}```

`retention-actions.csv` has one line per retention action entry of the period
(`{", ".join(RETENTION_ACTIONS)}`) in log order, with the entry's seq as first column: each line
can be compared with the entry of that seq in `audit-log.jsonl`.

## 5. With the engine

    gdpr evidence verify <this folder or its .zip> --key <the verifier key you obtained>

checks all of the above, and that `retention-actions.csv` matches the audit entries line by line,
offline, and names the file and line or entry that fails (exit code 1), or prints a summary (0).

## What is not provable from the log

`holds.csv`, `reviews.csv`, `access.csv`, `consents.csv`, `consent-renewals.csv`, `requests.csv`,
`propagation.csv` and `report.html` are drawn from the database when the pack was made; the signed
manifest proves they were not changed since, not that the database told the truth. The audit
entries they summarize are in `audit-log.jsonl`.
"""
