"""Secrets Manager result types and :class:`SecretCache`, the caching client.

The secret actions themselves are :class:`strongroom.Kms` methods; each is one action
through the core's dispatch (``Kms.call``, Alibaba's wire form) turned into these
dataclasses. No secret logic lives here.
"""

from __future__ import annotations

import base64
import json
import os
import secrets as _py_secrets
import heapq
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from . import _native  # the copies' sealing is the core's: one format in every runtime
from .errors import InvalidParameterError

__all__ = [
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
]


@dataclass(frozen=True)
class SecretCreated:
    """What CreateSecret and RotateSecret answer."""

    arn: str
    secret_name: str
    version_id: str
    secret_type: str
    automatic_rotation: str
    rotation_interval: Optional[str] = None
    next_rotation_date: Optional[str] = None


@dataclass(frozen=True)
class SecretValue:
    """GetSecretValue's answer. ``secret_data`` is ``str`` for text secrets and
    ``bytes`` for binary ones; ``repr`` never shows it."""

    secret_name: str
    secret_type: str
    secret_data: Union[str, bytes] = field(repr=False)
    secret_data_type: str
    version_id: str
    version_stages: Sequence[str]
    create_time: str
    automatic_rotation: str
    extended_config: Optional[str] = None
    rotation_interval: Optional[str] = None
    next_rotation_date: Optional[str] = None
    last_rotation_date: Optional[str] = None


@dataclass(frozen=True)
class SecretVersion:
    version_id: str
    create_time: str
    version_stages: Sequence[str]


@dataclass(frozen=True)
class ListSecretVersionIdsResult:
    secret_name: str
    version_ids: Sequence[SecretVersion]
    total_count: int
    page_number: int
    page_size: int


@dataclass(frozen=True)
class SecretMetadata:
    """DescribeSecret's answer (metadata; never the value)."""

    arn: str
    secret_name: str
    secret_type: str
    description: str
    encryption_key_id: str
    create_time: str
    update_time: str
    automatic_rotation: str
    planned_delete_time: Optional[str] = None
    rotation_interval: Optional[str] = None
    last_rotation_date: Optional[str] = None
    next_rotation_date: Optional[str] = None
    extended_config: Optional[str] = None
    tags: Optional[Dict[str, str]] = None


@dataclass(frozen=True)
class SecretListEntry:
    secret_name: str
    secret_type: str
    create_time: str
    update_time: str
    planned_delete_time: Optional[str] = None
    tags: Optional[Dict[str, str]] = None


@dataclass(frozen=True)
class ListSecretsResult:
    secrets: Sequence[SecretListEntry]
    total_count: int
    page_number: int
    page_size: int


@dataclass(frozen=True)
class PutSecretValueResult:
    secret_name: str
    version_id: str
    version_stages: Sequence[str]


@dataclass(frozen=True)
class DeleteSecretResult:
    secret_name: str
    planned_delete_time: Optional[str] = None


@dataclass(frozen=True)
class RotationStep:
    """What a rotator (``Kms.set_secret_rotator``) gets at each step: ``create``
    returns the new value (str or bytes); ``set`` installs it where it is used and
    ``test`` checks it (``value`` holds it then). Raising fails the step
    (``Rejected.RotationFailed``) and ACSCurrent stays where it was."""

    step: str
    secret_name: str
    version_id: str
    secret_type: str
    extended_config: Optional[str]
    value: Optional[bytes] = field(default=None, repr=False)


_SNAKE = {
    "Arn": "arn",
    "SecretName": "secret_name",
    "VersionId": "version_id",
    "SecretType": "secret_type",
    "AutomaticRotation": "automatic_rotation",
    "RotationInterval": "rotation_interval",
    "NextRotationDate": "next_rotation_date",
    "LastRotationDate": "last_rotation_date",
    "SecretData": "secret_data",
    "SecretDataType": "secret_data_type",
    "CreateTime": "create_time",
    "UpdateTime": "update_time",
    "ExtendedConfig": "extended_config",
    "Description": "description",
    "EncryptionKeyId": "encryption_key_id",
    "PlannedDeleteTime": "planned_delete_time",
}


def _fields(r: Mapping[str, Any], *skip: str) -> Dict[str, Any]:
    return {_SNAKE[k]: v for k, v in r.items() if k in _SNAKE and k not in skip}


def _stages(v: Any) -> List[str]:
    return list((v or {}).get("VersionStage", []))


def _tags(v: Any) -> Optional[Dict[str, str]]:
    if v is None:
        return None
    return {t["TagKey"]: t["TagValue"] for t in v.get("Tag", [])}


def created(r: Mapping[str, Any]) -> SecretCreated:
    return SecretCreated(**_fields(r))


def value(r: Mapping[str, Any]) -> SecretValue:
    f = _fields(r, "SecretData")
    data: Union[str, bytes] = r["SecretData"]
    if r.get("SecretDataType") == "binary":
        data = base64.b64decode(r["SecretData"])
    return SecretValue(secret_data=data, version_stages=_stages(r.get("VersionStages")), **f)


def versions(r: Mapping[str, Any]) -> ListSecretVersionIdsResult:
    return ListSecretVersionIdsResult(
        secret_name=r["SecretName"],
        version_ids=[
            SecretVersion(v["VersionId"], v["CreateTime"], _stages(v.get("VersionStages")))
            for v in r["VersionIds"]["VersionId"]
        ],
        total_count=r["TotalCount"],
        page_number=r["PageNumber"],
        page_size=r["PageSize"],
    )


def metadata(r: Mapping[str, Any]) -> SecretMetadata:
    return SecretMetadata(tags=_tags(r.get("Tags")), **_fields(r))


def listing(r: Mapping[str, Any]) -> ListSecretsResult:
    return ListSecretsResult(
        secrets=[SecretListEntry(tags=_tags(s.get("Tags")), **_fields(s)) for s in r["SecretList"]["Secret"]],
        total_count=r["TotalCount"],
        page_number=r["PageNumber"],
        page_size=r["PageSize"],
    )


def data(v: object) -> Dict[str, str]:
    """SecretData and SecretDataType on the wire: str is text, bytes binary."""
    if isinstance(v, str):
        return {"SecretData": v, "SecretDataType": "text"}
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"SecretData": base64.b64encode(bytes(v)).decode("ascii"), "SecretDataType": "binary"}
    raise InvalidParameterError(
        "InvalidParameter.SecretData", "invalid SecretData: must be str (text) or bytes (binary)"
    )


@dataclass(frozen=True)
class SecretCacheEvent:
    """What a :class:`SecretCache` ``on_event`` hook is told."""

    type: str  # fetch, refresh, changed, stale, error, persist (writing a disk copy failed)
    secret_name: str
    version_id: Optional[str] = None
    error: Optional[BaseException] = None


class _Entry:
    __slots__ = ("value", "fetched_at", "failed_at", "last_error", "due", "__weakref__")

    def __init__(self, value: SecretValue, fetched_at: float) -> None:
        self.value = value
        self.fetched_at = fetched_at
        self.failed_at: Optional[float] = None
        self.last_error: Optional[BaseException] = None
        # Set by the refresher thread when the interval has passed, so that a hit
        # reads no clock.
        self.due = False


class _Refresher:
    """One daemon thread per cache: marks entries due when their interval passes."""

    def __init__(self) -> None:
        self._heap: List[Any] = []
        self._cond = threading.Condition()
        self._n = 0
        self._thread: Optional[threading.Thread] = None

    def arm(self, at: float, entry: _Entry) -> None:
        with self._cond:
            self._n += 1
            heapq.heappush(self._heap, (at, self._n, weakref.ref(entry)))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="strongroom-secret-cache", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    e = heapq.heappop(self._heap)[2]()
                    if e is not None:
                        e.due = True
                if not self._heap:
                    # Nothing to mark: wait a while for work, then end (the next `arm`
                    # starts a new thread), so an idle or collected cache leaves none.
                    self._cond.wait(30.0)
                    if not self._heap:
                        self._thread = None
                        return
                    continue
                self._cond.wait(self._heap[0][0] - now)


def _wire_value(v: SecretValue, fetched_ms: int) -> bytes:
    """A value as its disk copy holds it: GetSecretValue's answer as Alibaba spells it,
    plus ``FetchedAt`` (docs/FORMAT.md §Secret cache entry)."""
    pascal = {snake: wire for wire, snake in _SNAKE.items()}
    out: Dict[str, Any] = {}
    for f in ("secret_name", "secret_type", "secret_data_type", "version_id", "create_time", "automatic_rotation",
              "extended_config", "rotation_interval", "next_rotation_date", "last_rotation_date"):
        x = getattr(v, f)
        if x is not None:
            out[pascal[f]] = x
    data = v.secret_data
    out["SecretData"] = base64.b64encode(data).decode("ascii") if isinstance(data, bytes) else data
    out["VersionStages"] = {"VersionStage": list(v.version_stages)}
    out["FetchedAt"] = fetched_ms
    return json.dumps(out).encode()


class _DiskCopies:
    """Sealed copies of a cache's values in a directory (see ``SecretCache``'s
    ``persist``): one 0600 file per secret and stage, written atomically, sealed by
    the core under the application's 32-byte key."""

    def __init__(self, opts: Mapping[str, Any], stage: str) -> None:
        if not isinstance(opts, Mapping) or "path" not in opts or "key" not in opts:
            raise InvalidParameterError("InvalidParameter.CachePath", 'invalid CachePath: persist is {"path": ..., "key": 32 bytes}')
        key = opts["key"]
        if not isinstance(key, (bytes, bytearray)) or len(key) != 32:
            raise InvalidParameterError("InvalidParameter.CacheKey", "invalid CacheKey: the secret cache key is 32 bytes (AES-256)")
        max_age = opts.get("max_age", 86400.0)
        if isinstance(max_age, bool) or not isinstance(max_age, (int, float)) or max_age < 0:
            raise InvalidParameterError("InvalidParameter.MaxAge", "invalid MaxAge: a non-negative number of seconds")
        self._key = bytes(key)
        self._max_age_ms = int(min(float(max_age) * 1000.0, 2.0**63))
        self._stage = stage
        self._dir = os.fspath(opts["path"])
        try:
            os.makedirs(self._dir, mode=0o700, exist_ok=True)
        except OSError as e:
            raise InvalidParameterError("InvalidParameter.CachePath", f"invalid CachePath: cannot create the directory {self._dir}: {e}") from None

    def _file(self, name: str) -> str:
        return os.path.join(self._dir, _native.secret_cache_file_name(name, self._stage))

    def save(self, v: SecretValue) -> None:
        sealed = _native.secret_cache_seal(self._key, v.secret_name, self._stage, _wire_value(v, int(time.time() * 1000)))
        path = self._file(v.secret_name)
        tmp = f"{path}.tmp-{_py_secrets.token_hex(8)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, sealed)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            d = os.open(self._dir, os.O_RDONLY)
            try:
                os.fsync(d)
            finally:
                os.close(d)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def load(self, name: str) -> Optional[SecretValue]:
        try:
            with open(self._file(name), "rb") as f:
                sealed = f.read()
        except OSError:
            return None  # no copy
        # Whether it may be served (opens, this secret's, young enough) is the core's rule.
        content = _native.secret_cache_open(self._key, name, self._stage, sealed, int(time.time() * 1000), self._max_age_ms)
        if content is None:
            return None
        try:
            return value(json.loads(content))
        except (ValueError, KeyError, TypeError):
            return None

    def remove(self, name: Optional[str]) -> None:
        names = [self._file(name)] if name is not None else [
            os.path.join(self._dir, f) for f in os.listdir(self._dir) if f.endswith(".srsc")
        ]
        for p in names:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass


class SecretCache:
    """A caching client over a :class:`strongroom.Kms` (the embedded one now, the
    gateway's later), like Alibaba's secret client: values kept in memory only; each
    served for ``refresh_interval`` seconds, then fetched again (a new ACSCurrent is
    picked up then, and :meth:`refresh` forces it); concurrent getters of one secret —
    threads included — share one fetch; when a refresh fails, the last good value is
    served for ``max_stale`` seconds with the error reported to ``on_event`` (and in
    :meth:`last_error`), then the error is raised.

    Values touch the disk only with ``persist={"path": dir, "key": key[, "max_age":
    seconds]}``: a sealed copy of each value fetched is kept in ``dir`` (0700; one 0600
    file per secret, written atomically), AES-256-GCM under ``key`` — 32 bytes the
    application keeps outside the KMS, since the copy exists for when the KMS cannot be
    reached. When a fetch fails and memory holds nothing (a restarted process), a copy
    younger than ``max_age`` (default 24 hours) is served as a stale value (the hook
    is told ``stale`` with the error). A copy that does not open is ignored;
    :meth:`invalidate` removes copies. The file format is the core's, so the Rust, Node
    and Python caches read each other's copies."""

    def __init__(
        self,
        kms: Any,
        *,
        refresh_interval: float = 60.0,
        max_stale: float = 300.0,
        version_stage: str = "ACSCurrent",
        on_event: Optional[Callable[[SecretCacheEvent], None]] = None,
        clock: Optional[Callable[[], float]] = None,
        persist: Optional[Mapping[str, Any]] = None,
    ) -> None:
        if not callable(getattr(kms, "get_secret_value", None)):
            raise InvalidParameterError("InvalidParameter.Kms", "invalid Kms: must be a Kms")
        for name, v in (("RefreshInterval", refresh_interval), ("MaxStale", max_stale)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise InvalidParameterError(f"InvalidParameter.{name}", f"invalid {name}: a non-negative number of seconds")
        self._kms = kms
        self._refresh = float(refresh_interval)
        self._stale = float(max_stale)
        self._stage = version_stage
        self._disk = _DiskCopies(persist, version_stage) if persist is not None else None
        self._on_event = on_event
        # An injected clock (tests): hits compare times. Otherwise a refresher thread
        # marks entries due and a hit is one dict lookup and one flag test.
        self._clocked = clock is not None
        self._clock: Callable[[], float] = clock if clock is not None else time.monotonic
        self._refresher = None if self._clocked else _Refresher()
        self._entries: Dict[str, _Entry] = {}
        self._lock = threading.Lock()
        # A fetch in flight per secret: its Event, and what it ended with (the value or
        # the exception) for the getters that waited on it.
        self._inflight: Dict[str, "tuple[threading.Event, List[Any]]"] = {}
        if not self._clocked:
            self.get = self._get_unclocked  # type: ignore[method-assign]

    def _get_unclocked(self, secret_name: str) -> SecretValue:
        e = self._entries.get(secret_name)
        if e is not None and not e.due:
            return e.value
        return self._fetch(secret_name)

    def _store(self, name: str, e: _Entry) -> None:
        self._entries[name] = e
        if self._refresher is not None:
            self._refresher.arm(time.monotonic() + self._refresh, e)

    def _emit(self, e: SecretCacheEvent) -> None:
        if self._on_event is not None:
            try:
                self._on_event(e)
            except Exception:  # a hook that raises does not change what is served
                pass

    def get(self, secret_name: str) -> SecretValue:
        """The secret's value (cached); see the class for when it is fetched.

        Example: ``cache.get("db/password").secret_data``
        """
        e = self._entries.get(secret_name)
        if e is not None and self._clock() - e.fetched_at < self._refresh:
            return e.value
        return self._fetch(secret_name)

    def refresh(self, secret_name: str) -> SecretValue:
        """Fetches now (sharing a fetch already running).

        Example: ``cache.refresh("db/password")``
        """
        return self._fetch(secret_name)

    def invalidate(self, secret_name: Optional[str] = None) -> None:
        """Forgets one secret, or all.

        Example: ``cache.invalidate("db/password")``
        """
        with self._lock:
            if secret_name is None:
                self._entries.clear()
            else:
                self._entries.pop(secret_name, None)
        if self._disk is not None:
            try:
                self._disk.remove(secret_name)
            except OSError as e:
                self._emit(SecretCacheEvent("persist", secret_name or "", error=e))

    def last_error(self, secret_name: str) -> Optional[BaseException]:
        """The error of the last failed refresh of a secret still served stale.

        Example: ``err = cache.last_error("db/password")``
        """
        e = self._entries.get(secret_name)
        return e.last_error if e is not None else None

    def _fetch(self, secret_name: str) -> SecretValue:
        with self._lock:
            running = self._inflight.get(secret_name)
            if running is None:
                done = threading.Event()
                outcome: List[Any] = []
                self._inflight[secret_name] = (done, outcome)
        if running is not None:
            # Another thread is fetching: wait for it and take what it got — its value,
            # or its error (so a failing backend sees one fetch, not one per getter).
            running[0].wait()
            got = running[1][0] if running[1] else None
            if isinstance(got, BaseException):
                raise got
            if got is not None:
                return got  # type: ignore[no-any-return]
            return self._fetch(secret_name)
        before = self._entries.get(secret_name)
        try:
            v = self._fetch_value(secret_name, before)
            outcome.append(v)
            return v
        except BaseException as err:
            outcome.append(err)
            raise
        finally:
            with self._lock:
                self._inflight.pop(secret_name, None)
            done.set()

    def _fetch_value(self, secret_name: str, before: Optional[_Entry]) -> SecretValue:
        try:
            v: SecretValue = self._kms.get_secret_value(secret_name=secret_name, version_stage=self._stage)
            if self._disk is not None:
                try:
                    self._disk.save(v)
                except Exception as e:  # the value is still served from memory
                    self._emit(SecretCacheEvent("persist", secret_name, v.version_id, e))
            self._store(secret_name, _Entry(v, self._clock()))
            self._emit(SecretCacheEvent("refresh" if before else "fetch", secret_name, v.version_id))
            if before is not None and before.value.version_id != v.version_id:
                self._emit(SecretCacheEvent("changed", secret_name, v.version_id))
            return v
        except Exception as err:
            now = self._clock()
            self._emit(SecretCacheEvent("error", secret_name, error=err))
            if before is not None:
                since = before.failed_at if before.failed_at is not None else now
                if now - since < self._stale:
                    stale = _Entry(before.value, now)
                    stale.failed_at = since
                    stale.last_error = err
                    self._store(secret_name, stale)
                    self._emit(SecretCacheEvent("stale", secret_name, before.value.version_id, err))
                    return before.value
                self._entries.pop(secret_name, None)
                raise
            # Nothing in memory (a restarted process): the disk copy, if asked for.
            copy = self._disk.load(secret_name) if self._disk is not None else None
            if copy is not None:
                stale = _Entry(copy, now)
                stale.failed_at = now
                stale.last_error = err
                self._store(secret_name, stale)
                self._emit(SecretCacheEvent("stale", secret_name, copy.version_id, err))
                return copy
            raise
