"""strongroom's exceptions. Every one carries the stable Alibaba-style ``.code``."""

from __future__ import annotations


class StrongroomError(Exception):
    """Base of every strongroom error. ``code`` is stable; ``message`` is for people."""

    code: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class InvalidParameterError(StrongroomError):
    """A request parameter is missing or malformed (``InvalidParameter.*``)."""


class KeyNotFoundError(StrongroomError):
    """No such key or key version (``Forbidden.KeyNotFound``, ``Forbidden.KeyVersionNotFound``)."""


class KeyStateError(StrongroomError):
    """The key is Disabled, PendingDeletion or PendingImport (``Forbidden.Key*``)."""


class InvalidCiphertextError(StrongroomError):
    """The ciphertext cannot be decrypted: tampered, wrong context, or not ours (``InvalidCiphertext``)."""


class WrongPassphraseError(StrongroomError):
    """The store was sealed with another passphrase (``Forbidden.WrongPassphrase``)."""


class StoreError(StrongroomError):
    """The store is damaged, locked, unreadable or unwritable (``Rejected.Store*``)."""


class BackendError(StrongroomError):
    """The key backend or its transport failed (``Rejected.Backend*``)."""


class RejectedError(StrongroomError):
    """Any other refusal (``Rejected.*``)."""


def _class_for_code(code: str) -> type[StrongroomError]:
    if code.startswith("InvalidParameter"):
        return InvalidParameterError
    if code in ("Forbidden.KeyNotFound", "Forbidden.KeyVersionNotFound"):
        return KeyNotFoundError
    if code == "Forbidden.WrongPassphrase":
        return WrongPassphraseError
    if code.startswith("Forbidden.Key"):
        return KeyStateError
    if code == "InvalidCiphertext":
        return InvalidCiphertextError
    if code.startswith("Rejected.Store"):
        return StoreError
    if code.startswith("Rejected.Backend"):
        return BackendError
    if code.startswith("Rejected"):
        return RejectedError
    return StrongroomError
