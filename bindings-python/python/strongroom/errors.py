"""strongroom's exceptions. Every one carries the stable Alibaba-style ``.code``.

The native module raises ``<kind>Error`` for the core's ``Error::kind()``."""

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


class AccessDeniedError(StrongroomError):
    """The caller may not perform this action on this resource (``Forbidden.NoPermission``)."""


class ResourceNotFoundError(StrongroomError):
    """No such secret, secret version or stage (``Forbidden.ResourceNotFound``)."""


class ResourceStateError(StrongroomError):
    """The secret is scheduled for deletion (``Rejected.ResourceInDeleteWindow``)."""


class StoreError(StrongroomError):
    """The store is damaged, locked, unreadable or unwritable (``Rejected.Store*``)."""


class BackendError(StrongroomError):
    """The key backend or its transport failed (``Rejected.Backend*``)."""


class RejectedError(StrongroomError):
    """Any other refusal (``Rejected.*``)."""
