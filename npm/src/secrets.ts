// Secrets Manager in JS: each method is one action through the core's dispatch
// (`kms.call`, Alibaba's wire form), its answer turned into camelCase objects; and
// SecretCache, the caching client. No secret logic lives here.

import { InvalidParameterError, StrongroomError } from './api.js';

/** `kms.call`, as the secret methods use it. */
export type WireCall = (action: string, params: Record<string, unknown>) => Promise<Record<string, unknown>>;

export type SecretDataType = 'text' | 'binary';
export type SecretType = 'Generic' | 'Rds' | 'Redis' | 'RAMCredentials' | 'ECS';

/** What CreateSecret and RotateSecret answer. */
export interface SecretCreated {
  arn: string;
  secretName: string;
  versionId: string;
  secretType: SecretType;
  automaticRotation: 'Enabled' | 'Disabled';
  rotationInterval?: string;
  nextRotationDate?: string;
}

/**
 * GetSecretValue's answer. `secretData` is a string for text secrets and a
 * Uint8Array for binary ones. Logging it (console.log, util.inspect, JSON.stringify)
 * shows `[redacted]` instead of the value; the property itself is readable.
 */
export interface SecretValue {
  secretName: string;
  secretType: SecretType;
  secretData: string | Uint8Array;
  secretDataType: SecretDataType;
  versionId: string;
  versionStages: string[];
  createTime: string;
  extendedConfig?: string;
  automaticRotation: 'Enabled' | 'Disabled';
  rotationInterval?: string;
  nextRotationDate?: string;
  lastRotationDate?: string;
}

export interface SecretVersion {
  versionId: string;
  createTime: string;
  versionStages: string[];
}

export interface ListSecretVersionIdsResult {
  secretName: string;
  versionIds: SecretVersion[];
  totalCount: number;
  pageNumber: number;
  pageSize: number;
}

export interface SecretMetadata {
  arn: string;
  secretName: string;
  secretType: SecretType;
  description: string;
  encryptionKeyId: string;
  createTime: string;
  updateTime: string;
  plannedDeleteTime?: string;
  automaticRotation: 'Enabled' | 'Disabled';
  rotationInterval?: string;
  lastRotationDate?: string;
  nextRotationDate?: string;
  extendedConfig?: string;
  /** With `fetchTags`. */
  tags?: Record<string, string>;
}

export interface SecretListEntry {
  secretName: string;
  secretType: SecretType;
  createTime: string;
  updateTime: string;
  plannedDeleteTime?: string;
  tags?: Record<string, string>;
}

export interface ListSecretsResult {
  secrets: SecretListEntry[];
  totalCount: number;
  pageNumber: number;
  pageSize: number;
}

/** A ListSecrets filter: SecretName and Description match substrings, TagKey / TagValue exactly. */
export interface SecretFilter {
  key: 'SecretName' | 'Description' | 'TagKey' | 'TagValue';
  values: string[];
}

/** What a rotator is given at each step. */
export interface RotationStep {
  step: 'create' | 'set' | 'test';
  secretName: string;
  versionId: string;
  secretType: SecretType;
  extendedConfig: string | null;
  /** The new value (set and test). */
  value?: Uint8Array;
}

/**
 * Makes and installs a secret's next value: for `create` resolve to the new value
 * (string or Uint8Array); `set` installs it where it is used, `test` checks it. A throw
 * fails the step (`Rejected.RotationFailed`) and ACSCurrent stays where it was.
 */
export type SecretRotator = (step: RotationStep) => Promise<string | Uint8Array | void> | string | Uint8Array | void;


function invalid(name: string, why: string): InvalidParameterError {
  return new InvalidParameterError(`InvalidParameter.${name}`, `invalid ${name}: ${why}`);
}
function need(name: string, v: unknown): string {
  if (typeof v !== 'string') throw invalid(name, v === undefined || v === null ? 'required' : 'must be a string');
  return v;
}
function opt(name: string, v: unknown): string | undefined {
  return v === undefined || v === null ? undefined : need(name, v);
}
function base64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}
function unbase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
/** The value and its type as Alibaba's wire wants them. */
function data(v: unknown): { SecretData: string; SecretDataType: SecretDataType } {
  if (typeof v === 'string') return { SecretData: v, SecretDataType: 'text' };
  if (v instanceof Uint8Array) return { SecretData: base64(v), SecretDataType: 'binary' };
  throw invalid('SecretData', 'must be a string (text) or a Uint8Array (binary)');
}
export function tagsParam(tags: unknown): string | undefined {
  if (tags === undefined) return undefined;
  if (!tags || typeof tags !== 'object' || Array.isArray(tags)) throw invalid('Tags', 'must be an object of string values');
  return JSON.stringify(Object.entries(tags).map(([TagKey, TagValue]) => {
    if (typeof TagValue !== 'string') throw invalid('Tags', 'must be an object of string values');
    return { TagKey, TagValue };
  }));
}
function tagsOut(v: unknown): Record<string, string> | undefined {
  const list = (v as { Tag?: { TagKey: string; TagValue: string }[] } | undefined)?.Tag;
  if (!list) return undefined;
  return Object.fromEntries(list.map((t) => [t.TagKey, t.TagValue]));
}
function stagesOut(v: unknown): string[] {
  return ((v as { VersionStage?: string[] } | undefined)?.VersionStage ?? []).slice();
}
/** PascalCase keys → camelCase (one level), RequestId dropped. */
function camel<T>(o: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'RequestId') continue;
    out[k[0]!.toLowerCase() + k.slice(1)] = v;
  }
  return out as T;
}

export { redactValue } from './util.js';
import { redactValue } from './util.js';

export async function createSecret(
  call: WireCall,
  opts: {
    secretName: string;
    secretData: string | Uint8Array;
    versionId?: string;
    encryptionKeyId?: string;
    description?: string;
    tags?: Record<string, string>;
    secretType?: SecretType;
    extendedConfig?: Record<string, unknown> | string;
    enableAutomaticRotation?: boolean;
    rotationInterval?: string;
  },
): Promise<SecretCreated> {
  if (!opts || typeof opts !== 'object') throw invalid('SecretName', 'required');
  const r = await call('CreateSecret', {
    SecretName: need('SecretName', opts.secretName),
    VersionId: opt('VersionId', opts.versionId) ?? 'v1',
    ...data(opts.secretData),
    EncryptionKeyId: opt('EncryptionKeyId', opts.encryptionKeyId),
    Description: opt('Description', opts.description),
    Tags: tagsParam(opts.tags),
    SecretType: opt('SecretType', opts.secretType),
    ExtendedConfig: typeof opts.extendedConfig === 'object' ? JSON.stringify(opts.extendedConfig) : opt('ExtendedConfig', opts.extendedConfig),
    EnableAutomaticRotation: opts.enableAutomaticRotation,
    RotationInterval: opt('RotationInterval', opts.rotationInterval),
  });
  return camel<SecretCreated>(r);
}

export async function getSecretValue(
  call: WireCall,
  opts: { secretName: string; versionId?: string; versionStage?: string; fetchExtendedConfig?: boolean },
): Promise<SecretValue> {
  const r = await call('GetSecretValue', {
    SecretName: need('SecretName', opts?.secretName),
    VersionId: opt('VersionId', opts.versionId),
    VersionStage: opt('VersionStage', opts.versionStage),
    FetchExtendedConfig: opts.fetchExtendedConfig,
  });
  return valueFromWire(r);
}

function valueFromWire(r: Record<string, unknown>): SecretValue {
  const v = camel<SecretValue>(r);
  v.versionStages = stagesOut(r.VersionStages);
  if (v.secretDataType === 'binary') v.secretData = unbase64(r.SecretData as string);
  return redactValue(v, 'secretData');
}

export async function putSecretValue(
  call: WireCall,
  opts: { secretName: string; versionId: string; secretData: string | Uint8Array; versionStages?: string[] },
): Promise<{ secretName: string; versionId: string; versionStages: string[] }> {
  if (opts?.versionStages !== undefined && (!Array.isArray(opts.versionStages) || !opts.versionStages.every((s) => typeof s === 'string'))) {
    throw invalid('VersionStages', 'must be an array of strings');
  }
  const r = await call('PutSecretValue', {
    SecretName: need('SecretName', opts?.secretName),
    VersionId: need('VersionId', opts.versionId),
    ...data(opts.secretData),
    VersionStages: opts.versionStages ? JSON.stringify(opts.versionStages) : undefined,
  });
  return { secretName: r.SecretName as string, versionId: r.VersionId as string, versionStages: stagesOut(r.VersionStages) };
}

export async function updateSecretVersionStage(
  call: WireCall,
  opts: { secretName: string; versionStage: string; removeFromVersion?: string; moveToVersion?: string },
): Promise<void> {
  await call('UpdateSecretVersionStage', {
    SecretName: need('SecretName', opts?.secretName),
    VersionStage: need('VersionStage', opts.versionStage),
    RemoveFromVersion: opt('RemoveFromVersion', opts.removeFromVersion),
    MoveToVersion: opt('MoveToVersion', opts.moveToVersion),
  });
}

export async function listSecretVersionIds(
  call: WireCall,
  opts: { secretName: string; includeDeprecated?: boolean; pageNumber?: number; pageSize?: number },
): Promise<ListSecretVersionIdsResult> {
  const r = await call('ListSecretVersionIds', {
    SecretName: need('SecretName', opts?.secretName),
    IncludeDeprecated: opts.includeDeprecated,
    PageNumber: opts.pageNumber,
    PageSize: opts.pageSize,
  });
  const list = ((r.VersionIds as { VersionId?: Record<string, unknown>[] })?.VersionId ?? []).map((v) => ({
    versionId: v.VersionId as string,
    createTime: v.CreateTime as string,
    versionStages: stagesOut(v.VersionStages),
  }));
  return { secretName: r.SecretName as string, versionIds: list, totalCount: r.TotalCount as number, pageNumber: r.PageNumber as number, pageSize: r.PageSize as number };
}

export async function describeSecret(call: WireCall, opts: { secretName: string; fetchTags?: boolean }): Promise<SecretMetadata> {
  const r = await call('DescribeSecret', { SecretName: need('SecretName', opts?.secretName), FetchTags: opts.fetchTags });
  const m = camel<SecretMetadata>(r);
  m.tags = tagsOut(r.Tags);
  if (m.tags === undefined) delete m.tags;
  return m;
}

export async function listSecrets(
  call: WireCall,
  opts: { fetchTags?: boolean; pageNumber?: number; pageSize?: number; filters?: SecretFilter[] } = {},
): Promise<ListSecretsResult> {
  const r = await call('ListSecrets', {
    FetchTags: opts.fetchTags,
    PageNumber: opts.pageNumber,
    PageSize: opts.pageSize,
    Filters: opts.filters ? JSON.stringify(opts.filters.map((f) => ({ Key: f.key, Values: f.values }))) : undefined,
  });
  const list = ((r.SecretList as { Secret?: Record<string, unknown>[] })?.Secret ?? []).map((s) => {
    const e = camel<SecretListEntry>(s);
    e.tags = tagsOut(s.Tags);
    if (e.tags === undefined) delete e.tags;
    return e;
  });
  return { secrets: list, totalCount: r.TotalCount as number, pageNumber: r.PageNumber as number, pageSize: r.PageSize as number };
}

export async function updateSecret(
  call: WireCall,
  opts: { secretName: string; description?: string; customData?: Record<string, unknown> },
): Promise<void> {
  await call('UpdateSecret', {
    SecretName: need('SecretName', opts?.secretName),
    Description: opt('Description', opts.description),
    'ExtendedConfig.CustomData': opts.customData === undefined ? undefined : JSON.stringify(opts.customData),
  });
}

export async function deleteSecret(
  call: WireCall,
  opts: { secretName: string; recoveryWindowInDays?: number; forceDeleteWithoutRecovery?: boolean },
): Promise<{ secretName: string; plannedDeleteTime?: string }> {
  const r = await call('DeleteSecret', {
    SecretName: need('SecretName', opts?.secretName),
    RecoveryWindowInDays: opts.recoveryWindowInDays,
    ForceDeleteWithoutRecovery: opts.forceDeleteWithoutRecovery,
  });
  return camel(r);
}

export async function restoreSecret(call: WireCall, opts: { secretName: string }): Promise<void> {
  await call('RestoreSecret', { SecretName: need('SecretName', opts?.secretName) });
}

export async function rotateSecret(call: WireCall, opts: { secretName: string; versionId?: string }): Promise<SecretCreated> {
  return camel<SecretCreated>(await call('RotateSecret', { SecretName: need('SecretName', opts?.secretName), VersionId: opt('VersionId', opts.versionId) }));
}

export async function updateSecretRotationPolicy(
  call: WireCall,
  opts: { secretName: string; enableAutomaticRotation: boolean; rotationInterval?: string },
): Promise<void> {
  if (typeof opts?.enableAutomaticRotation !== 'boolean') throw invalid('EnableAutomaticRotation', 'must be true or false');
  await call('UpdateSecretRotationPolicy', {
    SecretName: need('SecretName', opts.secretName),
    EnableAutomaticRotation: opts.enableAutomaticRotation,
    RotationInterval: opt('RotationInterval', opts.rotationInterval),
  });
}

export async function tagSecret(call: WireCall, secretName: unknown, tags: unknown): Promise<void> {
  await call('TagResource', { SecretName: need('SecretName', secretName), Tags: tagsParam(tags) ?? '[]' });
}
export async function untagSecret(call: WireCall, secretName: unknown, tagKeys: unknown): Promise<void> {
  if (!Array.isArray(tagKeys) || !tagKeys.every((k) => typeof k === 'string')) throw invalid('TagKeys', 'must be an array of strings');
  await call('UntagResource', { SecretName: need('SecretName', secretName), TagKeys: JSON.stringify(tagKeys) });
}
export async function listSecretTags(call: WireCall, secretName: unknown): Promise<{ tagKey: string; tagValue: string }[]> {
  const r = await call('ListResourceTags', { SecretName: need('SecretName', secretName) });
  return ((r.Tags as { Tag?: { TagKey: string; TagValue: string }[] })?.Tag ?? []).map((t) => ({ tagKey: t.TagKey, tagValue: t.TagValue }));
}

/** What SecretCache hooks are told. */
export interface SecretCacheEvent {
  /** `persist`: writing or removing a disk copy failed (the value is still served). */
  type: 'fetch' | 'refresh' | 'changed' | 'stale' | 'error' | 'persist';
  secretName: string;
  versionId?: string;
  error?: StrongroomError | Error;
}

export interface SecretCacheOptions {
  /** How long a cached value is served before it is fetched again (ms; default 60 000). */
  refreshIntervalMs?: number;
  /** After a failed refresh, how long the last good value is still served (ms; default 300 000). */
  maxStaleMs?: number;
  /** The stage to read (default ACSCurrent). */
  versionStage?: string;
  /** Told of fetches, refreshes, value changes (a new versionId), stale serving and errors. */
  onEvent?: (e: SecretCacheEvent) => void;
  /** The clock (ms), for tests. */
  now?: () => number;
  /**
   * Node only: also keep a sealed copy of every value fetched in `path` (0700; one 0600
   * file per secret, written atomically), AES-256-GCM under `key` — 32 bytes the
   * application keeps outside the KMS, since the copy exists for when the KMS cannot be
   * reached. When a fetch fails and memory holds nothing (a restarted process), a copy
   * younger than `maxAgeMs` (default 24 hours) is served as a stale value (`onEvent`
   * is told `stale` with the error). A copy that does not open is ignored;
   * `invalidate` removes copies. The format is the core's (docs/FORMAT.md §Secret
   * cache entry): the Rust, Node and Python caches read each other's copies.
   */
  persist?: { path: string; key: Uint8Array; maxAgeMs?: number };
}

/** Sealed disk copies for one cache (the Node entry point provides them). */
export interface SecretCacheDisk {
  /** Writes a copy durably (temp file, fsync, rename, directory fsync). */
  save(secretName: string, content: Uint8Array): Promise<void>;
  /** The opened content if the copy may be served at `nowMs` (the core's rule: it
   * opens, is this secret's, and is younger than `maxAgeMs`), else undefined. */
  load(secretName: string, nowMs: number, maxAgeMs: number): Uint8Array | undefined;
  remove(secretName?: string): void;
}
let diskCopies: ((path: string, key: Uint8Array, stage: string) => SecretCacheDisk) | undefined;
/** Called by the Node entry point: how a SecretCache keeps its sealed disk copies. */
export function setSecretCacheDisk(f: (path: string, key: Uint8Array, stage: string) => SecretCacheDisk): void {
  diskCopies = f;
}

/** A value as its disk copy holds it: GetSecretValue's answer as Alibaba spells it,
 * plus FetchedAt (docs/FORMAT.md §Secret cache entry). */
function copyContent(v: SecretValue, fetchedAt: number): Uint8Array {
  const o: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined || k === 'secretData' || k === 'versionStages') continue;
    o[k[0]!.toUpperCase() + k.slice(1)] = x;
  }
  o.SecretData = v.secretData instanceof Uint8Array ? base64(v.secretData) : v.secretData;
  o.VersionStages = { VersionStage: [...v.versionStages] };
  o.FetchedAt = fetchedAt;
  return new TextEncoder().encode(JSON.stringify(o));
}

interface Entry {
  value: SecretValue;
  fetchedAt: number;
  /** The refresh interval has passed (set by a timer, so a hit reads no clock). */
  due: boolean;
  /** The last refresh failed at… (stale since). */
  failedAt?: number;
  lastError?: unknown;
}

/**
 * A caching client over a Kms (the embedded one now, the gateway's later), like
 * Alibaba's secret client: values kept in memory (on disk only with `persist`, sealed); each served for
 * `refreshIntervalMs`, then fetched again (a new ACSCurrent is picked up then, and
 * `refresh()` forces it); concurrent getters of one secret share one fetch; when a
 * refresh fails, the last good value is served for `maxStaleMs` with the error
 * reported to `onEvent` (and in `lastError()`), then the error is thrown.
 */
export class SecretCache {
  readonly #get: (name: string, stage: string) => Promise<SecretValue>;
  readonly #entries = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<SecretValue>>();
  readonly #refreshMs: number;
  readonly #staleMs: number;
  readonly #stage: string;
  readonly #onEvent?: (e: SecretCacheEvent) => void;
  readonly #now: () => number;
  /** An injected clock (tests): hits compare times instead of waiting for timers. */
  readonly #clocked: boolean;
  readonly #disk?: SecretCacheDisk;
  readonly #diskMaxAgeMs: number = 0;

  constructor(kms: { getSecretValue(opts: { secretName: string; versionStage?: string }): Promise<SecretValue> }, opts: SecretCacheOptions = {}) {
    if (!kms || typeof kms.getSecretValue !== 'function') throw invalid('Kms', 'must be a Kms');
    const ms = (name: string, v: unknown, d: number): number => {
      if (v === undefined) return d;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw invalid(name, 'must be a non-negative number of milliseconds');
      return v;
    };
    this.#refreshMs = ms('RefreshIntervalMs', opts.refreshIntervalMs, 60_000);
    this.#staleMs = ms('MaxStaleMs', opts.maxStaleMs, 300_000);
    this.#stage = opts.versionStage ?? 'ACSCurrent';
    this.#onEvent = opts.onEvent;
    this.#now = opts.now ?? Date.now;
    this.#clocked = opts.now !== undefined;
    this.#get = (secretName, versionStage) => kms.getSecretValue({ secretName, versionStage });
    if (opts.persist !== undefined) {
      const p = opts.persist;
      if (!p || typeof p !== 'object' || typeof p.path !== 'string') throw invalid('CachePath', 'persist is { path, key }');
      if (!(p.key instanceof Uint8Array) || p.key.length !== 32) throw invalid('CacheKey', 'the secret cache key is 32 bytes (AES-256)');
      if (!diskCopies) throw invalid('Platform', 'persist keeps files: it needs Node');
      this.#diskMaxAgeMs = ms('MaxAgeMs', p.maxAgeMs, 86_400_000);
      this.#disk = diskCopies(p.path, p.key, this.#stage);
    }
  }

  /** A disk copy of a secret that may be served now (it opens, is this secret's and
   * is young enough: the core decides, in `load`). */
  #loadCopy(secretName: string): SecretValue | undefined {
    const content = this.#disk?.load(secretName, Date.now(), this.#diskMaxAgeMs);
    if (!content) return undefined;
    try {
      const r = JSON.parse(new TextDecoder().decode(content)) as Record<string, unknown>;
      delete r.FetchedAt;
      return valueFromWire(r);
    } catch {
      return undefined;
    }
  }

  #emit(e: SecretCacheEvent): void {
    try {
      this.#onEvent?.(e);
    } catch {
      // A hook that throws does not change what the cache serves.
    }
  }

  /**
   * The secret's value (cached); see the class for when it is fetched. A hit returns
   * the value itself (no Promise, no clock read: a timer marks the entry due when its
   * interval passes); `await` works on either.
   * @example const { secretData } = await cache.get('db/password');
   */
  get(secretName: string): Promise<SecretValue> | SecretValue {
    const e = this.#entries.get(secretName);
    if (e !== undefined && !e.due && (!this.#clocked || this.#now() - e.fetchedAt < this.#refreshMs)) return e.value;
    return this.#fetch(secretName);
  }

  /** Stores an entry and arms its refresh timer (unref'd: it never keeps a process alive). */
  #store(secretName: string, e: Entry): void {
    this.#entries.set(secretName, e);
    if (this.#clocked) return;
    const t = setTimeout(() => {
      e.due = true;
    }, this.#refreshMs) as unknown as { unref?: () => void };
    t.unref?.();
  }

  /** Fetches now (sharing a fetch already running).
   * @example await cache.refresh('db/password');
   */
  refresh(secretName: string): Promise<SecretValue> {
    return this.#fetch(secretName);
  }

  /** Forgets one secret, or all.
   * @example cache.invalidate('db/password');
   */
  invalidate(secretName?: string): void {
    if (secretName === undefined) this.#entries.clear();
    else this.#entries.delete(secretName);
    try {
      this.#disk?.remove(secretName);
    } catch (err) {
      this.#emit({ type: 'persist', secretName: secretName ?? '', error: err as Error });
    }
  }

  /** The error of the last failed refresh of a secret still served stale, if any.
   * @example const err = cache.lastError('db/password');
   */
  lastError(secretName: string): unknown {
    return this.#entries.get(secretName)?.lastError;
  }

  #fetch(secretName: string): Promise<SecretValue> {
    const running = this.#inflight.get(secretName);
    if (running) return running;
    const p = (async () => {
      const before = this.#entries.get(secretName);
      try {
        const v = await this.#get(secretName, this.#stage);
        if (this.#disk) {
          try {
            await this.#disk.save(secretName, copyContent(v, Date.now()));
          } catch (err) {
            this.#emit({ type: 'persist', secretName, versionId: v.versionId, error: err as Error });
          }
        }
        this.#store(secretName, { value: v, fetchedAt: this.#now(), due: false });
        this.#emit({ type: before ? 'refresh' : 'fetch', secretName, versionId: v.versionId });
        if (before && before.value.versionId !== v.versionId) this.#emit({ type: 'changed', secretName, versionId: v.versionId });
        return v;
      } catch (err) {
        const now = this.#now();
        this.#emit({ type: 'error', secretName, error: err as Error });
        if (before) {
          const since = before.failedAt ?? now;
          if (now - since < this.#staleMs) {
            // Served stale; the next attempt comes after another refresh interval.
            this.#store(secretName, { value: before.value, fetchedAt: now, due: false, failedAt: since, lastError: err });
            this.#emit({ type: 'stale', secretName, versionId: before.value.versionId, error: err as Error });
            return before.value;
          }
          this.#entries.delete(secretName);
          throw err;
        }
        // Nothing in memory (a restarted process): the disk copy, if asked for.
        const copy = this.#loadCopy(secretName);
        if (copy) {
          this.#store(secretName, { value: copy, fetchedAt: now, due: false, failedAt: now, lastError: err });
          this.#emit({ type: 'stale', secretName, versionId: copy.versionId, error: err as Error });
          return copy;
        }
        throw err;
      } finally {
        this.#inflight.delete(secretName);
      }
    })();
    this.#inflight.set(secretName, p);
    return p;
  }
}
