"""strongroom — an embeddable key management service (Alibaba Cloud KMS vocabulary).

    import strongroom
    kms = strongroom.Kms.open("./.strongroom/store", passphrase="...")
    key = kms.create_key(description="orders")
    blob = kms.encrypt(key_id=key.key_id, plaintext=b"hi", encryption_context={"app": "orders"})
    kms.decrypt(ciphertext_blob=blob.ciphertext_blob, encryption_context={"app": "orders"}).plaintext

Every action runs in the Rust core with the GIL released. Errors derive from
:class:`StrongroomError` and carry ``.code``.
"""

from __future__ import annotations

import base64
import collections.abc
import dataclasses
import json
import os
import re
import typing
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union

from . import _native

try:
    from importlib.metadata import PackageNotFoundError as _NotFound, version as _version

    __version__: str = _version("strongroom")
except _NotFound:  # imported from a source tree, not installed
    __version__ = "0+unknown"
from .errors import (
    BackendError,
    InvalidCiphertextError,
    InvalidParameterError,
    KeyNotFoundError,
    KeyStateError,
    RejectedError,
    StoreError,
    StrongroomError,
    WrongPassphraseError,
    AccessDeniedError,
    ResourceNotFoundError,
    ResourceStateError,
)
from . import secrets as _secrets
from .secrets import (
    DeleteSecretResult,
    ListSecretsResult,
    ListSecretVersionIdsResult,
    PutSecretValueResult,
    RotationStep,
    SecretCache,
    SecretCacheEvent,
    SecretCreated,
    SecretListEntry,
    SecretMetadata,
    SecretValue,
    SecretVersion,
)

__all__ = [
    "verify_audit",
    "Kms",
    "CallRecord",
    "verify_signature",
    "BackendServer",
    "KeyMetadata",
    "ImportParameters",
    "KeyListEntry",
    "KeyVersion",
    "AliasEntry",
    "ListAliasesResult",
    "Tag",
    "ListKeyVersionsResult",
    "ReEncryptResult",
    "ListKeysResult",
    "EncryptResult",
    "DecryptResult",
    "DataKeyResult",
    "DataKeyWithoutPlaintextResult",
    "DataKeyPairResult",
    "ReEncryptEnvelopeResult",
    "StoreProblem",
    "KeyProblem",
    "VerifyStoreResult",
    "DataKeyPairWithoutPlaintextResult",
    "PublicKeyResult",
    "SignResult",
    "VerifyResult",
    "EnvelopeInfo",
    "DecryptEnvelopeResult",
    "EnvelopeSigner",
    "StoreInfo",
    "ExportDataKeyResult",
    "GenerateAndExportDataKeyResult",
    "SecretCreated",
    "SecretValue",
    "SecretVersion",
    "ListSecretVersionIdsResult",
    "SecretMetadata",
    "SecretListEntry",
    "ListSecretsResult",
    "PutSecretValueResult",
    "DeleteSecretResult",
    "RotationStep",
    "SecretCache",
    "SecretCacheEvent",
    "ResourceNotFoundError",
    "ResourceStateError",
    "StrongroomError",
    "InvalidParameterError",
    "KeyNotFoundError",
    "KeyStateError",
    "InvalidCiphertextError",
    "WrongPassphraseError",
    "AccessDeniedError",
    "StoreError",
    "BackendError",
    "RejectedError",
]

Transport = Callable[[bytes], bytes]


def _wire(transport: Optional[Transport], client_key: Optional[Mapping[str, Any]]) -> Any:
    """The native transport argument: the callable (wire version 1), or with a client
    key ``(callable, id, secret)`` (version 2, every request authenticated)."""
    if client_key is None:
        return transport
    if transport is None:
        raise InvalidParameterError("InvalidParameter.ClientKey", "a client_key goes with a transport")
    return (transport, str(client_key["id"]), _bytes("ClientKey", client_key["secret"]))
Context = Optional[Mapping[str, str]]


_T = TypeVar("_T")
_CAPS = re.compile(r"(?<!^)(?=[A-Z])")
# Per result class: wire name -> (field, converter or None), and the fields without a
# default (absent from the wire -> None). Built once per class from its type hints.
_PLANS: Dict[type, Tuple[Dict[str, Tuple[str, Optional[Callable[[Any], Any]]]], List[str]]] = {}


def _snake(name: str) -> str:
    """Alibaba's PascalCase wire name as this face spells it: ``KeyVersionId`` → ``key_version_id``."""
    return _CAPS.sub("_", name).lower()


def _pascal(field: str) -> str:
    """The wire name of a snake_case field: ``key_version_id`` → ``KeyVersionId``."""
    return "".join(p[:1].upper() + p[1:] for p in field.split("_"))


def _unwrap(v: Any) -> Any:
    """Alibaba's list wrappers (``{"Keys": {"Key": [...]}}``) → the list."""
    if isinstance(v, dict) and len(v) == 1:
        (inner,) = v.values()
        if isinstance(inner, list):
            return inner
    return v


def _b64(v: Any) -> Any:
    return base64.b64decode(v) if isinstance(v, str) else v


def _converter(hint: Any) -> Optional[Callable[[Any], Any]]:
    """How a wire value becomes a field of type ``hint`` (None: as it is)."""
    if typing.get_origin(hint) is Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if hint is bytes:
        return _b64
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        cls = hint
        return lambda v: _from_wire(cls, v)
    if typing.get_origin(hint) in (list, collections.abc.Sequence):
        (item,) = typing.get_args(hint)
        each = _converter(item)
        if each is None:
            return lambda v: list(_unwrap(v))
        return lambda v: [each(x) for x in _unwrap(v)]
    return None


def _from_wire(cls: Type[_T], obj: Mapping[str, Any]) -> _T:
    """One of this module's result dataclasses from an action's answer in Alibaba's
    JSON (what ``Kms.call`` returns): each field is its wire name in snake_case,
    ``bytes`` fields come from base64, list wrappers are unwrapped, absent optional
    fields are None. The names are derived, never mapped by hand: the tests check that
    every wire field of every action lands in a field."""
    plan = _PLANS.get(cls)
    if plan is None:
        hints = typing.get_type_hints(cls)
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        plan = _PLANS[cls] = (
            {_pascal(f.name): (f.name, _converter(hints[f.name])) for f in fields},
            [f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING],
        )
    names, required = plan
    args: Dict[str, Any] = {}
    for k, v in obj.items():
        c = names.get(k)
        if c is not None:
            args[c[0]] = v if v is None or c[1] is None else c[1](v)
    for name in required:
        if name not in args:
            args[name] = None
    return cls(**args)


def _pair_params(key_id: str, key_pair_spec: str, key_format: Optional[str], encryption_context: "Context") -> Dict[str, Any]:
    """GenerateDataKeyPair(WithoutPlaintext)'s wire parameters."""
    return {"KeyId": key_id, "KeyPairSpec": key_pair_spec, "KeyFormat": key_format,
            "EncryptionContext": _ctx(encryption_context)}


def _pem_der(pem: str) -> bytes:
    """The DER inside a PEM block."""
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    return base64.b64decode(body)


def _key_or_secret(key_id: Optional[str]) -> str:
    """The KeyId of a tag call that names no secret (one of the two is required)."""
    if key_id is None:
        raise InvalidParameterError("InvalidParameter.KeyId", "key_id or secret_name is required")
    return key_id


@dataclass(frozen=True)
class KeyMetadata:
    key_id: str
    arn: str
    creation_date: str
    creator: str
    description: str
    key_usage: str
    key_state: str
    key_spec: str
    origin: str
    protection_level: str
    primary_key_version: str
    delete_date: Optional[str]
    automatic_rotation: str
    rotation_interval: Optional[str]
    last_rotation_date: Optional[str]
    next_rotation_date: Optional[str]
    deletion_protection: str
    deletion_protection_description: Optional[str]
    material_expire_time: Optional[str] = None


@dataclass(frozen=True)
class ImportParameters:
    key_id: str
    import_token: str
    public_key: bytes
    token_expire_time: str


@dataclass(frozen=True)
class AliasEntry:
    alias_name: str
    alias_arn: str
    key_id: str


@dataclass(frozen=True)
class ListAliasesResult:
    aliases: Sequence[AliasEntry]
    total_count: int
    page_number: int
    page_size: int


@dataclass(frozen=True)
class Tag:
    tag_key: str
    tag_value: str


@dataclass(frozen=True)
class KeyVersion:
    key_id: str
    key_version_id: str
    creation_date: str


@dataclass(frozen=True)
class ListKeyVersionsResult:
    key_versions: Sequence[KeyVersion]
    total_count: int
    page_number: int
    page_size: int


@dataclass(frozen=True)
class ReEncryptResult:
    key_id: str
    key_version_id: str
    source_key_id: str
    source_key_version_id: str
    ciphertext_blob: bytes


@dataclass(frozen=True)
class KeyListEntry:
    key_id: str
    key_arn: str


@dataclass(frozen=True)
class ListKeysResult:
    keys: Sequence[KeyListEntry]
    total_count: int
    page_number: int
    page_size: int


@dataclass(frozen=True)
class EncryptResult:
    key_id: str
    key_version_id: str
    ciphertext_blob: bytes


@dataclass(frozen=True)
class DecryptResult:
    key_id: str
    key_version_id: str
    plaintext: bytes

    def __repr__(self) -> str:  # never print the plaintext
        return f"DecryptResult(key_id={self.key_id!r}, key_version_id={self.key_version_id!r}, plaintext=<{len(self.plaintext)} bytes>)"


@dataclass(frozen=True)
class PublicKeyResult:
    key_id: str
    key_version_id: str
    public_key: str  # SubjectPublicKeyInfo, PEM
    public_key_der: bytes = b""  # the same SubjectPublicKeyInfo, DER


@dataclass(frozen=True)
class SignResult:
    key_id: str
    key_version_id: str
    value: bytes  # the signature (DER for ECDSA)


@dataclass(frozen=True)
class VerifyResult:
    key_id: str
    key_version_id: str
    value: bool


@dataclass(frozen=True)
class DataKeyResult:
    key_id: str
    key_version_id: str
    plaintext: bytes
    ciphertext_blob: bytes

    def __repr__(self) -> str:  # never print the data key
        return f"DataKeyResult(key_id={self.key_id!r}, key_version_id={self.key_version_id!r}, plaintext=<redacted>, ciphertext_blob=<{len(self.ciphertext_blob)} bytes>)"


@dataclass(frozen=True)
class DataKeyWithoutPlaintextResult:
    key_id: str
    key_version_id: str
    ciphertext_blob: bytes


@dataclass(frozen=True)
class DataKeyPairWithoutPlaintextResult:
    """GenerateDataKeyPairWithoutPlaintext's answer: the private key (PKCS#8) as a
    ciphertext blob under the CMK, and the public key (SubjectPublicKeyInfo), as PEM
    text bytes or DER."""

    key_id: str
    key_version_id: str
    key_pair_spec: str
    private_key_ciphertext_blob: bytes
    public_key: bytes


@dataclass(frozen=True)
class DataKeyPairResult:
    """GenerateDataKeyPair's answer: as :class:`DataKeyPairWithoutPlaintextResult`, with
    the private key itself (never shown by ``repr``)."""

    key_id: str
    key_version_id: str
    key_pair_spec: str
    private_key_plaintext: bytes
    private_key_ciphertext_blob: bytes
    public_key: bytes

    def __repr__(self) -> str:  # never print the private key
        return (
            f"DataKeyPairResult(key_id={self.key_id!r}, key_version_id={self.key_version_id!r}, "
            f"key_pair_spec={self.key_pair_spec!r}, private_key_plaintext=<redacted>, "
            f"private_key_ciphertext_blob=<{len(self.private_key_ciphertext_blob)} bytes>, "
            f"public_key=<{len(self.public_key)} bytes>)"
        )


@dataclass(frozen=True)
class StoreProblem:
    """A secret version whose value did not open (VerifyStore)."""

    secret_name: str
    version_id: str
    code: str
    message: str


@dataclass(frozen=True)
class KeyProblem:
    """A key version whose material did not answer VerifyStore's probe (an object a
    PKCS#11 token no longer holds: ``Forbidden.KeyNotFound``; a backend that cannot be
    reached: ``Rejected.BackendUnavailable``; an answer that does not round-trip:
    ``Rejected.BackendProtocol``)."""

    key_id: str
    key_version_id: str
    code: str
    message: str


@dataclass(frozen=True)
class VerifyStoreResult:
    """VerifyStore's answer: secret values opened, key versions probed in their
    backend."""

    keys: int
    secret_versions: int
    values_opened: int
    problems: List[StoreProblem]
    key_versions: int
    key_versions_verified: int
    key_problems: List[KeyProblem]


@dataclass(frozen=True)
class ReEncryptEnvelopeResult:
    """ReEncryptEnvelope's answer: the new header, which replaces the first
    ``replaced_length`` bytes of the message, and the whole new message
    (``ciphertext``)."""

    header: bytes
    replaced_length: int
    source_key_id: str
    source_key_version_id: str
    key_ids: List[str]
    ciphertext: bytes = b""


@dataclass(frozen=True)
class EnvelopeSigner:
    """Who signed an envelope message (suite 0x0002, docs/FORMAT.md). The signature
    verified with ``public_key``; ``known`` says this store holds that key version
    with that public key (else only "whoever holds this public key" signed)."""

    key_id: str
    key_version_id: str
    public_key: bytes
    known: bool


@dataclass(frozen=True)
class EnvelopeInfo:
    """Which recipient opened an envelope message, what it was bound to, and who
    signed it (``signer``: ``None`` for an unsigned message)."""

    key_id: str
    key_version_id: str
    encryption_context: Mapping[str, str]
    message_id: bytes
    signer: Optional[EnvelopeSigner]


@dataclass(frozen=True)
class DecryptEnvelopeResult(EnvelopeInfo):
    plaintext: bytes

    def __repr__(self) -> str:  # never print the plaintext
        return f"DecryptEnvelopeResult(key_id={self.key_id!r}, key_version_id={self.key_version_id!r}, encryption_context={dict(self.encryption_context)!r}, signer={self.signer!r}, plaintext=<{len(self.plaintext)} bytes>)"


def _envelope_info(d: Dict[str, Any]) -> Dict[str, Any]:
    s = d.get("signer")
    return {**d, "signer": EnvelopeSigner(**s) if s is not None else None}


def _key_ids(v: object) -> List[str]:
    if isinstance(v, str) or not isinstance(v, Sequence):
        raise InvalidParameterError("InvalidParameter.KeyIds", "key_ids must be a list of KeyIds or aliases")
    return [str(k) for k in v]


def _ctx(c: Context) -> Optional[Dict[str, str]]:
    if c is None:
        return None
    if not isinstance(c, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in c.items()):
        raise InvalidParameterError(
            "InvalidParameter.EncryptionContext", "invalid EncryptionContext: must be a mapping of str to str"
        )
    return dict(c)


def _opt_bytes(name: str, v: object) -> Optional[bytes]:
    return None if v is None else _bytes(name, v)


def _bytes(name: str, v: object) -> bytes:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    raise InvalidParameterError(f"InvalidParameter.{name}", f"{name} must be bytes, not {type(v).__name__}")


class BackendServer:
    """The serving end of the remote-backend wire protocol over an in-process software
    backend. ``Kms.memory(transport=server.handle)`` sends every master-key operation
    through it as bytes.

    The handles it gives out are sealed by a key kept in the server's own store (the
    ``Kms`` passed to :meth:`software`, under ``alias/strongroom/backend-server-handles``),
    so a server restarted on the same store still serves every key it ever made; each
    handle works only for its key's spec and usage."""

    def __init__(self, native: "_native.BackendServer") -> None:
        self._native = native

    @classmethod
    def software(cls, kms: "Kms") -> "BackendServer":
        """A server whose handle key lives in ``kms``'s store (opened with ``Kms.open``
        for a server that must survive restarts).

        Example: ``server = BackendServer.software(kms)``
        """
        if not isinstance(kms, Kms):
            raise InvalidParameterError("InvalidParameter.Kms", "BackendServer.software needs the Kms whose store keeps its handle key")
        return cls(_native.BackendServer.software(kms._native))

    def handle(self, request: bytes) -> bytes:
        """Answers one wire-protocol request (what a transport's POST body carries): ``resp = server.handle(body)``."""
        return self._native.handle(request)

    def create_client(self) -> Dict[str, Any]:
        """Makes a fresh client key and admits it: ``{"id": …, "secret": 32 bytes}``, for
        ``Kms.open(…, transport=…, client_key=…)``. Keys live in this server object: add
        them again (:meth:`add_client`) after a restart."""
        id_, secret = self._native.create_client()
        return {"id": id_, "secret": secret}

    def add_client(self, id: str, secret: bytes) -> None:
        """Admits a client key (replacing one with the same id).

        Example: ``server.add_client(key["id"], key["secret"])``
        """
        self._native.add_client(id, _bytes("ClientKey", secret))

    def remove_client(self, id: str) -> bool:
        """Withdraws a client key; whether it was admitted.

        Example: ``server.remove_client(key["id"])``
        """
        return self._native.remove_client(id)

    def accept_v1(self, accept: bool) -> None:
        """Serves unauthenticated wire-protocol version-1 requests too (off by
        default: only over a channel that authenticates both ends).

        Example: ``server.accept_v1(False)``
        """
        self._native.set_accept_v1(bool(accept))


@dataclass(frozen=True)
class ExportDataKeyResult:
    """ExportDataKey's answer: the data key wrapped under the caller's public key."""

    key_id: str
    key_version_id: str
    exported_data_key: bytes


@dataclass(frozen=True)
class GenerateAndExportDataKeyResult:
    """GenerateAndExportDataKey's answer."""

    key_id: str
    key_version_id: str
    ciphertext_blob: bytes
    exported_data_key: bytes


@dataclass(frozen=True)
class StoreInfo:
    """What the store holds on disk (``Kms.store_info``)."""

    format_version: int
    generation: int
    snapshot_bytes: int
    journal_records: int
    journal_bytes: int
    torn_bytes: int


def verify_signature(
    *,
    public_key: Union[bytes, str],
    key_spec: str,
    algorithm: str,
    signature: bytes,
    digest: Optional[bytes] = None,
    message: Optional[bytes] = None,
) -> bool:
    """Verifies a signature with a public key from anywhere (SubjectPublicKeyInfo, PEM or
    DER) — e.g. one exported with ``Kms.get_public_key`` — without a KMS key: give the
    SHA-256 ``digest`` or the ``message``. ``public_key`` may be ``bytes`` or the ``str``
    PEM that ``get_public_key`` returns. A wrong signature is ``False``; malformed
    input raises (``InvalidParameter.*``).

    Example: ``ok = verify_signature(public_key=pem, key_spec="EC_P256", algorithm="ECDSA_SHA_256", signature=sig, message=b"doc")``
    """
    if isinstance(public_key, str):
        public_key = public_key.encode("ascii", "replace")
    return _native.verify_signature(
        _bytes("PublicKey", public_key), key_spec, algorithm, _bytes("Signature", signature),
        _opt_bytes("Digest", digest), _opt_bytes("Message", message))


@dataclass(frozen=True)
class CallRecord:
    """What a ``Kms.set_call_hook`` hook receives after every action."""

    principal: str
    request_id: str
    action: str  # Alibaba's action name ("Encrypt", "DecryptEnvelope", ...)
    resources: List[str]  # the ARNs of the keys and aliases the call resolved, in order
    code: Optional[str]  # None on success, else the error's stable code


def _page(name: str, v: Optional[int]) -> Optional[int]:
    """A PageNumber / PageSize as the core takes it; anything else is
    ``InvalidParameter.Limit`` (as in every runtime), never an OverflowError."""
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 0xFFFFFFFF:
        raise InvalidParameterError(
            "InvalidParameter.Limit", f"invalid {name}: PageNumber starts at 1; PageSize is 1-100"
        )
    return v


def _secret_tags(tags: Optional[Mapping[str, str]]) -> List[Dict[str, str]]:
    if not isinstance(tags, Mapping):
        raise InvalidParameterError("InvalidParameter.Tags", "invalid Tags: must be a mapping of str to str")
    return [{"TagKey": k, "TagValue": v} for k, v in tags.items()]


def _bool(name: str, v: object) -> bool:
    if not isinstance(v, bool):
        raise InvalidParameterError(f"InvalidParameter.{name}", f"invalid {name}: must be True or False")
    return v


def _str_list(name: str, v: object) -> List[str]:
    if isinstance(v, (str, bytes)) or not isinstance(v, Sequence) or not all(isinstance(x, str) for x in v):
        raise InvalidParameterError(f"InvalidParameter.{name}", f"invalid {name}: must be a list of str")
    return list(v)


def _wire_value(v: object) -> object:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(v)).decode("ascii")
    return v


def verify_audit(text: str, public_key: Union[str, bytes], *, after: Optional[str] = None) -> Dict[str, Any]:
    """Checks an audit trail's text with the audit key's public key (PEM): ``{"intact",
    "events", "digests", "closed", "unsigned_tail", "last_hash", "problems"}``.
    ``intact`` is False when a record was edited, removed, reordered or inserted;
    ``closed`` is False when the trail does not end with a final digest (its writer is
    running, crashed, or its tail was cut off).

    Example: ``report = verify_audit(text, kms.audit_public_key())``
    """
    pk = public_key.encode() if isinstance(public_key, str) else public_key
    return _native.verify_audit(text, pk, after)


def _transit(t: Optional[Mapping[str, Any]]) -> Optional[Tuple[str, str, str, str, Optional[str]]]:
    if t is None:
        return None
    ca = t.get("ca_file")
    return (
        str(t["address"]),
        str(t["token"]),
        str(t.get("mount", "transit")),
        str(t.get("key_prefix", "strongroom-")),
        os.fspath(ca) if ca is not None else None,
    )


_KmipArgs = Tuple[str, str, str, str, Optional[str], Optional[float], Optional[str]]


def _kmip(k: Optional[Mapping[str, Any]]) -> Optional[_KmipArgs]:
    if k is None:
        return None
    timeout = k.get("timeout")
    return (
        str(k["address"]),
        os.fspath(k["ca_file"]),
        os.fspath(k["cert_file"]),
        os.fspath(k["key_file"]),
        k.get("server_name"),
        float(timeout) if timeout is not None else None,
        k.get("protection_level"),
    )


class Kms:
    """A key management service over one sealed store."""

    def __init__(self, native: "_native.Kms") -> None:
        self._native = native

    @classmethod
    def open(
        cls,
        path: Union[str, "os.PathLike[str]"],
        *,
        passphrase: str,
        transport: Optional[Transport] = None,
        client_key: Optional[Mapping[str, Any]] = None,
        credentials: Optional[Mapping[str, str]] = None,
        audit: str = "management",
        audit_strict: bool = False,
        pkcs11: Optional[Mapping[str, Any]] = None,
        transit: Optional[Mapping[str, Any]] = None,
        kmip: Optional[Mapping[str, Any]] = None,
    ) -> "Kms":
        """Opens (or creates) the single-file store at ``path``, sealed under ``passphrase``.

        Its audit trail is ``<path>.audit`` (docs/AUDIT.md): ``audit`` is the level
        (``"off"``, ``"management"``, ``"all"``) unless the store set its own with
        SetAuditLevel; ``audit_strict`` makes every event durable before its call
        returns. With ``credentials`` (``{"AccessKeyId", "AccessKeySecret"[,
        "SecurityToken"]}``) every call acts as the principal they name, allowed only
        what its policies allow; the store's owner otherwise.

        With ``pkcs11`` (``{"module": "/usr/lib/softhsm/libsofthsm2.so", "token":
        label, "pin": pin[, "sessions": 4]}``) the store's master keys are generated and
        used inside that PKCS#11 token (ProtectionLevel ``HSM``); such a store needs the
        token every time it is opened. A wrong PIN, token or module raises
        ``BackendError`` (``Rejected.BackendUnavailable``) here.

        With ``transit`` (``{"address": "https://bao:8200", "token": token[, "mount":
        "transit", "key_prefix": "strongroom-", "ca_file": path]}``) the master keys are
        OpenBao / Vault transit keys, generated and used in the engine; such a store
        needs the engine every time. A refused token or an unreachable engine raises
        ``BackendError`` when a key is used.

        With ``kmip`` (``{"address": "kmip.example:5696", "ca_file": path, "cert_file":
        path, "key_file": path[, "server_name": name, "timeout": 10.0,
        "protection_level": "SOFTWARE" | "HSM"]}``) the master keys are AES key objects
        created and used on a KMIP 1.4 server over mutual TLS. The connection is
        checked here: an unreachable server or a refused certificate raises
        ``BackendError``; a missing file ``InvalidParameterError``.

        Example: ``kms = Kms.open("./store", passphrase=os.environ["STRONGROOM_PASSPHRASE"])``
        """
        p11 = None
        if pkcs11 is not None:
            p11 = (
                os.fspath(pkcs11["module"]),
                str(pkcs11["token"]),
                str(pkcs11["pin"]),
                int(pkcs11.get("sessions", 4)),
            )
        kms = cls(
            _native.Kms.open(
                os.fspath(path),
                passphrase,
                _wire(transport, client_key),
                audit,
                audit_strict,
                p11,
                _transit(transit),
                _kmip(kmip),
            )
        )
        if credentials is not None:
            try:
                kms.authenticate(
                    credentials["AccessKeyId"],
                    credentials["AccessKeySecret"],
                    credentials.get("SecurityToken"),
                )
            except BaseException:
                kms.close()
                raise
        return kms

    def authenticate(self, access_key_id: str, access_key_secret: str, security_token: Optional[str] = None) -> str:
        """Acts, from now on, as the principal this AccessKey pair (and, for AssumeRole's
        credentials, SecurityToken) names; returns its ARN. A wrong secret raises
        ``AccessDeniedError``; expired credentials ``InvalidSecurityToken.Expired``.

        Example: ``principal = kms.authenticate(access_key_id=akid, access_key_secret=secret)``
        """
        return self._native.authenticate(access_key_id, access_key_secret, security_token)

    def act_as(self, principal: str) -> None:
        """Acts as ``principal`` (an ARN such as ``acs:ram::<account>:user/<name>``, or
        ``"owner"``) without credentials. In-process this is least privilege against
        bugs, not a boundary: whoever holds the passphrase may act as anyone.

        Example: ``kms.act_as(principal)``
        """
        self._native.act_as(principal)

    def attach_audit(
        self,
        callback: Callable[[str], object],
        *,
        level: str = "all",
        strict: bool = False,
        last_line: Optional[str] = None,
    ) -> None:
        """Sends the audit trail to ``callback`` (whole JSON lines, as ``str``) instead of
        a file; ``last_line`` (the last line it received before) continues that chain.

        Example: ``kms.attach_audit(lambda lines: sink.write(lines), level="all")``
        """
        self._native.attach_audit(callback, level, strict, last_line)

    def flush_audit(self) -> None:
        """Writes every waiting audit event and makes the trail durable.

        Example: ``kms.flush_audit()``
        """
        self._native.flush_audit()

    def audit_public_key(self) -> str:
        """The audit key's public key (PEM): what ``verify_audit`` and
        ``strongroom audit verify --public-key`` check digests with.

        Example: ``pem = kms.audit_public_key()``
        """
        return self._native.audit_public_key()

    @classmethod
    def connect(
        cls,
        endpoint: str,
        *,
        access_key_id: str,
        access_key_secret: str,
        security_token: Optional[str] = None,
        ca_file: Optional[Union[str, "os.PathLike[str]"]] = None,
        timeout: Optional[float] = None,
        max_attempts: Optional[int] = None,
        base_delay_ms: Optional[int] = None,
        max_delay_ms: Optional[int] = None,
    ) -> "Kms":
        """A Kms whose actions run in the strongroom gateway (``strongroom serve``) at
        ``endpoint`` (``https://host:port``), with exactly this class's API: moving from
        embedded to served is this one line. Requests are signed with the AccessKey
        pair (and, for AssumeRole's temporary credentials, ``security_token``); the
        gateway authorises and audits each. ``ca_file`` is a PEM CA to trust (the one
        ``strongroom serve --dev-tls`` prints) instead of the Mozilla roots; ``timeout``
        bounds each request (seconds, default 30).

        A request the gateway refuses for load (``Throttling.*``, ``ServiceUnavailable``:
        answered before the action ran) is resent, mutations too: after the wait the
        gateway asks for, else ``base_delay_ms`` (default 100) doubled per attempt up to
        ``max_delay_ms`` (default 5,000), each up to half again at random, for
        ``max_attempts`` attempts in all (default 4; 1 never resends; at most 10).

        Envelope messages are framed here: each recipient's data key is wrapped by the
        gateway's Encrypt and unwrapped by its Decrypt, so neither the message nor a
        CMK crosses the network. Store operations (backups, passphrases, audit sinks,
        ``authenticate``) belong to the gateway's store and raise ``RejectedError``
        (``Rejected.Unsupported``); an unreachable gateway raises ``BackendError``
        (``Rejected.BackendUnavailable``).

        Example: ``kms = Kms.connect("https://kms.example:8443", access_key_id=akid, access_key_secret=secret)``
        """
        return cls(
            _native.Kms.connect(
                endpoint,
                access_key_id,
                access_key_secret,
                security_token,
                os.fspath(ca_file) if ca_file is not None else None,
                timeout,
                max_attempts,
                base_delay_ms,
                max_delay_ms,
            )
        )

    @classmethod
    def memory(
        cls,
        *,
        transport: Optional[Transport] = None,
        client_key: Optional[Mapping[str, Any]] = None,
        transit: Optional[Mapping[str, Any]] = None,
        kmip: Optional[Mapping[str, Any]] = None,
    ) -> "Kms":
        """A throwaway in-memory instance (its master keys in a transit engine with
        ``transit``, on a KMIP server with ``kmip``, as for ``Kms.open``).

        Example: ``kms = Kms.memory()``
        """
        return cls(_native.Kms.memory(_wire(transport, client_key), _transit(transit), _kmip(kmip)))

    @classmethod
    def open_image(
        cls,
        data: bytes,
        *,
        passphrase: str,
        transport: Optional[Transport] = None,
        client_key: Optional[Mapping[str, Any]] = None,
    ) -> "Kms":
        """Opens a sealed store image held as bytes (changes stay in memory).

        Example: ``kms = Kms.open_image(image, passphrase="pw")``
        """
        return cls(_native.Kms.open_image(_bytes("Image", data), passphrase, _wire(transport, client_key)))

    def close(self) -> None:
        """Closes the instance and releases the store's writer lock now, so another
        process (or ``Kms.open`` here) may open it; later calls raise ``StoreError``
        (``Rejected.StoreClosed``). Closing twice is harmless. ``with Kms.open(...) as
        kms:`` closes at the end of the block."""
        self._native.close()

    def __enter__(self) -> "Kms":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, action: str, **params: object) -> Dict[str, Any]:
        """Any action by Alibaba's name with Alibaba's parameters, answering Alibaba's
        response JSON as a dict (PascalCase, ``KeyMetadata`` / ``Keys.Key`` wrappers,
        ``RequestId``), as the KMS OpenAPI and ``strongroom kms ACTION`` do:
        ``kms.call("ListKeys", PageSize=50)``. Binary parameters are base64 strings or
        ``bytes`` (sent as base64); binary answers are base64 strings. Goes through the
        same dispatch as every method."""
        if not isinstance(action, str):
            raise InvalidParameterError("InvalidParameter.Action", "invalid Action: must be a string")
        wire = {k: _wire_value(v) for k, v in params.items() if v is not None}
        try:
            text = json.dumps(wire)
        except (TypeError, ValueError) as e:
            raise InvalidParameterError("InvalidParameter.Request", f"invalid Request: {e}") from None
        answer: Dict[str, Any] = json.loads(self._native.call_wire(action, text))
        return answer

    def describe_service(self) -> Dict[str, Any]:
        """DescribeService: the protection levels, key specs, usages and actions this
        instance offers (Alibaba's JSON).

        Example: ``levels = kms.describe_service()["ProtectionLevels"]``
        """
        return self.call("DescribeService")

    def set_call_hook(self, hook: Optional[Callable[[CallRecord], None]]) -> None:
        """Tells ``hook`` of every action after it ran — allowed or refused, succeeded or
        failed — as a :class:`CallRecord`; ``None`` removes it. An exception in the hook
        does not change the call's outcome (it goes to ``sys.unraisablehook``). Audit and
        policy build on this seam.

        Example: ``kms.set_call_hook(lambda r: print(r.action, r.resource, r.outcome))``
        """
        if hook is None:
            self._native.set_call_hook(None)
            return
        if not callable(hook):
            raise InvalidParameterError("InvalidParameter.Hook", "invalid Hook: must be callable or None")
        self._native.set_call_hook(lambda d: hook(CallRecord(**d)))

    @property
    def connected(self) -> bool:
        """Whether this instance runs its actions in a gateway (``Kms.connect``).

        Example: ``assert Kms.connect(endpoint, access_key_id=akid, access_key_secret=secret).connected``
        """
        return self._native.is_connected()

    def export_image(self, *, passphrase: Optional[str] = None) -> bytes:
        """The sealed store image; with ``passphrase``, resealed under it.

        Example: ``image = kms.export_image(passphrase="pw")``
        """
        return self._native.export_image(passphrase)

    @classmethod
    def restore_backup(
        cls,
        path: Union[str, "os.PathLike[str]"],
        backup: bytes,
        *,
        passphrase: str,
        backup_passphrase: str,
        transport: Optional[Transport] = None,
        client_key: Optional[Mapping[str, Any]] = None,
    ) -> "Kms":
        """RestoreBackup: ``backup`` becomes a new store at ``path`` (which must not hold
        one: ``Rejected.StoreExists``), sealed under ``passphrase``.

        Example: ``kms = Kms.restore_backup("./restored", backup, passphrase="pw", backup_passphrase="backup-pw")``
        """
        return cls(
            _native.Kms.restore_backup(
                os.fspath(path), passphrase, _bytes("Backup", backup), backup_passphrase, _wire(transport, client_key)
            )
        )

    def create_backup(self, *, backup_passphrase: str) -> bytes:
        """CreateBackup: the whole store as bytes sealed under ``backup_passphrase``.

        Example: ``backup = kms.create_backup(backup_passphrase="backup-pw")``
        """
        return self._native.create_backup(backup_passphrase)

    def generate_random(self, *, length: int) -> bytes:
        """GenerateRandom: 1–1024 random bytes from the CSPRNG (the instance API's
        GenerateRandom), through the dispatch like every action (authorised, audited).

        Example: ``key = kms.generate_random(length=32)``
        """
        return base64.b64decode(self.call("GenerateRandom", Length=length)["Random"])

    def hash(self, *, message: bytes, algorithm: Optional[str] = None) -> Tuple[str, bytes]:
        """Hash: ``(algorithm, digest)`` of a message of at most 4 MiB, SHA-256 by default
        (``algorithm`` ``"SHA-384"`` or ``"SHA-512"`` for the others).

        Example: ``algorithm, digest = kms.hash(message=b"abc")``
        """
        r = self.call("Hash", Message=message, Algorithm=algorithm)
        return r["Algorithm"], base64.b64decode(r["Digest"])

    def get_random_password(
        self,
        *,
        length: Optional[int] = None,
        exclude_characters: Optional[str] = None,
        exclude_lowercase: bool = False,
        exclude_uppercase: bool = False,
        exclude_numbers: bool = False,
        exclude_punctuation: bool = False,
        require_each_included_type: bool = True,
    ) -> str:
        """GetRandomPassword: 8-128 characters (default 32) from the CSPRNG.

        Example: ``password = kms.get_random_password(length=24, exclude_punctuation=True)``
        """
        return self._native.get_random_password(
            length,
            exclude_characters,
            exclude_lowercase,
            exclude_uppercase,
            exclude_numbers,
            exclude_punctuation,
            require_each_included_type,
        )

    def change_passphrase(self, *, passphrase: str) -> None:
        """Reseals the store under a new passphrase; the old one stops opening it.

        Example: ``kms.change_passphrase(passphrase=new_passphrase)``
        """
        self._native.change_passphrase(passphrase)

    def rekey_store(self) -> None:
        """A new random store key; the whole store is rewritten under it.

        Example: ``kms.rekey_store()``
        """
        self._native.rekey_store()

    def compact_store(self) -> None:
        """Rewrites the journal into one snapshot now.

        Example: ``kms.compact_store()``
        """
        self._native.compact_store()

    def verify_store(self) -> VerifyStoreResult:
        """VerifyStore: opens every secret value through its CMK (its tag checked, the
        plaintext dropped at once) and lists each version that does not open, with its
        code — what ``strongroom store check`` (no CMK) cannot; then probes every key
        version in the backend that holds it (encrypt and decrypt, or sign and verify)
        and lists each that does not answer (``key_problems``).

        Example: ``assert not kms.verify_store().key_problems``
        """
        return _from_wire(VerifyStoreResult, self.call("VerifyStore"))

    def run_due(self) -> None:
        """Carries out what is due now on the store's clock — scheduled deletions,
        expiries, automatic key and secret rotations (through the installed rotator) —
        without waiting for the next call. Every call does this first; a long-running
        process that may go idle calls it from a timer.

        Example: ``threading.Timer(60, kms.run_due).start()``
        """
        self._native.run_due()

    def store_info(self) -> StoreInfo:
        """Format version, generation, snapshot and journal sizes, torn bytes dropped on open.

        Example: ``kms.store_info().journal_bytes``
        """
        return StoreInfo(**self._native.store_info())

    def create_key(
        self,
        *,
        key_spec: Optional[str] = None,
        key_usage: Optional[str] = None,
        description: Optional[str] = None,
        origin: Optional[str] = None,
        protection_level: Optional[str] = None,
    ) -> KeyMetadata:
        """CreateKey: a new CMK (default Aliyun_AES_256, ENCRYPT/DECRYPT, SOFTWARE): ``key_id = kms.create_key(description="orders").key_id``."""
        return self._key("CreateKey", KeySpec=key_spec, KeyUsage=key_usage, Description=description, Origin=origin, ProtectionLevel=protection_level)

    def describe_key(self, *, key_id: str) -> KeyMetadata:
        """DescribeKey (KeyId, alias or ARN): ``kms.describe_key(key_id="alias/orders").key_state``."""
        return self._key("DescribeKey", KeyId=key_id)

    def create_alias(self, *, alias_name: str, key_id: str) -> None:
        """CreateAlias: ``kms.create_alias(alias_name="alias/orders", key_id=key_id)``."""
        self.call("CreateAlias", AliasName=alias_name, KeyId=key_id)

    def update_alias(self, *, alias_name: str, key_id: str) -> None:
        """UpdateAlias: points an alias at another key: ``kms.update_alias(alias_name="alias/orders", key_id=new_id)``."""
        self.call("UpdateAlias", AliasName=alias_name, KeyId=key_id)

    def delete_alias(self, *, alias_name: str) -> None:
        """DeleteAlias: ``kms.delete_alias(alias_name="alias/orders")``."""
        self.call("DeleteAlias", AliasName=alias_name)

    def _key(self, action: str, **params: object) -> KeyMetadata:
        """An action answering one KeyMetadata."""
        return _from_wire(KeyMetadata, self.call(action, **params)["KeyMetadata"])

    def list_aliases(self, *, page_number: Optional[int] = None, page_size: Optional[int] = None) -> ListAliasesResult:
        """ListAliases, a page at a time: ``kms.list_aliases(page_size=100).aliases``."""
        return _from_wire(ListAliasesResult, self.call("ListAliases", PageNumber=_page("PageNumber", page_number), PageSize=_page("PageSize", page_size)))

    def list_aliases_by_key_id(self, *, key_id: str, page_number: Optional[int] = None, page_size: Optional[int] = None) -> ListAliasesResult:
        """ListAliasesByKeyId: ``kms.list_aliases_by_key_id(key_id=key_id).aliases``."""
        return _from_wire(
            ListAliasesResult,
            self.call("ListAliasesByKeyId", KeyId=key_id, PageNumber=_page("PageNumber", page_number), PageSize=_page("PageSize", page_size)),
        )

    def tag_resource(self, *, key_id: Optional[str] = None, secret_name: Optional[str] = None, tags: Mapping[str, str]) -> None:
        """TagResource on a key (``key_id``) or a secret (``secret_name``).

        Example: ``kms.tag_resource(key_id=key_id, tags={"team": "payments"})``
        """
        if secret_name is None:
            _key_or_secret(key_id)
        self.call("TagResource", SecretName=secret_name, KeyId=key_id, Tags=_secret_tags(tags))

    def untag_resource(self, *, key_id: Optional[str] = None, secret_name: Optional[str] = None, tag_keys: Sequence[str]) -> None:
        """UntagResource on a key (``key_id``) or a secret (``secret_name``).

        Example: ``kms.untag_resource(key_id=key_id, tag_keys=["team"])``
        """
        if secret_name is None:
            _key_or_secret(key_id)
        self.call("UntagResource", SecretName=secret_name, KeyId=key_id, TagKeys=_str_list("TagKeys", tag_keys))

    def list_resource_tags(self, *, key_id: Optional[str] = None, secret_name: Optional[str] = None) -> List[Tag]:
        """ListResourceTags of a key (``key_id``) or a secret (``secret_name``).

        Example: ``tags = kms.list_resource_tags(secret_name="db/password")``
        """
        if secret_name is None:
            _key_or_secret(key_id)
        r = self.call("ListResourceTags", SecretName=secret_name, KeyId=key_id)
        return [_from_wire(Tag, t) for t in _unwrap(r["Tags"])]

    # Secrets Manager: each method is one action through the dispatch (Kms.call).

    def create_secret(
        self,
        *,
        secret_name: str,
        secret_data: Union[str, bytes],
        version_id: str = "v1",
        encryption_key_id: Optional[str] = None,
        description: Optional[str] = None,
        tags: Optional[Mapping[str, str]] = None,
        secret_type: Optional[str] = None,
        extended_config: Optional[Union[Mapping[str, Any], str]] = None,
        enable_automatic_rotation: bool = False,
        rotation_interval: Optional[str] = None,
    ) -> SecretCreated:
        """CreateSecret: a secret and its first value (str: text, bytes: binary), sealed
        under ``encryption_key_id`` (default: the store-managed secrets key).

        Example: ``kms.create_secret(secret_name="db/password", secret_data="s3cret")``
        """
        cfg = json.dumps(extended_config) if isinstance(extended_config, Mapping) else extended_config
        return _secrets.created(
            self.call(
                "CreateSecret",
                SecretName=secret_name,
                VersionId=version_id,
                EncryptionKeyId=encryption_key_id,
                Description=description,
                Tags=_secret_tags(tags) if tags is not None else None,
                SecretType=secret_type,
                ExtendedConfig=cfg,
                EnableAutomaticRotation=enable_automatic_rotation,
                RotationInterval=rotation_interval,
                **_secrets.data(secret_data),
            )
        )

    def get_secret_value(
        self,
        *,
        secret_name: str,
        version_id: Optional[str] = None,
        version_stage: Optional[str] = None,
        fetch_extended_config: bool = False,
    ) -> SecretValue:
        """GetSecretValue: ACSCurrent unless ``version_id`` / ``version_stage`` say
        otherwise. Its repr never shows the value.

        Example: ``kms.get_secret_value(secret_name="db/password").secret_data``
        """
        return _secrets.value(
            self.call(
                "GetSecretValue",
                SecretName=secret_name,
                VersionId=version_id,
                VersionStage=version_stage,
                FetchExtendedConfig=fetch_extended_config,
            )
        )

    def put_secret_value(
        self,
        *,
        secret_name: str,
        version_id: str,
        secret_data: Union[str, bytes],
        version_stages: Optional[Sequence[str]] = None,
    ) -> PutSecretValueResult:
        """PutSecretValue: a new version (ACSCurrent unless ``version_stages``); the
        same version_id and data again changes nothing.

        Example: ``kms.put_secret_value(secret_name="db/password", version_id="v2", secret_data="n3w")``
        """
        r = self.call(
            "PutSecretValue",
            SecretName=secret_name,
            VersionId=version_id,
            VersionStages=list(version_stages) if version_stages is not None else None,
            **_secrets.data(secret_data),
        )
        return PutSecretValueResult(r["SecretName"], r["VersionId"], list(r["VersionStages"]["VersionStage"]))

    def update_secret_version_stage(
        self,
        *,
        secret_name: str,
        version_stage: str,
        remove_from_version: Optional[str] = None,
        move_to_version: Optional[str] = None,
    ) -> None:
        """UpdateSecretVersionStage: move a stage to ``move_to_version`` and / or
        remove it from ``remove_from_version``.

        Example: ``kms.update_secret_version_stage(secret_name="db/password", version_stage="ACSCurrent", move_to_version="v1")``
        """
        self.call(
            "UpdateSecretVersionStage",
            SecretName=secret_name,
            VersionStage=version_stage,
            RemoveFromVersion=remove_from_version,
            MoveToVersion=move_to_version,
        )

    def list_secret_version_ids(
        self,
        *,
        secret_name: str,
        include_deprecated: bool = False,
        page_number: Optional[int] = None,
        page_size: Optional[int] = None,
    ) -> ListSecretVersionIdsResult:
        """ListSecretVersionIds: ``kms.list_secret_version_ids(secret_name="db/password", include_deprecated=True)``."""
        return _secrets.versions(
            self.call(
                "ListSecretVersionIds",
                SecretName=secret_name,
                IncludeDeprecated=include_deprecated,
                PageNumber=_page("PageNumber", page_number),
                PageSize=_page("PageSize", page_size),
            )
        )

    def describe_secret(self, *, secret_name: str, fetch_tags: bool = False) -> SecretMetadata:
        """DescribeSecret: metadata, never the value.

        Example: ``kms.describe_secret(secret_name="db/password", fetch_tags=True)``
        """
        return _secrets.metadata(self.call("DescribeSecret", SecretName=secret_name, FetchTags=fetch_tags))

    def list_secrets(
        self,
        *,
        fetch_tags: bool = False,
        page_number: Optional[int] = None,
        page_size: Optional[int] = None,
        filters: Optional[Mapping[str, Sequence[str]]] = None,
    ) -> ListSecretsResult:
        """ListSecrets; ``filters`` maps SecretName / Description (substring) and
        TagKey / TagValue (exact) to values, ORed within a key, ANDed across keys.

        Example: ``kms.list_secrets(filters={"TagKey": ["team"]}).secret_list``
        """
        f = [{"Key": k, "Values": list(v)} for k, v in filters.items()] if filters else None
        return _secrets.listing(
            self.call(
                "ListSecrets",
                FetchTags=fetch_tags,
                PageNumber=_page("PageNumber", page_number),
                PageSize=_page("PageSize", page_size),
                Filters=f,
            )
        )

    def update_secret(
        self,
        *,
        secret_name: str,
        description: Optional[str] = None,
        custom_data: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """UpdateSecret: description and / or ExtendedConfig.CustomData.

        Example: ``kms.update_secret(secret_name="db/password", description="orders database")``
        """
        extra: Dict[str, object] = {}
        if custom_data is not None:
            extra["ExtendedConfig.CustomData"] = json.dumps(custom_data)
        self.call("UpdateSecret", SecretName=secret_name, Description=description, **extra)

    def delete_secret(
        self,
        *,
        secret_name: str,
        recovery_window_in_days: Optional[int] = None,
        force_delete_without_recovery: bool = False,
    ) -> DeleteSecretResult:
        """DeleteSecret after the recovery window (7-30 days, default 30), or now.

        Example: ``kms.delete_secret(secret_name="db/password", recovery_window_in_days=7)``
        """
        r = self.call(
            "DeleteSecret",
            SecretName=secret_name,
            RecoveryWindowInDays=recovery_window_in_days,
            ForceDeleteWithoutRecovery=force_delete_without_recovery,
        )
        return DeleteSecretResult(r["SecretName"], r.get("PlannedDeleteTime"))

    def restore_secret(self, *, secret_name: str) -> None:
        """RestoreSecret: cancels a planned deletion.

        Example: ``kms.restore_secret(secret_name="db/password")``
        """
        self.call("RestoreSecret", SecretName=secret_name)

    def rotate_secret(self, *, secret_name: str, version_id: Optional[str] = None) -> SecretCreated:
        """RotateSecret now, with the rotator from :meth:`set_secret_rotator` (or a
        random password by the secret's ExtendedConfig rules).

        Example: ``kms.rotate_secret(secret_name="db/password").version_id``
        """
        return _secrets.created(self.call("RotateSecret", SecretName=secret_name, VersionId=version_id))

    def update_secret_rotation_policy(
        self, *, secret_name: str, enable_automatic_rotation: bool, rotation_interval: Optional[str] = None
    ) -> None:
        """UpdateSecretRotationPolicy: ``kms.update_secret_rotation_policy(secret_name="db", enable_automatic_rotation=True, rotation_interval="604800s")``."""
        self.call(
            "UpdateSecretRotationPolicy",
            SecretName=secret_name,
            EnableAutomaticRotation=enable_automatic_rotation,
            RotationInterval=rotation_interval,
        )

    def set_secret_rotator(self, rotator: Optional[Callable[[RotationStep], Union[str, bytes, None]]]) -> None:
        """The rotator RotateSecret and automatic rotation use, called with a
        :class:`RotationStep` for each of ``create`` (return the new value), ``set`` and
        ``test``; ``None``: the built-in random-password rotator.

        Example: ``kms.set_secret_rotator(my_rotation)  # called with each RotationStep``
        """
        if rotator is None:
            self._native.set_secret_rotator(None)
            return
        if not callable(rotator):
            raise InvalidParameterError("InvalidParameter.Rotator", "invalid Rotator: must be callable or None")
        self._native.set_secret_rotator(lambda d: rotator(RotationStep(**d)))

    def create_key_version(self, *, key_id: str) -> KeyVersion:
        """CreateKeyVersion: a new primary version (manual rotation): ``kms.create_key_version(key_id=key_id)``."""
        return _from_wire(KeyVersion, self.call("CreateKeyVersion", KeyId=key_id)["KeyVersion"])

    def describe_key_version(self, *, key_id: str, key_version_id: str) -> KeyVersion:
        """DescribeKeyVersion: ``kms.describe_key_version(key_id=key_id, key_version_id=v)``."""
        return _from_wire(KeyVersion, self.call("DescribeKeyVersion", KeyId=key_id, KeyVersionId=key_version_id)["KeyVersion"])

    def list_key_versions(self, *, key_id: str, page_number: Optional[int] = None, page_size: Optional[int] = None) -> ListKeyVersionsResult:
        """ListKeyVersions, a page at a time: ``kms.list_key_versions(key_id=key_id).key_versions``."""
        r = self.call("ListKeyVersions", KeyId=key_id, PageNumber=_page("PageNumber", page_number), PageSize=_page("PageSize", page_size))
        return _from_wire(ListKeyVersionsResult, r)

    def update_rotation_policy(self, *, key_id: str, enable_automatic_rotation: bool, rotation_interval: Optional[str] = None) -> KeyMetadata:
        """UpdateRotationPolicy (7-365 days): ``kms.update_rotation_policy(key_id=key_id, enable_automatic_rotation=True, rotation_interval="604800s")``."""
        return self._key(
            "UpdateRotationPolicy", KeyId=key_id, EnableAutomaticRotation=_bool("EnableAutomaticRotation", enable_automatic_rotation), RotationInterval=rotation_interval
        )

    def re_encrypt(
        self,
        *,
        ciphertext_blob: bytes,
        destination_key_id: str,
        source_encryption_context: Context = None,
        destination_encryption_context: Context = None,
    ) -> ReEncryptResult:
        """ReEncrypt inside the KMS (the plaintext never leaves it): ``kms.re_encrypt(ciphertext_blob=blob, destination_key_id=new_id)``."""
        r = self.call(
            "ReEncrypt",
            CiphertextBlob=_bytes("CiphertextBlob", ciphertext_blob),
            DestinationKeyId=destination_key_id,
            SourceEncryptionContext=_ctx(source_encryption_context),
            DestinationEncryptionContext=_ctx(destination_encryption_context),
        )
        return _from_wire(ReEncryptResult, r)

    def set_deletion_protection(
        self, *, key_id: str, enable_deletion_protection: bool, deletion_protection_description: Optional[str] = None
    ) -> KeyMetadata:
        """While on, schedule_key_deletion is refused (Forbidden.DeletionProtection). key_id may be an ARN or alias.

        Example: ``kms.set_deletion_protection(key_id=key_id, enable_deletion_protection=True)``
        """
        return self._key(
            "SetDeletionProtection",
            ProtectedResourceArn=key_id,
            EnableDeletionProtection=_bool("EnableDeletionProtection", enable_deletion_protection),
            DeletionProtectionDescription=deletion_protection_description,
        )

    def enable_key(self, *, key_id: str) -> KeyMetadata:
        """EnableKey: ``kms.enable_key(key_id=key_id)``."""
        return self._key("EnableKey", KeyId=key_id)

    def disable_key(self, *, key_id: str) -> KeyMetadata:
        """DisableKey: the key refuses cryptographic use until enabled: ``kms.disable_key(key_id=key_id)``."""
        return self._key("DisableKey", KeyId=key_id)

    def schedule_key_deletion(self, *, key_id: str, pending_window_in_days: int) -> KeyMetadata:
        """ScheduleKeyDeletion (7-30 days): ``kms.schedule_key_deletion(key_id=key_id, pending_window_in_days=7)``."""
        return self._key("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=pending_window_in_days)

    def cancel_key_deletion(self, *, key_id: str) -> KeyMetadata:
        """CancelKeyDeletion: back to Enabled: ``kms.cancel_key_deletion(key_id=key_id)``."""
        return self._key("CancelKeyDeletion", KeyId=key_id)

    def update_key_description(self, *, key_id: str, description: str) -> KeyMetadata:
        """UpdateKeyDescription: ``kms.update_key_description(key_id=key_id, description="orders, 2027")``."""
        return self._key("UpdateKeyDescription", KeyId=key_id, Description=description)

    def list_keys(
        self,
        *,
        page_number: Optional[int] = None,
        page_size: Optional[int] = None,
        filters: Union[None, Mapping[str, Sequence[str]], Sequence[Mapping[str, object]]] = None,
    ) -> ListKeysResult:
        """ListKeys. ``filters``: ``{"KeyState": ["Enabled"], ...}`` or Alibaba's
        ``[{"Key": "KeyState", "Values": ["Enabled"]}, ...]`` (values of one key ORed,
        different keys ANDed).

        Example: ``kms.list_keys(filters={"KeyState": ["Enabled"]}).keys``
        """
        pairs = None
        if filters is not None:
            if isinstance(filters, Mapping):
                pairs = [(str(k), [str(v) for v in vs]) for k, vs in filters.items()]
            else:
                try:
                    pairs = [(str(f["Key"]), [str(v) for v in f.get("Values", [])]) for f in filters]  # type: ignore[attr-defined]
                except (KeyError, TypeError, AttributeError) as e:
                    raise InvalidParameterError(
                        "InvalidParameter.Filters", f'filters are {{"Key": ..., "Values": [...]}} pairs: {e}'
                    ) from None
        r = self.call(
            "ListKeys",
            PageNumber=_page("PageNumber", page_number),
            PageSize=_page("PageSize", page_size),
            Filters=None if pairs is None else [{"Key": k, "Values": vs} for k, vs in pairs],
        )
        return _from_wire(ListKeysResult, r)

    def encrypt(self, *, key_id: str, plaintext: bytes, encryption_context: Context = None) -> EncryptResult:
        """Encrypt up to 6 KiB under a CMK: ``blob = kms.encrypt(key_id=key_id, plaintext=b"hi", encryption_context={"app": "orders"}).ciphertext_blob``."""
        return EncryptResult(**self._native.encrypt(key_id, _bytes("Plaintext", plaintext), _ctx(encryption_context)))

    def decrypt(self, *, ciphertext_blob: bytes, encryption_context: Context = None) -> DecryptResult:
        """Decrypt a blob (it names its key): ``kms.decrypt(ciphertext_blob=blob, encryption_context={"app": "orders"}).plaintext``."""
        return DecryptResult(**self._native.decrypt(_bytes("CiphertextBlob", ciphertext_blob), _ctx(encryption_context)))

    def get_public_key(self, *, key_id: str, key_version_id: Optional[str] = None) -> PublicKeyResult:
        """GetPublicKey: the key version's public key as PEM (SubjectPublicKeyInfo).

        Example: ``pem = kms.get_public_key(key_id=key_id).public_key``
        """
        r = _from_wire(PublicKeyResult, self.call("GetPublicKey", KeyId=key_id, KeyVersionId=key_version_id))
        return dataclasses.replace(r, public_key_der=_pem_der(r.public_key))

    def asymmetric_sign(
        self,
        *,
        key_id: str,
        algorithm: str,
        digest: Optional[bytes] = None,
        message: Optional[bytes] = None,
        key_version_id: Optional[str] = None,
    ) -> SignResult:
        """AsymmetricSign: signs `digest` (SHA-256 of the message, 32 bytes), or
        SHA-256(`message`) when a message is given instead.

        Example: ``sig = kms.asymmetric_sign(key_id=key_id, algorithm="ECDSA_SHA_256", message=b"doc").value``
        """
        return SignResult(**self._native.asymmetric_sign(
            key_id, algorithm, _opt_bytes("Digest", digest), _opt_bytes("Message", message), key_version_id))

    def asymmetric_verify(
        self,
        *,
        key_id: str,
        algorithm: str,
        value: bytes,
        digest: Optional[bytes] = None,
        message: Optional[bytes] = None,
        key_version_id: Optional[str] = None,
    ) -> VerifyResult:
        """AsymmetricVerify: `value` is False for a signature that does not verify.

        Example: ``kms.asymmetric_verify(key_id=key_id, algorithm="ECDSA_SHA_256", value=sig, message=b"doc").value``
        """
        return VerifyResult(**self._native.asymmetric_verify(
            key_id, algorithm, _bytes("Value", value), _opt_bytes("Digest", digest), _opt_bytes("Message", message),
            key_version_id))

    def asymmetric_encrypt(
        self, *, key_id: str, algorithm: str, plaintext: bytes, key_version_id: Optional[str] = None
    ) -> EncryptResult:
        """AsymmetricEncrypt: RSA-OAEP (RSAES_OAEP_SHA_256 / RSAES_OAEP_SHA_1).

        Example: ``kms.asymmetric_encrypt(key_id=key_id, algorithm="RSAES_OAEP_SHA_256", plaintext=b"hi").ciphertext_blob``
        """
        r = self.call("AsymmetricEncrypt", KeyId=key_id, Algorithm=algorithm, Plaintext=_bytes("Plaintext", plaintext), KeyVersionId=key_version_id)
        return _from_wire(EncryptResult, r)

    def asymmetric_decrypt(
        self, *, key_id: str, algorithm: str, ciphertext_blob: bytes, key_version_id: Optional[str] = None
    ) -> DecryptResult:
        """AsymmetricDecrypt: every padding or length failure is InvalidCiphertext.

        Example: ``kms.asymmetric_decrypt(key_id=key_id, algorithm="RSAES_OAEP_SHA_256", ciphertext_blob=ct).plaintext``
        """
        r = self.call(
            "AsymmetricDecrypt", KeyId=key_id, Algorithm=algorithm, CiphertextBlob=_bytes("CiphertextBlob", ciphertext_blob), KeyVersionId=key_version_id
        )
        return _from_wire(DecryptResult, r)

    def generate_data_key(
        self,
        *,
        key_id: str,
        key_spec: Optional[str] = None,
        number_of_bytes: Optional[int] = None,
        encryption_context: Context = None,
    ) -> DataKeyResult:
        """GenerateDataKey: a data key in plaintext (redacted in repr) and wrapped: ``dk = kms.generate_data_key(key_id=key_id)``."""
        return DataKeyResult(**self._native.generate_data_key(key_id, key_spec, number_of_bytes, _ctx(encryption_context), True))

    def get_parameters_for_import(
        self,
        *,
        key_id: str,
        wrapping_algorithm: Optional[str] = None,
        wrapping_key_spec: Optional[str] = None,
    ) -> ImportParameters:
        """GetParametersForImport: an RSA wrapping public key (SubjectPublicKeyInfo DER)
        and an ImportToken valid for 24 hours, for a key created with
        ``origin="EXTERNAL"``. Wrap the key material with RSAES-OAEP (the algorithm
        named here) and pass it to :meth:`import_key_material`.

        Example: ``params = kms.get_parameters_for_import(key_id=key_id)``
        """
        return _from_wire(
            ImportParameters, self.call("GetParametersForImport", KeyId=key_id, WrappingAlgorithm=wrapping_algorithm, WrappingKeySpec=wrapping_key_spec)
        )

    def import_key_material(
        self,
        *,
        key_id: str,
        encrypted_key_material: bytes,
        import_token: str,
        key_material_expire_unix: Optional[int] = None,
    ) -> KeyMetadata:
        """ImportKeyMaterial: the wrapped material goes into the EXTERNAL key, which
        becomes Enabled. ``key_material_expire_unix`` (Unix seconds; None or 0 = never)
        sends the key back to PendingImport when it passes. A key that held material
        takes only the same material again.

        Example: ``kms.import_key_material(key_id=key_id, encrypted_key_material=wrapped, import_token=params.import_token)``
        """
        return self._key(
            "ImportKeyMaterial",
            KeyId=key_id,
            EncryptedKeyMaterial=_bytes("EncryptedKeyMaterial", encrypted_key_material),
            ImportToken=import_token,
            KeyMaterialExpireUnix=key_material_expire_unix,
        )

    def delete_key_material(self, *, key_id: str) -> KeyMetadata:
        """DeleteKeyMaterial: destroys an EXTERNAL key's material; it goes back to
        PendingImport.

        Example: ``kms.delete_key_material(key_id=key_id)``
        """
        return self._key("DeleteKeyMaterial", KeyId=key_id)

    def export_data_key(
        self,
        *,
        ciphertext_blob: bytes,
        public_key_blob: bytes,
        wrapping_algorithm: Optional[str] = None,
        wrapping_key_spec: Optional[str] = None,
        encryption_context: Context = None,
    ) -> ExportDataKeyResult:
        """ExportDataKey: the data key in ``ciphertext_blob`` re-wrapped under an RSA
        public key (SubjectPublicKeyInfo, DER or PEM bytes).

        Example: ``kms.export_data_key(ciphertext_blob=blob, public_key_blob=spki_der).exported_data_key``
        """
        r = self.call(
            "ExportDataKey",
            CiphertextBlob=_bytes("CiphertextBlob", ciphertext_blob),
            PublicKeyBlob=_bytes("PublicKey", public_key_blob),
            WrappingAlgorithm=wrapping_algorithm,
            WrappingKeySpec=wrapping_key_spec,
            EncryptionContext=_ctx(encryption_context),
        )
        return _from_wire(ExportDataKeyResult, r)

    def generate_and_export_data_key(
        self,
        *,
        key_id: str,
        public_key_blob: bytes,
        wrapping_algorithm: Optional[str] = None,
        wrapping_key_spec: Optional[str] = None,
        key_spec: Optional[str] = None,
        number_of_bytes: Optional[int] = None,
        encryption_context: Context = None,
    ) -> GenerateAndExportDataKeyResult:
        """GenerateAndExportDataKey: a new data key under the CMK (``ciphertext_blob``)
        and under an RSA public key (``exported_data_key``); no plaintext returned.

        Example: ``r = kms.generate_and_export_data_key(key_id=key_id, public_key_blob=spki_der)``
        """
        r = self.call(
            "GenerateAndExportDataKey",
            KeyId=key_id,
            PublicKeyBlob=_bytes("PublicKey", public_key_blob),
            WrappingAlgorithm=wrapping_algorithm,
            WrappingKeySpec=wrapping_key_spec,
            KeySpec=key_spec,
            NumberOfBytes=number_of_bytes,
            EncryptionContext=_ctx(encryption_context),
        )
        return _from_wire(GenerateAndExportDataKeyResult, r)

    def generate_data_key_without_plaintext(
        self,
        *,
        key_id: str,
        key_spec: Optional[str] = None,
        number_of_bytes: Optional[int] = None,
        encryption_context: Context = None,
    ) -> DataKeyWithoutPlaintextResult:
        """GenerateDataKeyWithoutPlaintext: only the wrapped data key: ``kms.generate_data_key_without_plaintext(key_id=key_id).ciphertext_blob``."""
        return DataKeyWithoutPlaintextResult(
            **self._native.generate_data_key(key_id, key_spec, number_of_bytes, _ctx(encryption_context), False)
        )

    def generate_data_key_pair(
        self,
        *,
        key_id: str,
        key_pair_spec: str,
        key_format: Optional[str] = None,
        encryption_context: Context = None,
    ) -> DataKeyPairResult:
        """GenerateDataKeyPair: a fresh RSA or EC key pair (``key_pair_spec`` RSA_2048,
        RSA_3072, RSA_4096, EC_P256 or EC_P256K) for use outside the KMS: the private key,
        the same private key encrypted under the symmetric CMK (``decrypt`` with the same
        ``encryption_context`` opens it) and the public key, as PEM text bytes (the
        default) or DER (``key_format="DER"``).

        Example: ``pair = kms.generate_data_key_pair(key_id=key_id, key_pair_spec="EC_P256")``
        """
        return _from_wire(DataKeyPairResult, self.call("GenerateDataKeyPair", **_pair_params(
            key_id, key_pair_spec, key_format, encryption_context)))

    def generate_data_key_pair_without_plaintext(
        self,
        *,
        key_id: str,
        key_pair_spec: str,
        key_format: Optional[str] = None,
        encryption_context: Context = None,
    ) -> DataKeyPairWithoutPlaintextResult:
        """GenerateDataKeyPairWithoutPlaintext: as :meth:`generate_data_key_pair`, without
        the plaintext private key.

        Example: ``blob = kms.generate_data_key_pair_without_plaintext(key_id=key_id, key_pair_spec="RSA_2048").private_key_ciphertext_blob``
        """
        return _from_wire(DataKeyPairWithoutPlaintextResult, self.call(
            "GenerateDataKeyPairWithoutPlaintext", **_pair_params(key_id, key_pair_spec, key_format, encryption_context)))

    # Envelope messages: data of any size, for one or more CMKs (docs/FORMAT.md).

    def encrypt_envelope(
        self,
        *,
        key_ids: Sequence[str],
        plaintext: bytes,
        encryption_context: Context = None,
        frame_length: Optional[int] = None,
        signing_key_id: Optional[str] = None,
    ) -> bytes:
        """Encrypts ``plaintext`` under a fresh data key wrapped by every CMK in
        ``key_ids`` (any one of them decrypts). Returns the whole message. With
        ``signing_key_id`` (an EC_P256 SIGN/VERIFY key) the message is signed: readers
        verify it and report the signer.

        Example: ``message = kms.encrypt_envelope(key_ids=[key_id], plaintext=data, encryption_context={"app": "orders"})``
        """
        return self._native.encrypt_envelope(
            _key_ids(key_ids), _bytes("Plaintext", plaintext), _ctx(encryption_context), frame_length, signing_key_id
        )

    def re_encrypt_envelope(
        self,
        *,
        ciphertext: bytes,
        destination_key_ids: Optional[Sequence[str]] = None,
        encryption_context: Context = None,
    ) -> ReEncryptEnvelopeResult:
        """ReEncryptEnvelope: a message moved — after a rotation, to its keys' current
        versions; with ``destination_key_ids``, to other keys — without decrypting it.
        Only the header changes (its data key wrapped again); the frames are kept as
        they are. ``ciphertext`` is the message, or any start of it that holds the
        header; the result's ``ciphertext`` is the new message (``header`` followed by
        what was given after ``replaced_length``). Signed messages are refused
        (``Rejected.Unsupported``: their signature covers the header).

        Example: ``moved = kms.re_encrypt_envelope(ciphertext=message).ciphertext``
        """
        destinations = _key_ids(destination_key_ids) if destination_key_ids is not None else []
        data = _bytes("Ciphertext", ciphertext)
        # Only the header goes through the call (and over the wire to a gateway, whose
        # request limit a whole message would pass); a cut-short header is sent as it is
        # for the core to refuse.
        n = _native.envelope_header_length(data)
        r = _from_wire(ReEncryptEnvelopeResult, self.call(
            "ReEncryptEnvelope", Header=data if n is None else data[:n],
            DestinationKeyIds=destinations or None,
            EncryptionContext=_ctx(encryption_context)))
        rest = memoryview(data)[r.replaced_length:]
        return dataclasses.replace(r, ciphertext=b"".join((r.header, rest)))

    def decrypt_envelope(
        self,
        *,
        ciphertext: bytes,
        encryption_context: Context = None,
        required_encryption_context: Context = None,
        required_signer: Optional[str] = None,
    ) -> DecryptEnvelopeResult:
        """Decrypts a whole message. With ``encryption_context`` the message's context
        must equal it; with ``required_encryption_context`` it must hold those pairs
        (others allowed) — ``InvalidCiphertext.ContextMismatch`` otherwise, before any
        plaintext. Without either, the message's context is returned for you to check.
        With ``required_signer`` (a key of this store) the message must be signed by it
        (``InvalidCiphertext.SignerMismatch`` otherwise, before any key is used).

        Example: ``kms.decrypt_envelope(ciphertext=message, encryption_context={"app": "orders"}).plaintext``
        """
        return DecryptEnvelopeResult(
            **_envelope_info(
                self._native.decrypt_envelope(
                    _bytes("Ciphertext", ciphertext),
                    _ctx(encryption_context),
                    _ctx(required_encryption_context),
                    required_signer,
                )
            )
        )

    def encrypt_stream(
        self,
        src: BinaryIO,
        dst: BinaryIO,
        *,
        key_ids: Sequence[str],
        encryption_context: Context = None,
        frame_length: Optional[int] = None,
        signing_key_id: Optional[str] = None,
    ) -> int:
        """Reads ``src`` (``.read(n)``) to its end and writes the envelope to ``dst``
        (``.write(b)``), one frame in memory at a time, with the GIL released between
        the Python I/O calls. Returns the number of plaintext bytes."""
        return self._native.encrypt_stream(
            src, dst, _key_ids(key_ids), _ctx(encryption_context), frame_length, signing_key_id
        )

    def decrypt_stream(
        self,
        src: BinaryIO,
        dst: BinaryIO,
        *,
        encryption_context: Context = None,
        required_encryption_context: Context = None,
        required_signer: Optional[str] = None,
    ) -> EnvelopeInfo:
        """Decrypts the envelope read from ``src`` into ``dst`` frame by frame. Plaintext
        of a frame is written only once it authenticates, but a failure at a later
        frame leaves earlier frames written: on error, discard what ``dst`` got. The
        context checks are ``decrypt_envelope``'s, made before anything is written.

        Example: ``info = kms.decrypt_stream(open("in.sren", "rb"), open("out", "wb"))``
        """
        return EnvelopeInfo(
            **_envelope_info(
                self._native.decrypt_stream(
                    src, dst, _ctx(encryption_context), _ctx(required_encryption_context), required_signer
                )
            )
        )

    def set_data_key_cache(
        self,
        *,
        max_age_seconds: float = 300.0,
        max_messages: int = 1000,
        max_bytes: int = 1 << 30,
        capacity: int = 64,
    ) -> None:
        """Reuses envelope data keys within these limits (off by default), so a remote
        master key is not called per message. A cached key still obeys the CMK's state.

        Example: ``kms.set_data_key_cache(max_age_seconds=60, max_messages=1000)``
        """
        self._native.set_data_key_cache(True, int(max_age_seconds * 1000), max_messages, max_bytes, capacity)

    def disable_data_key_cache(self) -> None:
        """Turns the data-key cache off and forgets every cached data key.

        Example: ``kms.disable_data_key_cache()``
        """
        self._native.set_data_key_cache(False)

    # RAM, STS, key and secret policies, and the audit settings: each a method taking its
    # parameters as snake_case keywords (``kms.create_user(user_name="ingest")``) and
    # answering Alibaba's response JSON as a dict, through the same dispatch as ``call``.
    # Policy documents may be given as dicts.
    def _access(self, action: str, params: Mapping[str, object]) -> Dict[str, Any]:
        wire: Dict[str, object] = {}
        for k, v in params.items():
            if isinstance(v, Mapping):
                v = json.dumps(dict(v))
            wire["".join(p[:1].upper() + p[1:] for p in k.split("_"))] = v
        return self.call(action, **wire)

    def create_user(self, **params: object) -> Dict[str, Any]:
        """CreateUser (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.create_user(user_name="ingest")``
        """
        return self._access("CreateUser", params)

    def get_user(self, **params: object) -> Dict[str, Any]:
        """GetUser (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.get_user(user_name="ingest")["User"]``
        """
        return self._access("GetUser", params)

    def list_users(self, **params: object) -> Dict[str, Any]:
        """ListUsers (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.list_users()["Users"]["User"]``
        """
        return self._access("ListUsers", params)

    def delete_user(self, **params: object) -> Dict[str, Any]:
        """DeleteUser (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.delete_user(user_name="ingest")``
        """
        return self._access("DeleteUser", params)

    def create_role(self, **params: object) -> Dict[str, Any]:
        """CreateRole (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.create_role(role_name="browser", assume_role_policy_document=trust)``
        """
        return self._access("CreateRole", params)

    def get_role(self, **params: object) -> Dict[str, Any]:
        """GetRole (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.get_role(role_name="browser")["Role"]``
        """
        return self._access("GetRole", params)

    def list_roles(self, **params: object) -> Dict[str, Any]:
        """ListRoles (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.list_roles()``
        """
        return self._access("ListRoles", params)

    def delete_role(self, **params: object) -> Dict[str, Any]:
        """DeleteRole (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.delete_role(role_name="browser")``
        """
        return self._access("DeleteRole", params)

    def create_access_key(self, **params: object) -> Dict[str, Any]:
        """CreateAccessKey (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.create_access_key(user_name="ingest")["AccessKey"]``
        """
        return self._access("CreateAccessKey", params)

    def update_access_key(self, **params: object) -> Dict[str, Any]:
        """UpdateAccessKey (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.update_access_key(user_access_key_id=akid, status="Inactive")``
        """
        return self._access("UpdateAccessKey", params)

    def delete_access_key(self, **params: object) -> Dict[str, Any]:
        """DeleteAccessKey (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.delete_access_key(user_access_key_id=akid)``
        """
        return self._access("DeleteAccessKey", params)

    def list_access_keys(self, **params: object) -> Dict[str, Any]:
        """ListAccessKeys (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.list_access_keys(user_name="ingest")``
        """
        return self._access("ListAccessKeys", params)

    def create_client_key(self, **params: object) -> Dict[str, Any]:
        """CreateClientKey (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.create_client_key(user_name="ingest", public_key=pem)``
        """
        return self._access("CreateClientKey", params)

    def create_policy(self, **params: object) -> Dict[str, Any]:
        """CreatePolicy (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.create_policy(policy_name="decrypt-only", policy_document={"Version": "1", "Statement": [...]})``
        """
        return self._access("CreatePolicy", params)

    def get_policy(self, **params: object) -> Dict[str, Any]:
        """GetPolicy (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.get_policy(policy_name="decrypt-only", policy_type="Custom")``
        """
        return self._access("GetPolicy", params)

    def list_policies(self, **params: object) -> Dict[str, Any]:
        """ListPolicies (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.list_policies()``
        """
        return self._access("ListPolicies", params)

    def delete_policy(self, **params: object) -> Dict[str, Any]:
        """DeletePolicy (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.delete_policy(policy_name="decrypt-only")``
        """
        return self._access("DeletePolicy", params)

    def attach_policy_to_user(self, **params: object) -> Dict[str, Any]:
        """AttachPolicyToUser (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.attach_policy_to_user(policy_type="Custom", policy_name="decrypt-only", user_name="ingest")``
        """
        return self._access("AttachPolicyToUser", params)

    def detach_policy_from_user(self, **params: object) -> Dict[str, Any]:
        """DetachPolicyFromUser (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.detach_policy_from_user(policy_type="Custom", policy_name="decrypt-only", user_name="ingest")``
        """
        return self._access("DetachPolicyFromUser", params)

    def attach_policy_to_role(self, **params: object) -> Dict[str, Any]:
        """AttachPolicyToRole (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.attach_policy_to_role(policy_type="Custom", policy_name="decrypt-only", role_name="browser")``
        """
        return self._access("AttachPolicyToRole", params)

    def detach_policy_from_role(self, **params: object) -> Dict[str, Any]:
        """DetachPolicyFromRole (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.detach_policy_from_role(policy_type="Custom", policy_name="decrypt-only", role_name="browser")``
        """
        return self._access("DetachPolicyFromRole", params)

    def list_policies_for_user(self, **params: object) -> Dict[str, Any]:
        """ListPoliciesForUser (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.list_policies_for_user(user_name="ingest")``
        """
        return self._access("ListPoliciesForUser", params)

    def list_policies_for_role(self, **params: object) -> Dict[str, Any]:
        """ListPoliciesForRole (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.list_policies_for_role(role_name="browser")``
        """
        return self._access("ListPoliciesForRole", params)

    def assume_role(self, **params: object) -> Dict[str, Any]:
        """AssumeRole (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.assume_role(role_arn=arn, role_session_name="job", duration_seconds=900)["Credentials"]``
        """
        return self._access("AssumeRole", params)

    def set_key_policy(self, **params: object) -> Dict[str, Any]:
        """SetKeyPolicy (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.set_key_policy(key_id=key_id, policy=document)``
        """
        return self._access("SetKeyPolicy", params)

    def get_key_policy(self, **params: object) -> Dict[str, Any]:
        """GetKeyPolicy (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.get_key_policy(key_id=key_id)["Policy"]``
        """
        return self._access("GetKeyPolicy", params)

    def set_secret_policy(self, **params: object) -> Dict[str, Any]:
        """SetSecretPolicy (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.set_secret_policy(secret_name="db/password", policy=document)``
        """
        return self._access("SetSecretPolicy", params)

    def get_secret_policy(self, **params: object) -> Dict[str, Any]:
        """GetSecretPolicy (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.get_secret_policy(secret_name="db/password")["Policy"]``
        """
        return self._access("GetSecretPolicy", params)

    def simulate_policy(self, **params: object) -> Dict[str, Any]:
        """SimulatePolicy (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.simulate_policy(principal_arn=arn, action_name="kms:Decrypt", resource_arn=key_arn)``
        """
        return self._access("SimulatePolicy", params)

    def set_audit_level(self, **params: object) -> Dict[str, Any]:
        """SetAuditLevel (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.set_audit_level(audit_level="all")``
        """
        return self._access("SetAuditLevel", params)

    def describe_audit_config(self, **params: object) -> Dict[str, Any]:
        """DescribeAuditConfig (Alibaba's parameters as snake_case keywords; answers Alibaba's JSON).

        Example: ``kms.describe_audit_config()``
        """
        return self._access("DescribeAuditConfig", params)


