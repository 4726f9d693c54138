"""Encrypt every file of a directory to two recipients, rotate the primary key, and
prove that either key alone opens every file.

    STRONGROOM_PASSPHRASE=… python examples/python/encrypt_dir.py --store vault.db \
        --src ./reports --out ./reports.enc

Two CMKs receive each file: `alias/backup-primary` (day to day) and
`alias/backup-recovery` (kept for disasters). Each file becomes `<name>.srenv`, an
envelope message (docs/FORMAT.md) streamed frame by frame, bound to the file's name by
its EncryptionContext. After encrypting, the primary key is rotated (new files use the
new version; old ones still open), and the script opens every file twice: as usual,
then with the primary key disabled, through the recovery key alone.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
from pathlib import Path

import strongroom
from strongroom import Kms

PRIMARY = "alias/backup-primary"
RECOVERY = "alias/backup-recovery"


def key_for(kms: Kms, alias: str, description: str) -> str:
    """The key behind `alias`, made on first use."""
    try:
        return kms.describe_key(key_id=alias).key_id
    except strongroom.StrongroomError as e:
        if e.code != "Forbidden.AliasNotFound":
            raise
        key_id = kms.create_key(description=description).key_id
        kms.create_alias(alias_name=alias, key_id=key_id)
        return key_id


def encrypt_dir(kms: Kms, src: Path, out: Path) -> dict[str, str]:
    """Encrypts each regular file under `src` into `out`; returns name → SHA-256."""
    out.mkdir(parents=True, exist_ok=True)
    digests: dict[str, str] = {}
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        name = path.relative_to(src).as_posix()
        target = out / (name + ".srenv")
        target.parent.mkdir(parents=True, exist_ok=True)
        with path.open("rb") as f, target.open("wb") as g:
            kms.encrypt_stream(f, g, key_ids=[PRIMARY, RECOVERY], encryption_context={"file": name})
        digests[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def check_dir(kms: Kms, out: Path, digests: dict[str, str]) -> set[str]:
    """Opens every encrypted file (its context must name it); returns the key ids used."""
    used: set[str] = set()
    for name, digest in digests.items():
        with (out / (name + ".srenv")).open("rb") as f:
            plain = io.BytesIO()
            info = kms.decrypt_stream(f, plain, encryption_context={"file": name})
        if hashlib.sha256(plain.getvalue()).hexdigest() != digest:
            raise SystemExit(f"{name}: decrypted bytes differ from the original")
        used.add(info.key_id)
    return used


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True, type=Path)
    ap.add_argument("--src", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args(argv)
    passphrase = os.environ.get("STRONGROOM_PASSPHRASE")
    if not passphrase:
        raise SystemExit("set STRONGROOM_PASSPHRASE")
    with Kms.open(args.store, passphrase=passphrase) as kms:
        primary = key_for(kms, PRIMARY, "encrypts the backups")
        recovery = key_for(kms, RECOVERY, "recovers the backups if the primary key is lost")
        digests = encrypt_dir(kms, args.src, args.out)
        print(f"encrypted {len(digests)} files to {PRIMARY} and {RECOVERY}")

        before = kms.describe_key(key_id=primary).primary_key_version
        kms.create_key_version(key_id=primary)
        after = kms.describe_key(key_id=primary).primary_key_version
        print(f"rotated {PRIMARY}: version {before[:8]}… → {after[:8]}…")

        used = check_dir(kms, args.out, digests)
        assert used == {primary}, used
        print(f"all {len(digests)} files open with {PRIMARY} (its older version)")

        kms.disable_key(key_id=primary)
        try:
            used = check_dir(kms, args.out, digests)
        finally:
            kms.enable_key(key_id=primary)
        assert used == {recovery}, used
        print(f"with {PRIMARY} disabled, all {len(digests)} files open with {RECOVERY}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
