// The public JS API of strongroom: a thin facade over the wasm core. It converts
// camelCase option objects to the native calls and native `{ code, message }`
// rejections to StrongroomError subclasses. No KMS logic lives here; envelope frames
// are encrypted on the platform's AES-GCM (envelope.ts).

import { FrameReader, FrameWriter, concat, wasmCipher, webCryptoCipher } from './envelope.js';
import type { FrameCipher, FrameCipherFactory, SignedReading, SignedWriting } from './envelope.js';
import { parseEnvelopeHeader } from './decrypt.js';
import * as secrets from './secrets.js';
import { callSync, convert, InvalidParameterError } from './errors.js';
import { base64, fromWire, pemDer, unbase64 } from './util.js';
export { StrongroomError, InvalidParameterError, KeyNotFoundError, KeyStateError, InvalidCiphertextError, WrongPassphraseError, AccessDeniedError, ResourceNotFoundError, ResourceStateError, StoreError, BackendError, RejectedError } from './errors.js';
import type {
  ListSecretsResult, ListSecretVersionIdsResult, SecretCreated, SecretFilter, SecretMetadata, SecretRotator, SecretType, SecretValue,
} from './secrets.js';
export { SecretCache } from './secrets.js';
export type {
  SecretDataType,
  SecretType,
  SecretCreated,
  SecretValue,
  SecretVersion,
  ListSecretVersionIdsResult,
  SecretMetadata,
  SecretListEntry,
  ListSecretsResult,
  SecretFilter,
  RotationStep,
  SecretRotator,
  SecretCacheEvent,
  SecretCacheOptions,
} from './secrets.js';
export type { FrameCipher, FrameCipherFactory } from './envelope.js';

/** Bytes in, bytes out: a remote-backend transport (e.g. a `fetch` to a gateway). */
export type Transport = (request: Uint8Array) => Promise<Uint8Array> | Uint8Array;
/** EncryptionContext: string pairs bound as AAD (order does not matter). */
export type EncryptionContext = Record<string, string>;

/** IndexedDB audit writes a call started: awaited before that call answers. */
const auditWrites: Promise<void>[] = [];

async function call<T>(p: () => Promise<T>): Promise<T> {
  let out: T;
  try {
    out = await p();
  } catch (e) {
    if (auditWrites.length) await Promise.allSettled(auditWrites.splice(0));
    throw convert(e);
  }
  if (auditWrites.length) {
    const r = await Promise.allSettled(auditWrites.splice(0));
    const bad = r.find((x) => x.status === 'rejected') as PromiseRejectedResult | undefined;
    if (bad) throw convert({ code: 'Rejected.AuditFailed', kind: 'Store', message: `the audit trail cannot be written: ${bad.reason?.message ?? bad.reason}` });
  }
  return out;
}

function invalid(name: string, why: string): InvalidParameterError {
  return new InvalidParameterError(`InvalidParameter.${name}`, `invalid ${name}: ${why}`);
}
function bytes(name: string, v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  throw invalid(name, 'must be a Uint8Array');
}
function u32(name: string, v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) return v;
  throw invalid(name, 'must be a non-negative integer');
}
function str(name: string, v: unknown, required = false): string | undefined {
  if (v === undefined || v === null) {
    if (required) throw invalid(name, 'required');
    return undefined;
  }
  if (typeof v === 'string') return v;
  throw invalid(name, 'must be a string');
}

/** GenerateDataKeyPair(WithoutPlaintext)'s parameters. */
function pairParams(opts: GenerateDataKeyPairOptions): Record<string, unknown> {
  return {
    KeyId: str('KeyId', opts?.keyId, true),
    KeyPairSpec: str('KeyPairSpec', opts.keyPairSpec, true),
    KeyFormat: str('KeyFormat', opts.keyFormat),
    EncryptionContext: ctx(opts.encryptionContext),
  };
}

function ctx(v: unknown): EncryptionContext | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string'))
    throw invalid('EncryptionContext', 'must be an object of string values');
  return v as EncryptionContext;
}

/** One ListKeys filter (Alibaba's `{"Key": …, "Values": […]}`). */
export interface KeyFilter {
  key: string;
  values: string[];
}

/** An OpenBao / Vault transit engine that holds a store's master keys. */
export interface TransitOptions {
  /** `https://host:port` of OpenBao / Vault (`http://` on loopback). */
  address: string;
  /** The token (`X-Vault-Token`). */
  token: string;
  /** The transit engine's mount path (default `transit`). */
  mount?: string;
  /** Prefix of the transit keys' names (default `strongroom-`). */
  keyPrefix?: string;
  /** The `fetch` to send with (default: the platform's). */
  fetch?: typeof fetch;
  /** Per-request time limit, ms (default 30,000). */
  timeoutMs?: number;
}

/** Where `Kms.connect` finds its gateway and who it is there. */
export interface ConnectOptions {
  /** `https://host[:port]` (or `http://` for a gateway on loopback). */
  endpoint: string;
  /** An AccessKeyId: a RAM user's, or the temporary one from AssumeRole. */
  accessKeyId: string;
  /** Its AccessKeySecret. */
  accessKeySecret: string;
  /** The STS SecurityToken that comes with AssumeRole's credentials. */
  securityToken?: string;
  /** The `fetch` to send with (default: the platform's). */
  fetch?: typeof fetch;
  /** Per-request time limit, ms (default 30,000). */
  timeoutMs?: number;
  /** How a request the gateway refused for load (`Throttling.*`, `ServiceUnavailable`:
   * answered before the action ran) is resent — after the wait the gateway asks for,
   * else `baseDelayMs` doubled per attempt up to `maxDelayMs`, each up to half again at
   * random. Defaults: 4 attempts, 100 ms, 5,000 ms; `maxAttempts: 1` never resends. */
  retry?: RetryOptions;
}

/** `ConnectOptions.retry`. */
export interface RetryOptions {
  /** Attempts in all, the first included: 1 to 10 (default 4). */
  maxAttempts?: number;
  /** The first wait when the gateway names none, ms (default 100). */
  baseDelayMs?: number;
  /** The longest wait, ms: at most 60,000 (default 5,000). */
  maxDelayMs?: number;
}

/** What the store holds (`Kms.storeInfo`). */
export interface StoreInfo {
  /** 2: journal store (docs/FORMAT.md §Store). */
  formatVersion: number;
  /** How many times the store was compacted (rewritten whole). */
  generation: number;
  snapshotBytes: number;
  /** Journal records after the snapshot. */
  journalRecords: number;
  journalBytes: number;
  /** Bytes of an unacknowledged record cut short by a crash, dropped on open. */
  tornBytes: number;
}

export interface KeyMetadata {
  keyId: string;
  arn: string;
  creationDate: string;
  creator: string;
  description: string;
  keyUsage: 'ENCRYPT/DECRYPT' | 'SIGN/VERIFY';
  keyState: 'Enabled' | 'Disabled' | 'PendingDeletion' | 'PendingImport';
  keySpec: KeySpec;
  origin: 'Aliyun_KMS' | 'EXTERNAL';
  protectionLevel: 'SOFTWARE' | 'HSM';
  primaryKeyVersion: string;
  deleteDate?: string;
  automaticRotation: 'Enabled' | 'Disabled';
  rotationInterval?: string;
  lastRotationDate?: string;
  nextRotationDate?: string;
  deletionProtection: 'Enabled' | 'Disabled';
  deletionProtectionDescription?: string;
  /** When imported key material expires (an EXTERNAL key imported on a native build). */
  materialExpireTime?: string;
}
export interface AliasEntry { aliasName: string; aliasArn: string; keyId: string }
export interface ListAliasesResult { aliases: AliasEntry[]; totalCount: number; pageNumber: number; pageSize: number }
export interface Tag { tagKey: string; tagValue: string }
export interface KeyVersion { keyId: string; keyVersionId: string; creationDate: string }
export interface ListKeyVersionsResult { keyVersions: KeyVersion[]; totalCount: number; pageNumber: number; pageSize: number }
export interface ReEncryptResult { keyId: string; keyVersionId: string; sourceKeyId: string; sourceKeyVersionId: string; ciphertextBlob: Uint8Array }
export interface CreateKeyOptions {
  keySpec?: KeySpec;
  keyUsage?: 'ENCRYPT/DECRYPT' | 'SIGN/VERIFY';
  description?: string;
  origin?: 'Aliyun_KMS' | 'EXTERNAL';
  protectionLevel?: 'SOFTWARE' | 'HSM';
}
export interface KeyListEntry { keyId: string; keyArn: string }
export interface ListKeysResult {
  keys: KeyListEntry[];
  totalCount: number;
  pageNumber: number;
  pageSize: number;
}
/** What `Kms.onCall` hooks receive for every action. */
export interface CallRecord {
  principal: string;
  requestId: string;
  /** Alibaba's action name (`Encrypt`, `DecryptEnvelope`, …). */
  action: string;
  /** The ARNs of the keys and aliases the call resolved, in order. */
  resources: string[];
  /** `null` on success, else the error's stable code. */
  code: string | null;
}
export interface EncryptResult { keyId: string; keyVersionId: string; ciphertextBlob: Uint8Array }
export interface DecryptResult { keyId: string; keyVersionId: string; plaintext: Uint8Array }
export interface DataKeyResult { keyId: string; keyVersionId: string; plaintext: Uint8Array; ciphertextBlob: Uint8Array }
export interface DataKeyWithoutPlaintextResult { keyId: string; keyVersionId: string; ciphertextBlob: Uint8Array }
/** RSA_2048/3072/4096 (ENCRYPT/DECRYPT or SIGN/VERIFY), EC_P256 / EC_P256K (SIGN/VERIFY). */
export type AsymmetricKeySpec = 'RSA_2048' | 'RSA_3072' | 'RSA_4096' | 'EC_P256' | 'EC_P256K';
/** Every KeySpec (a typo does not type-check). */
export type KeySpec = 'Aliyun_AES_256' | 'Aliyun_AES_192' | 'Aliyun_AES_128' | AsymmetricKeySpec;
export type SigningAlgorithm = 'RSA_PSS_SHA_256' | 'RSA_PKCS1_SHA_256' | 'ECDSA_SHA_256';
export type EncryptionAlgorithm = 'RSAES_OAEP_SHA_256' | 'RSAES_OAEP_SHA_1';
export interface PublicKeyResult { keyId: string; keyVersionId: string; publicKey: string; publicKeyDer: Uint8Array }
/** Sign / verify input: a 32-byte SHA-256 `digest` (as Alibaba takes it) or a `message` hashed for you. */
export interface SignOptions {
  keyId: string;
  algorithm: SigningAlgorithm;
  digest?: Uint8Array;
  message?: Uint8Array;
  keyVersionId?: string;
}
export interface SignResult { keyId: string; keyVersionId: string; value: Uint8Array }
export interface VerifyResult { keyId: string; keyVersionId: string; value: boolean }
export interface AsymmetricEncryptResult { keyId: string; keyVersionId: string; ciphertextBlob: Uint8Array }
export interface AsymmetricDecryptResult { keyId: string; keyVersionId: string; plaintext: Uint8Array }
export type WrappingAlgorithm = 'RSAES_OAEP_SHA_256' | 'RSAES_OAEP_SHA_1' | 'RSAES_PKCS1_V1_5';
export interface ExportDataKeyResult { keyId: string; keyVersionId: string; exportedDataKey: Uint8Array }
export interface GenerateAndExportDataKeyResult extends ExportDataKeyResult { ciphertextBlob: Uint8Array }
export interface ImportParameters { keyId: string; importToken: string; publicKey: Uint8Array; tokenExpireTime: string }
export interface GenerateDataKeyOptions {
  keyId: string;
  keySpec?: 'AES_256' | 'AES_128';
  numberOfBytes?: number;
  encryptionContext?: EncryptionContext;
}
/** GenerateDataKeyPair: the pair's spec, the format of both keys (PEM text, the default, or DER). */
export interface GenerateDataKeyPairOptions {
  keyId: string;
  keyPairSpec: AsymmetricKeySpec;
  keyFormat?: 'PEM' | 'DER';
  encryptionContext?: EncryptionContext;
}
/** A data key pair without its plaintext private key: the private key (PKCS#8) as a ciphertext blob under the CMK, the public key (SubjectPublicKeyInfo); PEM text bytes or DER. */
export interface DataKeyPairWithoutPlaintextResult {
  keyId: string;
  keyVersionId: string;
  keyPairSpec: AsymmetricKeySpec;
  privateKeyCiphertextBlob: Uint8Array;
  publicKey: Uint8Array;
}
/** A data key pair with its private key (PKCS#8; logged as `[redacted]`). */
export interface DataKeyPairResult extends DataKeyPairWithoutPlaintextResult { privateKeyPlaintext: Uint8Array }
/** ReEncryptEnvelope's answer: the whole new message, and its parts. */
export interface ReEncryptEnvelopeResult {
  /** The new message: `header` followed by the old message from byte `replacedLength` on. */
  ciphertext: Uint8Array;
  header: Uint8Array;
  replacedLength: number;
  sourceKeyId: string;
  sourceKeyVersionId: string;
  /** The new header's recipients, in order. */
  keyIds: string[];
}
/** A secret version whose value did not open (VerifyStore). */
export interface StoreProblem { secretName: string; versionId: string; code: string; message: string }
/** A key version whose material did not answer VerifyStore's probe (an object a
 * PKCS#11 token no longer holds: `Forbidden.KeyNotFound`; a backend that cannot be
 * reached: `Rejected.BackendUnavailable`; an answer that does not round-trip:
 * `Rejected.BackendProtocol`). */
export interface KeyProblem { keyId: string; keyVersionId: string; code: string; message: string }
/** VerifyStore's answer: secret values opened, key versions probed in their backend. */
export interface VerifyStoreResult {
  keys: number; secretVersions: number; valuesOpened: number; problems: StoreProblem[];
  keyVersions: number; keyVersionsVerified: number; keyProblems: KeyProblem[];
}
export interface OpenOptions {
  /** A store file (Node only). */
  path?: string;
  /** A store kept in the IndexedDB database of this name (browsers). */
  indexedDb?: string;
  /** A sealed store image, e.g. fetched in a browser. Changes stay in memory. */
  image?: Uint8Array;
  passphrase: string;
  transport?: Transport;
  /** The client key `transport`'s requests are authenticated with (wire protocol
   * version 2; `BackendServer.createClient()` makes one). Without it the transport
   * speaks version 1, which servers refuse unless told otherwise. */
  clientKey?: ClientKey;
  /** Master keys in an OpenBao / Vault transit engine (over `fetch`): generated and
   * used there, never in this process. Not with `transport`. */
  transit?: TransitOptions;
  /** Run RSA (sign from a message, OAEP decrypt) and P-256 (sign from a message)
   * private-key operations on the platform's WebCrypto — native, constant-time code —
   * instead of the wasm core's pure-Rust RSA / ECDSA. Default true where WebCrypto
   * exists. Signing a digest, secp256k1 and everything public stay in wasm. */
  platformCrypto?: boolean;
  /** Act as the principal these credentials name (a RAM user's AccessKey, or
   * AssumeRole's temporary credentials): every call is then allowed only what its
   * policies allow. The store's owner otherwise. */
  credentials?: Credentials;
  /** The audit level (docs/AUDIT.md) unless the store set its own with SetAuditLevel:
   * `'off'`, `'management'` (default for file stores) or `'all'`. A file store's trail
   * is `<path>.audit`; an IndexedDB store's, when `audit` is given, the database
   * `<name>.audit` (`Kms.readAuditTrail`); other stores write one only to `onAudit`. */
  audit?: AuditLevel;
  /** Every audit event durable before its call resolves (default: management events
   * only; the rest within 1 s). */
  auditStrict?: boolean;
  /** Receives the audit trail (whole JSON lines) instead of, or — for memory, image and
   * IndexedDB stores — as the only, sink. */
  onAudit?: (lines: string) => void;
}

/** An AccessKey pair, or AssumeRole's temporary credentials. */
export interface Credentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
}

/** `off`, `management` or `all`. */
export type AuditLevel = 'off' | 'management' | 'all';

/** What `verifyAudit` found. */
export interface AuditReport {
  /** No record edited, removed, reordered or inserted; every digest signature good. */
  intact: boolean;
  events: number;
  digests: number;
  /** Ends with a final digest (else its writer runs, crashed, or its tail was cut). */
  closed: boolean;
  unsignedTail: number;
  lastHash: string | null;
  problems: string[];
}

/** Checks an audit trail's text with the audit key's public key (PEM, from
 * `kms.auditPublicKey()`); `after`: the previous file's `lastHash` for a rotated trail.
 * @example const report = await verifyAudit(trailText, await kms.auditPublicKey());
 */
export async function verifyAudit(text: string, publicKey: string | Uint8Array, opts: { after?: string } = {}): Promise<AuditReport> {
  const n = await native();
  const pk = typeof publicKey === 'string' ? new TextEncoder().encode(publicKey) : bytes('PublicKey', publicKey);
  return callSync(() => n.verifyAudit(str('Text', text, true)!, pk, opts.after) as AuditReport);
}

export interface EncryptEnvelopeOptions {
  /** CMKs (KeyId, alias or ARN) that each wrap the data key: 1 to 16; any one decrypts. */
  keyIds: string[];
  plaintext: Uint8Array;
  encryptionContext?: EncryptionContext;
  /** Plaintext bytes per frame (default for encryptEnvelope 1048576 in Node and 262144 in browsers, 262144 for streams; at most 16 MiB). */
  frameLength?: number;
  /** Sign the message (suite 0x0002) with this EC_P256 SIGN/VERIFY key (authorised as
   * AsymmetricSign): readers verify it and report the signer. */
  signingKeyId?: string;
}
export interface EnvelopeStreamOptions {
  keyIds: string[];
  encryptionContext?: EncryptionContext;
  frameLength?: number;
  /** As for encryptEnvelope: the signature is appended when the stream ends. */
  signingKeyId?: string;
}
export interface DecryptEnvelopeOptions {
  ciphertext: Uint8Array;
  /** When given, the message's context must equal it (`InvalidCiphertext.ContextMismatch`). */
  encryptionContext?: EncryptionContext;
  /** When given, the message's context must hold these pairs; others are allowed
   * (`InvalidCiphertext.ContextMismatch` otherwise, before any plaintext). */
  requiredEncryptionContext?: EncryptionContext;
  /** When given, the message must be signed by this key of the store (KeyId, alias
   * or ARN): `InvalidCiphertext.SignerMismatch` otherwise, before any key is used. */
  requiredSigner?: string;
}
/** The context checks of a streamed decrypt (see DecryptEnvelopeOptions). */
export interface DecryptStreamOptions {
  encryptionContext?: EncryptionContext;
  requiredEncryptionContext?: EncryptionContext;
  requiredSigner?: string;
}
/** Who signed a message (suite 0x0002): the signature verified with `publicKey`;
 * `known` when this store holds that key version with that public key. */
export interface EnvelopeSigner {
  keyId: string;
  keyVersionId: string;
  publicKey: Uint8Array;
  known: boolean;
}
/** Which recipient opened a message, and what it was bound to. */
export interface EnvelopeInfo {
  keyId: string;
  keyVersionId: string;
  encryptionContext: EncryptionContext;
  messageId: Uint8Array;
  /** A signed message's signer (its signature verified); absent for unsigned ones. */
  signer?: EnvelopeSigner;
}
export interface DecryptEnvelopeResult extends EnvelopeInfo { plaintext: Uint8Array }
export interface DataKeyCacheOptions { maxAgeMs?: number; maxMessages?: number; maxBytes?: number; capacity?: number }

/** A `TransformStream` of envelope bytes to plaintext; `info` resolves once the header
 * has been authenticated. Plaintext of a frame is enqueued only after it verifies;
 * if the stream errors later, discard what was read. */
export interface EnvelopeDecryptStream extends TransformStream<Uint8Array, Uint8Array> {
  readonly info: Promise<EnvelopeInfo>;
}

/** The largest header a valid message can have (docs/FORMAT.md). */
const MAX_HEADER_LEN = 4 + 1 + 2 + 32 + 2 + 65535 + 4 + 2 + 16 * (3 + 65535) + (1 + 255 + 1 + 255 + 2 + 1024) + 32 + 16;

/** A Node `stream.Duplex` (typed loosely so browser users need no Node types). */
export interface NodeDuplex {
  /** As `stream.Readable#pipe`. */
  pipe<T>(destination: T, options?: { end?: boolean }): T;
  /** As `EventEmitter#on` ('data', 'error', 'finish', …). */
  on(event: string, listener: (...args: any[]) => void): this;
}

function keyIdList(v: unknown): string[] {
  if (!Array.isArray(v) || v.some((k) => typeof k !== 'string')) throw invalid('KeyIds', 'must be an array of KeyIds or aliases');
  return v as string[];
}

/* eslint-disable @typescript-eslint/no-explicit-any */
/** What an entry point (node / browser) provides. @internal */
export interface Platform {
  native(): Promise<any>;
  /** AES-256-GCM for envelope frames (node:crypto, WebCrypto); the wasm core's otherwise. */
  frameCipher?: FrameCipherFactory;
  /** The frame length `encryptEnvelope` asks for when the caller names none (else the
   * core's one-shot default, 1 MiB). Browsers: 256 KiB, so WebCrypto seals several
   * frames at once. */
  oneShotFrameLength?: number;
  /** Opens (creating, 0600) the audit trail file at `path`: cuts off a record a crash
   * left torn; `append` writes whole lines, `sync` makes them durable (Node only). */
  openAuditFile?(path: string): {
    lastLine: string | undefined;
    append: (lines: string) => void;
    sync: () => void;
    close: () => void;
  };
  /** Opens the audit trail of an IndexedDB store (browsers). */
  openIndexedDbAudit?(name: string): Promise<{
    lastLine: string | undefined;
    append: (lines: string) => Promise<void>;
    close: () => void;
  }>;
  /** Reads the audit trail of an IndexedDB store (browsers). */
  readIndexedDbAudit?(name: string): Promise<string>;
  /** Wraps a web TransformStream as a Node Duplex (Node only). */
  toNodeDuplex?(t: TransformStream<Uint8Array, Uint8Array>): unknown;
  /** Reads a store file and returns its image (undefined if none), a durable whole-store
   * saver, and the journal's append (not yet durable) and sync (durable; shared). */
  openPath?(path: string): Promise<{
    image: Uint8Array | undefined;
    save: (image: Uint8Array) => Promise<void>;
    append?: (at: number, record: Uint8Array) => Promise<void>;
    sync?: () => Promise<void>;
    /** The values file beside the store (docs/FORMAT.md §Values file): append a
     * sealed value (answers its offset; durable after `sync`), read or zero a span. */
    values?: {
      append: (value: Uint8Array) => Promise<number>;
      sync: () => Promise<void>;
      read: (offset: number, len: number) => Promise<Uint8Array>;
      erase: (offset: number, len: number) => Promise<void>;
    };
    /** Releases the writer lock and file handles. */
    close?: () => Promise<void>;
  }>;
  /** The same over an IndexedDB database (browsers). */
  openIndexedDb?(name: string): Promise<{
    image: Uint8Array | undefined;
    save: (image: Uint8Array) => Promise<void>;
    append?: (at: number, record: Uint8Array) => Promise<void>;
    sync?: () => Promise<void>;
    /** Releases the writer lock and the database connection. */
    close?: () => Promise<void>;
  }>;
}

let platform: Platform | undefined;
/** @internal */
/** Installs an entry point's platform (node.ts, browser-platform.ts). @internal */
export function setPlatform(p: Platform): void {
  platform = p;
}
function native(): Promise<any> {
  if (!platform) throw new Error('strongroom: no platform entry point loaded');
  return platform.native();
}

/** The native side's HTTP client (JsHttp) over `fetch`. */
function httpSender(f: typeof fetch | undefined, timeoutMs: number | undefined) {
  const fetchImpl = f ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw invalid('Fetch', 'no fetch on this platform: pass one');
  const ms = u32('TimeoutMs', timeoutMs) ?? 30_000;
  return async (method: string, url: string, headers: [string, string][], body: Uint8Array) => {
    const init: RequestInit = { method, headers, signal: AbortSignal.timeout(ms) };
    if (method !== 'GET' && method !== 'DELETE') init.body = body as Uint8Array<ArrayBuffer>;
    const r = await fetchImpl(url, init);
    // The wait a throttled gateway asks for: x-acs-retry-after (ms), else Retry-After (s).
    const askedMs = Number(r.headers.get('x-acs-retry-after') ?? NaN);
    const askedS = Number(r.headers.get('retry-after') ?? NaN);
    const retryAfterMs = Number.isFinite(askedMs) && askedMs >= 0 ? askedMs : Number.isFinite(askedS) && askedS >= 0 ? askedS * 1000 : undefined;
    return { status: r.status, body: new Uint8Array(await r.arrayBuffer()), retryAfterMs };
  };
}

/** A remote-backend client key: its id and 32-byte secret (wire protocol version 2). */
export interface ClientKey { id: string; secret: Uint8Array }

/** The native `transport` argument: a wire-protocol transport, or a transit engine. */
function backendArg(opts: { transport?: Transport; transit?: TransitOptions; clientKey?: ClientKey }): unknown {
  if (opts.clientKey !== undefined) {
    if (opts.transit !== undefined) throw invalid('Transit', 'give transport or transit, not both');
    if (opts.transport === undefined) throw invalid('ClientKey', 'a clientKey goes with a transport');
    const k = opts.clientKey;
    return {
      wire: wrapTransport(opts.transport),
      clientId: str('ClientKey', k?.id, true),
      clientSecret: bytes('ClientKey', k.secret),
    };
  }
  if (opts.transit !== undefined) {
    if (opts.transport !== undefined) throw invalid('Transit', 'give transport or transit, not both');
    const t = opts.transit;
    return {
      address: str('Transit', t?.address, true),
      token: str('Transit', t.token, true),
      mount: str('Transit', t.mount),
      keyPrefix: str('Transit', t.keyPrefix),
      send: httpSender(t.fetch, t.timeoutMs),
    };
  }
  return wrapTransport(opts.transport);
}

function wrapTransport(t: Transport | undefined): ((r: Uint8Array) => Promise<Uint8Array>) | undefined {
  if (t === undefined) return undefined;
  if (typeof t !== 'function') throw invalid('Transport', 'must be a function');
  return async (r: Uint8Array) => t(r);
}

/** A key management service over one sealed store. */
export class Kms {
  #n: any;
  #close?: () => Promise<void>;
  private constructor(n: any, close?: () => Promise<void>) {
    this.#n = n;
    this.#close = close;
  }

  /** Whether this instance runs its actions in a gateway (`Kms.connect`). */
  get connected(): boolean {
    return this.#n.isConnected();
  }

  /** @internal The native instance, for `BackendServer.software`. */
  static _nativeOf(k: Kms): any {
    return k.#n;
  }

  /** Closes the instance and releases a file or IndexedDB store (its writer lock, file
   * handles or database connection): another process or tab, or another `Kms.open` in
   * this one, may then open it. Every later call rejects with `Rejected.StoreClosed`
   * (a `StoreError`). Closing twice is harmless.
   * @example await kms.close();
   */
  async close(): Promise<void> {
    // The core first (it writes the audit trail's final digest, waits for a write in
    // flight, then refuses every later call with Rejected.StoreClosed), then the
    // trail's file, then the store's lock and handles.
    if (this.#auditTimer !== undefined) clearInterval(this.#auditTimer);
    try {
      await this.#n.close();
    } finally {
      if (auditWrites.length) await Promise.allSettled(auditWrites.splice(0));
      try {
        this.#auditClose?.();
      } finally {
        this.#auditClose = undefined;
        await this.#close?.();
      }
    }
  }

  /** Opens native `open` on a platform store; releases the store if that fails. */
  static async #fromStore(
    n: any,
    f: { image?: Uint8Array; save: unknown; append?: unknown; sync?: unknown; values?: unknown; close?: () => Promise<void> },
    passphrase: string,
    transport: unknown,
    platformCrypto: unknown,
    backup?: Uint8Array,
    backupPassphrase?: string,
  ): Promise<Kms> {
    try {
      return new Kms(await n.NativeKms.open(f.image, passphrase, f.save, transport, f.append, f.sync, backup, backupPassphrase, platformCrypto, f.values), f.close);
    } catch (e) {
      await f.close?.();
      throw e;
    }
  }

  /** A throwaway in-memory instance.
   * @example const kms = await Kms.memory();
   */
  static async memory(opts: { transport?: Transport; clientKey?: ClientKey; transit?: TransitOptions; platformCrypto?: boolean } = {}): Promise<Kms> {
    const n = await native();
    return call(async () => new Kms(await n.NativeKms.memory(backendArg(opts), platformAsym(opts.platformCrypto))));
  }

  /** A Kms whose actions run in the strongroom gateway (`strongroom serve`) at
   * `endpoint` (`https://host:port`), with exactly this class's API: moving from
   * embedded to served is this one line. Requests are signed (ACS3-HMAC-SHA256) with
   * the AccessKey pair — in a browser, the temporary credentials of AssumeRole with
   * their `securityToken`, never a long-lived key — and the gateway authorises and
   * audits each. Envelope messages are framed here (WebCrypto in browsers): each
   * recipient's data key is wrapped by the gateway's Encrypt and unwrapped by its
   * Decrypt, so neither the message nor a CMK crosses the network. `fetch` defaults to
   * the platform's; `timeoutMs` bounds each request (default 30 s). Store operations
   * (backups, passphrases, audit sinks) belong to the gateway and reject with
   * `Rejected.Unsupported`; an unreachable gateway (or a CORS refusal) with
   * `Rejected.BackendUnavailable` (a `BackendError`).
   * @example const kms = await Kms.connect({ endpoint: 'https://kms.example:8443', accessKeyId, accessKeySecret });
   */
  static async connect(opts: ConnectOptions): Promise<Kms> {
    const endpoint = str('Endpoint', opts?.endpoint, true)!;
    const accessKeyId = str('AccessKeyId', opts.accessKeyId, true)!;
    const accessKeySecret = str('AccessKeySecret', opts.accessKeySecret, true)!;
    const securityToken = str('SecurityToken', opts.securityToken);
    const send = httpSender(opts.fetch, opts.timeoutMs);
    const retry = opts.retry ?? {};
    const maxAttempts = u32('Retry', retry.maxAttempts);
    const baseDelayMs = u32('Retry', retry.baseDelayMs);
    const maxDelayMs = u32('Retry', retry.maxDelayMs);
    const n = await native();
    return call(async () => new Kms(await n.NativeKms.connect(endpoint, accessKeyId, accessKeySecret, securityToken, send, maxAttempts, baseDelayMs, maxDelayMs)));
  }

  /** Opens a store: `{ path, passphrase }` (Node file store) or `{ image, passphrase }`;
   * `credentials` to act as a principal, `audit` / `auditStrict` / `onAudit` for the
   * audit trail.
   * @example const kms = await Kms.open({ path: './store', passphrase: process.env.STRONGROOM_PASSPHRASE });
   */
  static async open(opts: OpenOptions): Promise<Kms> {
    const kms = await Kms.#open(opts);
    try {
      await kms.#setUpAccess(opts);
    } catch (e) {
      await kms.close().catch(() => undefined);
      throw convert(e);
    }
    return kms;
  }

  /** The audit trail of the IndexedDB store `indexedDb` (browsers), as text: check it
   * with `verifyAudit`.
   * @example const text = await Kms.readAuditTrail({ indexedDb: 'keys' });
   */
  static async readAuditTrail(opts: { indexedDb: string }): Promise<string> {
    if (!platform?.readIndexedDbAudit) throw invalid('IndexedDb', 'IndexedDB trails need a browser with indexedDB');
    return call(() => platform!.readIndexedDbAudit!(str('IndexedDb', opts?.indexedDb, true)!));
  }

  #auditTimer?: ReturnType<typeof setInterval>;
  #auditClose?: () => void;

  async #setUpAccess(opts: OpenOptions): Promise<void> {
    const level = opts.audit ?? 'management';
    if (!['off', 'management', 'all'].includes(level)) throw invalid('AuditLevel', 'must be off, management or all');
    const strict = opts.auditStrict === true;
    if (opts.onAudit !== undefined) {
      if (typeof opts.onAudit !== 'function') throw invalid('OnAudit', 'must be a function');
      this.attachAudit(opts.onAudit, { level, strict });
    } else if (opts.path !== undefined && level !== 'off' && platform?.openAuditFile) {
      const f = callSync(() => platform!.openAuditFile!(`${opts.path}.audit`));
      callSync(() => this.#n.attachAudit(f.append, f.sync, f.lastLine, level, strict));
      this.#auditClose = f.close;
      // Events of read-only calls wait in memory at most ~1 s: this timer writes and
      // syncs them (it does not keep the process alive).
      this.#startAuditTimer();
    } else if (opts.indexedDb !== undefined && opts.audit !== undefined && level !== 'off' && platform?.openIndexedDbAudit) {
      const f = await platform.openIndexedDbAudit(opts.indexedDb);
      const append = (lines: string) => {
        auditWrites.push(f.append(lines));
      };
      callSync(() => this.#n.attachAudit(append, undefined, f.lastLine, level, strict));
      this.#auditClose = f.close;
      this.#startAuditTimer();
    }
    if (opts.credentials !== undefined) {
      const c = opts.credentials;
      if (!c || typeof c !== 'object') throw invalid('Credentials', 'must be { accessKeyId, accessKeySecret, securityToken? }');
      this.authenticate(c);
    }
  }

  #startAuditTimer(): void {
    // Events of read-only calls wait in memory at most ~1 s: this timer writes them (it
    // does not keep a Node process alive).
    this.#auditTimer = setInterval(() => {
      try {
        this.#n.flushAudit();
      } catch {
        // Kept in the trail: calls are refused once too many events wait.
      }
    }, 500);
    (this.#auditTimer as { unref?: () => void }).unref?.();
  }

  static async #open(opts: OpenOptions): Promise<Kms> {
    const n = await native();
    const passphrase = str('Passphrase', opts?.passphrase, true)!;
    const transport = backendArg(opts);
    const pc = platformAsym(opts.platformCrypto);
    if (opts.path !== undefined) {
      if (!platform?.openPath) throw invalid('Path', 'file stores need Node; in a browser open an image');
      const f = await call(() => platform!.openPath!(str('Path', opts.path, true)!));
      return call(() => Kms.#fromStore(n, f, passphrase, transport, pc));
    }
    if (opts.indexedDb !== undefined) {
      if (!platform?.openIndexedDb) throw invalid('IndexedDb', 'IndexedDB stores need a browser with indexedDB');
      const f = await call(() => platform!.openIndexedDb!(str('IndexedDb', opts.indexedDb, true)!));
      return call(() => Kms.#fromStore(n, f, passphrase, transport, pc));
    }
    const image = opts.image === undefined ? undefined : bytes('Image', opts.image);
    return call(async () => new Kms(await n.NativeKms.open(image, passphrase, undefined, transport, undefined, undefined, undefined, undefined, pc)));
  }

  /** RestoreBackup: `backup` (from `createBackup`, any runtime), opened with
   * `backupPassphrase`, becomes a new store sealed under `passphrase` — a file at
   * `path` (Node; it must not exist: `Rejected.StoreExists`) or, without `path`, an
   * in-memory store to `exportImage` from.
   * @example const kms = await Kms.restoreBackup({ backup, backupPassphrase, passphrase, path: './restored' });
   */
  static async restoreBackup(opts: {
    backup: Uint8Array;
    backupPassphrase: string;
    passphrase: string;
    path?: string;
    transport?: Transport;
    clientKey?: ClientKey;
    transit?: TransitOptions;
    platformCrypto?: boolean;
  }): Promise<Kms> {
    const n = await native();
    const passphrase = str('Passphrase', opts?.passphrase, true)!;
    const backupPassphrase = str('BackupPassphrase', opts.backupPassphrase, true)!;
    const backup = bytes('Backup', opts.backup);
    const transport = backendArg(opts);
    const pc = platformAsym(opts.platformCrypto);
    if (opts.path !== undefined) {
      if (!platform?.openPath) throw invalid('Path', 'file stores need Node; in a browser restore in memory');
      const f = await call(() => platform!.openPath!(str('Path', opts.path, true)!));
      return call(() => Kms.#fromStore(n, f, passphrase, transport, pc, backup, backupPassphrase));
    }
    return call(async () =>
      new Kms(await n.NativeKms.open(undefined, passphrase, undefined, transport, undefined, undefined, backup, backupPassphrase, pc)),
    );
  }

  /**
   * Any action by Alibaba's name with Alibaba's parameters, answering Alibaba's
   * response JSON (PascalCase, `KeyMetadata` / `Keys.Key` wrappers, `RequestId`), as
   * the KMS OpenAPI and `strongroom kms ACTION` do: `await kms.call('ListKeys',
   * { PageSize: 50 })`. Binary parameters are base64 strings or `Uint8Array`s (sent as
   * base64); binary answers are base64 strings. Goes through the same dispatch as
   * every method.
   * @example const r = await kms.call('ListKeys', { PageSize: 50 });
   */
  call(action: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    if (typeof action !== 'string') throw invalid('Action', 'must be a string');
    if (!params || typeof params !== 'object' || Array.isArray(params)) throw invalid('Request', 'parameters must be an object');
    const wire: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined) continue;
      wire[k] = v instanceof Uint8Array ? base64(v) : v;
    }
    return call(async () => JSON.parse(await this.#n.callWire(action, JSON.stringify(wire))) as Record<string, unknown>);
  }

  /** Acts, from now on, as the principal these credentials name; resolves to its ARN.
   * A wrong secret is an `AccessDeniedError`; expired temporary credentials
   * `InvalidSecurityToken.Expired`.
   * @example const principal = kms.authenticate({ accessKeyId, accessKeySecret });
   */
  authenticate(c: Credentials): string {
    return callSync(() =>
      this.#n.authenticate(str('AccessKeyId', c?.accessKeyId, true)!, str('AccessKeySecret', c.accessKeySecret, true)!, c.securityToken ?? undefined) as string,
    );
  }

  /** Acts as `principal` (an ARN such as `acs:ram::<account>:user/<name>`, or
   * `'owner'`) without credentials: in-process this is least privilege against bugs,
   * not a boundary (whoever holds the passphrase can act as anyone).
   * @example kms.actAs(principal);
   */
  actAs(principal: string): void {
    callSync(() => this.#n.actAs(str('Principal', principal, true)!));
  }

  /** Sends the audit trail to `sink` (whole JSON lines; returning means kept), at
   * `level` unless the store set its own; `lastLine` continues an earlier chain.
   * @example kms.attachAudit((lines) => process.stdout.write(lines), { level: 'all' });
   */
  attachAudit(sink: (lines: string) => void, opts: { level?: AuditLevel; strict?: boolean; lastLine?: string } = {}): void {
    if (typeof sink !== 'function') throw invalid('Sink', 'must be a function');
    callSync(() => this.#n.attachAudit(sink, undefined, opts.lastLine, opts.level ?? 'all', opts.strict === true));
  }

  /** Writes every waiting audit event and syncs the trail.
   * @example kms.flushAudit();
   */
  flushAudit(): void {
    callSync(() => this.#n.flushAudit());
  }

  /** The audit key's public key (PEM): what `verifyAudit` and `strongroom audit verify
   * --public-key` check digests with.
   * @example const pem = await kms.auditPublicKey();
   */
  auditPublicKey(): Promise<string> {
    return call(async () => (await this.#n.auditPublicKey()) as string);
  }

  /** DescribeService: the protection levels, key specs, usages and actions this instance offers (Alibaba's JSON).
   * @example const { ProtectionLevels } = await kms.describeService();
   */
  describeService(): Promise<Record<string, unknown>> {
    return this.call('DescribeService');
  }

  /**
   * Tells `hook` of every action after it ran — allowed or refused, succeeded or
   * failed — with the principal, request id, action, the resources it resolved (ARNs)
   * and the error code (`null` on success). `null` removes it. An exception in the hook
   * does not change the call's outcome. (Audit and policy build on this seam.)
   * @example kms.onCall((r) => console.log(r.action, r.resource, r.outcome));
   */
  onCall(hook: ((record: CallRecord) => void) | null): void {
    if (hook !== null && typeof hook !== 'function') throw invalid('Hook', 'must be a function or null');
    this.#n.setCallHook(hook ?? undefined);
  }

  /** CreateBackup: the whole store sealed under its own passphrase (restorable on any runtime).
   * @example const backup = await kms.createBackup({ backupPassphrase });
   */
  createBackup(opts: { backupPassphrase: string }): Promise<Uint8Array> {
    return call(() => this.#n.createBackup(str('BackupPassphrase', opts?.backupPassphrase, true)));
  }

  /** Reseals the store under a new passphrase; the old one stops opening it.
   * @example await kms.changePassphrase({ passphrase: newPassphrase });
   */
  changePassphrase(opts: { passphrase: string }): Promise<void> {
    return call(() => this.#n.changePassphrase(str('Passphrase', opts?.passphrase, true)));
  }

  /** A new random store key; the whole store is rewritten under it.
   * @example await kms.rekeyStore();
   */
  rekeyStore(): Promise<void> {
    return call(() => this.#n.rekeyStore());
  }

  /** Rewrites the journal into one snapshot now.
   * @example await kms.compactStore();
   */
  compactStore(): Promise<void> {
    return call(() => this.#n.compactStore());
  }

  /** VerifyStore: opens every secret value through its CMK (its tag checked, the
   * plaintext dropped at once) and lists each version that does not open, with its code;
   * then probes every key version in the backend that holds it (encrypt and decrypt,
   * or sign and verify) and lists each that does not answer (`keyProblems`).
   * @example const { problems, keyProblems } = await kms.verifyStore();
   */
  verifyStore(): Promise<VerifyStoreResult> {
    return this.#act('VerifyStore', () => ({}));
  }

  /** Carries out what is due now on the store's clock — scheduled deletions, expiries,
   * automatic key and secret rotations (through the installed rotator) — without
   * waiting for the next call. Every call does this first; a long-running process that
   * may go idle calls it from a timer.
   * @example setInterval(() => kms.runDue(), 60_000).unref();
   */
  runDue(): Promise<void> {
    return call(() => this.#n.runDue());
  }

  /** Format version, generation, snapshot and journal sizes, torn bytes dropped on open.
   * @example const { journalBytes } = kms.storeInfo();
   */
  storeInfo(): StoreInfo {
    return callSync(() => this.#n.storeInfo());
  }

  /** The sealed store image; resealed under `passphrase` when given.
   * @example const image = await kms.exportImage({ passphrase });
   */
  exportImage(opts: { passphrase?: string } = {}): Promise<Uint8Array> {
    return call(() => this.#n.exportImage(str('Passphrase', opts.passphrase)));
  }

  /** CreateKey: a new CMK (default Aliyun_AES_256, ENCRYPT/DECRYPT, SOFTWARE).
     * @example const { keyId } = await kms.createKey({ description: 'orders' }); */
  createKey(opts: CreateKeyOptions = {}): Promise<KeyMetadata> {
    return this.#key('CreateKey', () => ({
      KeySpec: str('KeySpec', opts.keySpec),
      KeyUsage: str('KeyUsage', opts.keyUsage),
      Description: str('Description', opts.description),
      Origin: str('Origin', opts.origin),
      ProtectionLevel: str('ProtectionLevel', opts.protectionLevel),
    }));
  }

  /** DescribeKey: a key's metadata (KeyId, alias or ARN).
     * @example const { keyState } = await kms.describeKey({ keyId: 'alias/orders' }); */
  describeKey(opts: { keyId: string }): Promise<KeyMetadata> {
    return this.#key('DescribeKey', () => ({ KeyId: str('KeyId', opts?.keyId, true) }));
  }

  /** `alias/<name>` for a key; usable wherever a keyId is.
   * @example await kms.createAlias({ aliasName: 'alias/orders', keyId });
   */
  createAlias(opts: { aliasName: string; keyId: string }): Promise<void> {
    return this.#act('CreateAlias', () => ({ AliasName: str('AliasName', opts?.aliasName, true), KeyId: str('KeyId', opts.keyId, true) })).then(() => undefined);
  }

  /** UpdateAlias: points an alias at another key.
     * @example await kms.updateAlias({ aliasName: 'alias/orders', keyId: newKeyId }); */
  updateAlias(opts: { aliasName: string; keyId: string }): Promise<void> {
    return this.#act('UpdateAlias', () => ({ AliasName: str('AliasName', opts?.aliasName, true), KeyId: str('KeyId', opts.keyId, true) })).then(() => undefined);
  }

  /** DeleteAlias.
     * @example await kms.deleteAlias({ aliasName: 'alias/orders' }); */
  deleteAlias(opts: { aliasName: string }): Promise<void> {
    return this.#act('DeleteAlias', () => ({ AliasName: str('AliasName', opts?.aliasName, true) })).then(() => undefined);
  }

  /** ListAliases: every alias, a page at a time.
     * @example const { aliases } = await kms.listAliases({ pageSize: 100 }); */
  listAliases(opts: { pageNumber?: number; pageSize?: number } = {}): Promise<ListAliasesResult> {
    return this.#act('ListAliases', () => ({ PageNumber: u32('Limit', opts.pageNumber), PageSize: u32('Limit', opts.pageSize) }));
  }

  /** ListAliasesByKeyId: the aliases of one key.
     * @example const { aliases } = await kms.listAliasesByKeyId({ keyId }); */
  listAliasesByKeyId(opts: { keyId: string; pageNumber?: number; pageSize?: number }): Promise<ListAliasesResult> {
    return this.#act('ListAliasesByKeyId', () => ({ KeyId: str('KeyId', opts?.keyId, true), PageNumber: u32('Limit', opts.pageNumber), PageSize: u32('Limit', opts.pageSize) }));
  }

  /** TagResource on a key (`keyId`) or a secret (`secretName`).
   * @example await kms.tagResource({ keyId, tags: { team: 'payments' } });
   */
  tagResource(opts: { keyId: string; tags: Record<string, string> } | { secretName: string; tags: Record<string, string> }): Promise<void> {
    if (opts && 'secretName' in opts) return secrets.tagSecret(this.#wire, opts.secretName, opts.tags);
    return this.#act('TagResource', () => ({ KeyId: str('KeyId', opts?.keyId, true), Tags: secrets.tagsParam(opts.tags) ?? '[]' })).then(() => undefined);
  }

  /** UntagResource on a key (`keyId`) or a secret (`secretName`).
   * @example await kms.untagResource({ keyId, tagKeys: ['team'] });
   */
  untagResource(opts: { keyId: string; tagKeys: string[] } | { secretName: string; tagKeys: string[] }): Promise<void> {
    if (opts && 'secretName' in opts) return secrets.untagSecret(this.#wire, opts.secretName, opts.tagKeys);
    return this.#act('UntagResource', () => {
      if (!Array.isArray(opts?.tagKeys) || !opts.tagKeys.every((k) => typeof k === 'string')) throw invalid('TagKeys', 'must be an array of strings');
      return { KeyId: str('KeyId', opts.keyId, true), TagKeys: opts.tagKeys };
    }).then(() => undefined);
  }

  /** ListResourceTags of a key (`keyId`) or a secret (`secretName`).
   * @example const tags = await kms.listResourceTags({ keyId });
   */
  listResourceTags(opts: { keyId: string } | { secretName: string }): Promise<Tag[]> {
    if (opts && 'secretName' in opts) return secrets.listSecretTags(this.#wire, opts.secretName);
    return this.#act<{ tags: Tag[] }>('ListResourceTags', () => ({ KeyId: str('KeyId', (opts as { keyId?: string })?.keyId, true) })).then((r) => r.tags);
  }

  /** A management action through the dispatch (as `call`), its answer derived by name
   * (`fromWire`: camelCase, wrappers unwrapped, the `binary` wire fields as bytes);
   * `pick` takes one wrapped object (`KeyMetadata`, `KeyVersion`). The parameters are
   * made inside, so a bad one rejects the promise like every other failure. */
  #act<T>(action: string, params: () => Record<string, unknown>, binary: readonly string[] = [], pick?: string): Promise<T> {
    return call(async () => {
      const r = await this.call(action, params());
      return fromWire<T>(pick ? (r[pick] as Record<string, unknown>) : r, binary);
    });
  }

  /** An action answering one KeyMetadata. */
  #key(action: string, params: () => Record<string, unknown>): Promise<KeyMetadata> {
    return this.#act(action, params, [], 'KeyMetadata');
  }

  readonly #wire: secrets.WireCall = (action, params) => this.call(action, params);

  /**
   * CreateSecret: a secret and its first value (`versionId` 'v1' unless given), sealed
   * under `encryptionKeyId` (default: the store-managed secrets key). A string is a
   * text secret, a Uint8Array a binary one.
   * @example await kms.createSecret({ secretName: 'db/password', secretData: 's3cret' });
   */
  createSecret(opts: {
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
  }): Promise<SecretCreated> {
    return secrets.createSecret(this.#wire, opts);
  }

  /** GetSecretValue: ACSCurrent unless `versionId` / `versionStage` say otherwise. The result logs as `[redacted]`.
   * @example const { secretData } = await kms.getSecretValue({ secretName: 'db/password' });
   */
  getSecretValue(opts: { secretName: string; versionId?: string; versionStage?: string; fetchExtendedConfig?: boolean }): Promise<SecretValue> {
    return secrets.getSecretValue(this.#wire, opts);
  }

  /** PutSecretValue: a new version (ACSCurrent unless `versionStages`); the same versionId and data again is a no-op.
   * @example await kms.putSecretValue({ secretName: 'db/password', versionId: 'v2', secretData: 'n3w' });
   */
  putSecretValue(opts: { secretName: string; versionId: string; secretData: string | Uint8Array; versionStages?: string[] }): Promise<{ secretName: string; versionId: string; versionStages: string[] }> {
    return secrets.putSecretValue(this.#wire, opts);
  }

  /** UpdateSecretVersionStage: move a stage to `moveToVersion` and / or remove it from `removeFromVersion`.
   * @example await kms.updateSecretVersionStage({ secretName: 'db/password', versionStage: 'ACSCurrent', moveToVersion: 'v1' });
   */
  updateSecretVersionStage(opts: { secretName: string; versionStage: string; removeFromVersion?: string; moveToVersion?: string }): Promise<void> {
    return secrets.updateSecretVersionStage(this.#wire, opts);
  }

  /** ListSecretVersionIds: a secret's versions and their stages.
     * @example const { versionIds } = await kms.listSecretVersionIds({ secretName: 'db/password' }); */
  listSecretVersionIds(opts: { secretName: string; includeDeprecated?: boolean; pageNumber?: number; pageSize?: number }): Promise<ListSecretVersionIdsResult> {
    return secrets.listSecretVersionIds(this.#wire, opts);
  }

  /** DescribeSecret: metadata, never the value.
   * @example const meta = await kms.describeSecret({ secretName: 'db/password', fetchTags: true });
   */
  describeSecret(opts: { secretName: string; fetchTags?: boolean }): Promise<SecretMetadata> {
    return secrets.describeSecret(this.#wire, opts);
  }

  /** ListSecrets, with paging and Filters.
     * @example const { secretList } = await kms.listSecrets({ pageSize: 50 }); */
  listSecrets(opts: { fetchTags?: boolean; pageNumber?: number; pageSize?: number; filters?: SecretFilter[] } = {}): Promise<ListSecretsResult> {
    return secrets.listSecrets(this.#wire, opts);
  }

  /** UpdateSecret: description and / or ExtendedConfig.CustomData.
   * @example await kms.updateSecret({ secretName: 'db/password', description: 'orders database' });
   */
  updateSecret(opts: { secretName: string; description?: string; customData?: Record<string, unknown> }): Promise<void> {
    return secrets.updateSecret(this.#wire, opts);
  }

  /** DeleteSecret after `recoveryWindowInDays` (7-30, default 30), or now with `forceDeleteWithoutRecovery`.
   * @example const { plannedDeleteTime } = await kms.deleteSecret({ secretName: 'db/password', recoveryWindowInDays: 7 });
   */
  deleteSecret(opts: { secretName: string; recoveryWindowInDays?: number; forceDeleteWithoutRecovery?: boolean }): Promise<{ secretName: string; plannedDeleteTime?: string }> {
    return secrets.deleteSecret(this.#wire, opts);
  }

  /** RestoreSecret: cancels a scheduled deletion.
     * @example await kms.restoreSecret({ secretName: 'db/password' }); */
  restoreSecret(opts: { secretName: string }): Promise<void> {
    return secrets.restoreSecret(this.#wire, opts);
  }

  /** RotateSecret now, with the rotator from setSecretRotator (or a random password).
   * @example const { versionId } = await kms.rotateSecret({ secretName: 'db/password' });
   */
  rotateSecret(opts: { secretName: string; versionId?: string }): Promise<SecretCreated> {
    return secrets.rotateSecret(this.#wire, opts);
  }

  /** UpdateSecretRotationPolicy: automatic rotation on or off, and its interval.
     * @example await kms.updateSecretRotationPolicy({ secretName: 'db/password', enableAutomaticRotation: true, rotationInterval: '604800s' }); */
  updateSecretRotationPolicy(opts: { secretName: string; enableAutomaticRotation: boolean; rotationInterval?: string }): Promise<void> {
    return secrets.updateSecretRotationPolicy(this.#wire, opts);
  }

  /**
   * The rotator RotateSecret and automatic rotation use (undefined: the built-in
   * random-password rotator, by the secret's ExtendedConfig rules).
   * @example kms.setSecretRotator(async (step) => myRotation(step)); // step: create, set, test or finish
   */
  setSecretRotator(rotator: SecretRotator | undefined): void {
    if (rotator !== undefined && typeof rotator !== 'function') throw invalid('Rotator', 'must be a function or undefined');
    this.#n.setSecretRotator(rotator);
  }

  /** A new version, made primary; blobs under older versions still decrypt.
   * @example const { keyVersionId } = await kms.createKeyVersion({ keyId });
   */
  createKeyVersion(opts: { keyId: string }): Promise<KeyVersion> {
    return this.#act('CreateKeyVersion', () => ({ KeyId: str('KeyId', opts?.keyId, true) }), [], 'KeyVersion');
  }

  /** DescribeKeyVersion.
     * @example const v = await kms.describeKeyVersion({ keyId, keyVersionId }); */
  describeKeyVersion(opts: { keyId: string; keyVersionId: string }): Promise<KeyVersion> {
    return this.#act('DescribeKeyVersion', () => ({ KeyId: str('KeyId', opts?.keyId, true), KeyVersionId: str('KeyVersionId', opts.keyVersionId, true) }), [], 'KeyVersion');
  }

  /** ListKeyVersions: every version of a key, a page at a time.
     * @example const { keyVersions } = await kms.listKeyVersions({ keyId }); */
  listKeyVersions(opts: { keyId: string; pageNumber?: number; pageSize?: number }): Promise<ListKeyVersionsResult> {
    return this.#act('ListKeyVersions', () => ({ KeyId: str('KeyId', opts?.keyId, true), PageNumber: u32('Limit', opts.pageNumber), PageSize: u32('Limit', opts.pageSize) }));
  }

  /** Automatic rotation every `rotationInterval` ("604800s"; 7–365 days).
   * @example await kms.updateRotationPolicy({ keyId, enableAutomaticRotation: true, rotationInterval: '604800s' });
   */
  updateRotationPolicy(opts: { keyId: string; enableAutomaticRotation: boolean; rotationInterval?: string }): Promise<KeyMetadata> {
    return this.#key('UpdateRotationPolicy', () => {
      if (typeof opts?.enableAutomaticRotation !== 'boolean') throw invalid('EnableAutomaticRotation', 'must be a boolean');
      return { KeyId: str('KeyId', opts.keyId, true), EnableAutomaticRotation: opts.enableAutomaticRotation, RotationInterval: str('RotationInterval', opts.rotationInterval) };
    });
  }

  /** Moves a blob to the destination key's primary version without exposing the plaintext.
   * @example const { ciphertextBlob } = await kms.reEncrypt({ ciphertextBlob: old, destinationKeyId: newKeyId });
   */
  reEncrypt(opts: { ciphertextBlob: Uint8Array; destinationKeyId: string; sourceEncryptionContext?: EncryptionContext; destinationEncryptionContext?: EncryptionContext }): Promise<ReEncryptResult> {
    return this.#act(
      'ReEncrypt',
      () => ({
        CiphertextBlob: bytes('CiphertextBlob', opts?.ciphertextBlob),
        DestinationKeyId: str('DestinationKeyId', opts.destinationKeyId, true),
        SourceEncryptionContext: ctx(opts.sourceEncryptionContext),
        DestinationEncryptionContext: ctx(opts.destinationEncryptionContext),
      }),
      ['CiphertextBlob'],
    );
  }

  /** While on, scheduleKeyDeletion is refused (`Forbidden.DeletionProtection`). keyId may be an ARN or alias.
   * @example await kms.setDeletionProtection({ keyId, enableDeletionProtection: true });
   */
  setDeletionProtection(opts: { keyId: string; enableDeletionProtection: boolean; deletionProtectionDescription?: string }): Promise<KeyMetadata> {
    return this.#key('SetDeletionProtection', () => {
      if (typeof opts?.enableDeletionProtection !== 'boolean') throw invalid('EnableDeletionProtection', 'must be a boolean');
      return {
        ProtectedResourceArn: str('KeyId', opts.keyId, true),
        EnableDeletionProtection: opts.enableDeletionProtection,
        DeletionProtectionDescription: str('Description', opts.deletionProtectionDescription),
      };
    });
  }

  /** EnableKey.
     * @example await kms.enableKey({ keyId }); */
  enableKey(opts: { keyId: string }): Promise<KeyMetadata> {
    return this.#key('EnableKey', () => ({ KeyId: str('KeyId', opts?.keyId, true) }));
  }

  /** DisableKey: the key refuses cryptographic use until enabled.
     * @example await kms.disableKey({ keyId }); */
  disableKey(opts: { keyId: string }): Promise<KeyMetadata> {
    return this.#key('DisableKey', () => ({ KeyId: str('KeyId', opts?.keyId, true) }));
  }

  /** The key becomes PendingDeletion; its material is destroyed after 7–30 days.
   * @example await kms.scheduleKeyDeletion({ keyId, pendingWindowInDays: 7 });
   */
  scheduleKeyDeletion(opts: { keyId: string; pendingWindowInDays: number }): Promise<KeyMetadata> {
    return this.#key('ScheduleKeyDeletion', () => {
      const days = u32('PendingWindowInDays', opts?.pendingWindowInDays);
      if (days === undefined) throw invalid('PendingWindowInDays', 'required');
      return { KeyId: str('KeyId', opts.keyId, true), PendingWindowInDays: days };
    });
  }

  /** CancelKeyDeletion: a PendingDeletion key back to Enabled.
     * @example await kms.cancelKeyDeletion({ keyId }); */
  cancelKeyDeletion(opts: { keyId: string }): Promise<KeyMetadata> {
    return this.#key('CancelKeyDeletion', () => ({ KeyId: str('KeyId', opts?.keyId, true) }));
  }

  /** UpdateKeyDescription.
     * @example await kms.updateKeyDescription({ keyId, description: 'orders, 2027' }); */
  updateKeyDescription(opts: { keyId: string; description: string }): Promise<KeyMetadata> {
    return this.#key('UpdateKeyDescription', () => ({ KeyId: str('KeyId', opts?.keyId, true), Description: str('Description', opts.description, true) }));
  }

  /** ListKeys. `filters`: `[{ key: 'KeyState', values: ['Enabled'] }]` (values of one key
   * ORed, different keys ANDed; keys as in Alibaba's Filters).
   * @example const { keys } = await kms.listKeys({ filters: [{ key: 'KeyState', values: ['Enabled'] }] });
   */
  listKeys(opts: { pageNumber?: number; pageSize?: number; filters?: KeyFilter[] } = {}): Promise<ListKeysResult> {
    return this.#act('ListKeys', () => {
      const filters = opts.filters?.map((f) => {
        if (!f || typeof f.key !== 'string' || !Array.isArray(f.values) || !f.values.every((v) => typeof v === 'string'))
          throw invalid('Filters', 'each filter is { key: string, values: string[] }');
        return { Key: f.key, Values: [...f.values] };
      });
      return { PageNumber: u32('Limit', opts.pageNumber), PageSize: u32('Limit', opts.pageSize), Filters: filters };
    });
  }

  /** GenerateRandom: 1–1024 random bytes from the CSPRNG (the instance API's
   * GenerateRandom), through the dispatch like every action (authorised and audited).
   * @example const bytes = await kms.generateRandom({ length: 32 });
   */
  async generateRandom(opts: { length: number }): Promise<Uint8Array> {
    const r = await this.call('GenerateRandom', { Length: u32('Length', opts?.length) });
    return unbase64(r.Random as string);
  }

  /** Hash: the SHA-256 (default), SHA-384 or SHA-512 digest of a message of at most
   * 4 MiB (the instance API's Hash).
   * @example const { digest } = await kms.hash({ message: new TextEncoder().encode('abc') });
   */
  async hash(opts: { message: Uint8Array; algorithm?: 'SHA-256' | 'SHA-384' | 'SHA-512' }): Promise<{ algorithm: string; digest: Uint8Array }> {
    const r = await this.call('Hash', { Message: bytes('Message', opts?.message), Algorithm: str('Algorithm', opts.algorithm) });
    return { algorithm: r.Algorithm as string, digest: unbase64(r.Digest as string) };
  }

  /** GetRandomPassword: 8–128 characters (default 32) from the CSPRNG.
   * @example const password = await kms.getRandomPassword({ length: 24, excludePunctuation: true });
   */
  getRandomPassword(
    opts: {
      length?: number;
      excludeCharacters?: string;
      excludeLowercase?: boolean;
      excludeUppercase?: boolean;
      excludeNumbers?: boolean;
      excludePunctuation?: boolean;
      requireEachIncludedType?: boolean;
    } = {},
  ): string {
    try {
      return this.#n.getRandomPassword(
        u32('Length', opts.length),
        str('ExcludeCharacters', opts.excludeCharacters),
        !!opts.excludeLowercase,
        !!opts.excludeUppercase,
        !!opts.excludeNumbers,
        !!opts.excludePunctuation,
        opts.requireEachIncludedType,
      );
    } catch (e) {
      throw convert(e);
    }
  }

  /** Encrypt: up to 6 KiB under a CMK, bound to the EncryptionContext.
     * @example const { ciphertextBlob } = await kms.encrypt({ keyId, plaintext, encryptionContext: { app: 'orders' } }); */
  encrypt(opts: { keyId: string; plaintext: Uint8Array; encryptionContext?: EncryptionContext }): Promise<EncryptResult> {
    return call(async () =>
      this.#n.encrypt(str('KeyId', opts?.keyId, true), bytes('Plaintext', opts.plaintext), opts.encryptionContext),
    );
  }

  /** Decrypt. The result logs its plaintext as `[redacted]` (the bytes stay in `.plaintext`).
   * @example const { plaintext } = await kms.decrypt({ ciphertextBlob, encryptionContext: { app: 'orders' } });
   */
  decrypt(opts: { ciphertextBlob: Uint8Array; encryptionContext?: EncryptionContext }): Promise<DecryptResult> {
    return call(async () =>
      secrets.redactValue(await this.#n.decrypt(bytes('CiphertextBlob', opts?.ciphertextBlob), opts.encryptionContext), 'plaintext'),
    );
  }

  /** GenerateDataKey. The result logs its plaintext data key as `[redacted]`.
   * @example const { plaintext, ciphertextBlob } = await kms.generateDataKey({ keyId });
   */
  generateDataKey(opts: GenerateDataKeyOptions): Promise<DataKeyResult> {
    return call(async () =>
      secrets.redactValue(
        await this.#n.generateDataKey(
          str('KeyId', opts?.keyId, true),
          str('KeySpec', opts.keySpec),
          u32('NumberOfBytes', opts.numberOfBytes),
          opts.encryptionContext,
          true,
        ),
        'plaintext',
      ),
    );
  }

  /** How a FrameWriter signs a message whose header `header` names a signer: this
   * instance's AsymmetricSign of the chain's digest, with the header's key version. */
  #signedWriting(header: Uint8Array): SignedWriting | undefined {
    const signer = parseEnvelopeHeader(header)?.signer;
    if (!signer) return undefined;
    return {
      header: header.slice(),
      sign: async (digest) => (await this.asymmetricSign({ keyId: signer.keyId, keyVersionId: signer.keyVersionId, algorithm: 'ECDSA_SHA_256', digest })).value,
    };
  }

  /** Encrypts `plaintext` of any size into an envelope message for `keyIds`.
   * @example const message = await kms.encryptEnvelope({ keyIds: [keyId], plaintext, encryptionContext: { app: 'orders' } });
   */
  encryptEnvelope(opts: EncryptEnvelopeOptions, _cipher?: FrameCipherFactory): Promise<Uint8Array> {
    return call(async () => {
      const pt = bytes('Plaintext', opts?.plaintext);
      const frameLength = u32('FrameLength', opts.frameLength) ?? (_cipher ? undefined : platform?.oneShotFrameLength);
      const b = began(await this.#n.beginEnvelope(keyIdList(opts.keyIds), opts.encryptionContext, frameLength, pt.length, signingKey(opts.signingKeyId)));
      const w = new FrameWriter(await frameCipher(b.messageKey, _cipher), b.frameLength, this.#signedWriting(b.header));
      return w.sealAll(b.header, pt);
    });
  }

  /** ReEncryptEnvelope: a message moved — after a rotation, to its keys' current
   * versions; with `destinationKeyIds`, to other keys — without decrypting it. Only the
   * header changes (its data key wrapped again); the frames are copied as they are, and
   * only the header is sent to the KMS. Signed messages are refused (their signature
   * covers the header).
   * @example const { ciphertext } = await kms.reEncryptEnvelope({ ciphertext: message });
   */
  reEncryptEnvelope(opts: {
    ciphertext: Uint8Array;
    destinationKeyIds?: string[];
    encryptionContext?: EncryptionContext;
  }): Promise<ReEncryptEnvelopeResult> {
    return call(async () => {
      const ct = bytes('Ciphertext', opts?.ciphertext);
      const n = parseEnvelopeHeader(ct)?.headerLength ?? ct.length;
      const ids = opts.destinationKeyIds === undefined ? undefined : keyIdList(opts.destinationKeyIds);
      const r = fromWire<Omit<ReEncryptEnvelopeResult, 'ciphertext'>>(
        await this.call('ReEncryptEnvelope', {
          Header: ct.subarray(0, n),
          DestinationKeyIds: ids && ids.length > 0 ? ids : undefined,
          EncryptionContext: ctx(opts.encryptionContext),
        }),
        ['Header'],
      );
      return { ...r, ciphertext: concat([r.header, ct.subarray(r.replacedLength)]) };
    });
  }

  /** Decrypts a whole envelope message.
   * @example const { plaintext } = await kms.decryptEnvelope({ ciphertext: message, encryptionContext: { app: 'orders' } });
   */
  decryptEnvelope(opts: DecryptEnvelopeOptions, _cipher?: FrameCipherFactory): Promise<DecryptEnvelopeResult> {
    return call(async () => {
      const ct = bytes('Ciphertext', opts?.ciphertext);
      const h = await openHeader(this.#n, ct, opts.encryptionContext, opts.requiredEncryptionContext, signingKey(opts.requiredSigner, 'RequiredSigner'));
      const fc = await frameCipher(h.messageKey, _cipher);
      const plaintext = await new FrameReader(fc, h.frameLength, signedReading(h, ct)).openAll(ct.subarray(h.headerLength));
      return secrets.redactValue({ ...info(h), plaintext }, 'plaintext');
    });
  }

  /** A `TransformStream` from plaintext chunks to an envelope message, one frame in
   * memory at a time (`readable.pipeThrough(kms.encryptStream({ keyIds }))`).
   * @example await readable.pipeThrough(kms.encryptStream({ keyIds: [keyId] })).pipeTo(writable);
   */
  encryptStream(opts: EnvelopeStreamOptions, _cipher?: FrameCipherFactory): TransformStream<Uint8Array, Uint8Array> {
    const n = this.#n;
    let w: FrameWriter;
    return new TransformStream<Uint8Array, Uint8Array>({
      start: (c) =>
        call(async () => {
          const b = began(await n.beginEnvelope(keyIdList(opts?.keyIds), opts.encryptionContext, u32('FrameLength', opts.frameLength), undefined, signingKey(opts.signingKeyId)));
          w = new FrameWriter(await frameCipher(b.messageKey, _cipher), b.frameLength, this.#signedWriting(b.header));
          c.enqueue(b.header.slice());
        }),
      transform: (chunk, c) =>
        call(async () => {
          for (const f of await w.push(bytes('Chunk', chunk))) c.enqueue(f);
        }),
      flush: (c) => call(async () => c.enqueue(await w.finish())),
    });
  }

  /** A `TransformStream` from an envelope message to its plaintext.
   * @example await readable.pipeThrough(kms.decryptStream()).pipeTo(writable);
   */
  decryptStream(opts: DecryptStreamOptions = {}, _cipher?: FrameCipherFactory): EnvelopeDecryptStream {
    const n = this.#n;
    // The header as it arrives, in a buffer that doubles (so arrival in many small
    // chunks costs linear copying), and how long it must be before it can be opened
    // (asked of the core only when that length is reached: a few dozen times at most).
    let head: Uint8Array = new Uint8Array(0);
    let headBuf: Uint8Array = new Uint8Array(0);
    let need = 1;
    let r: FrameReader | undefined;
    let resolve!: (i: EnvelopeInfo) => void;
    let reject!: (e: unknown) => void;
    const infoP = new Promise<EnvelopeInfo>((a, b) => {
      resolve = a;
      reject = b;
    });
    infoP.catch(() => {});
    const guard = async (f: () => Promise<void>) => {
      try {
        await call(f);
      } catch (e) {
        reject(e);
        throw e;
      }
    };
    const ts = new TransformStream<Uint8Array, Uint8Array>({
      transform: (chunk, c) =>
        guard(async () => {
          const b = bytes('Chunk', chunk);
          if (r) {
            for (const p of await r.push(b)) c.enqueue(p);
            return;
          }
          if (head.length + b.length > headBuf.length) {
            const grown = new Uint8Array(Math.max(2 * headBuf.length, head.length + b.length, 4096));
            grown.set(head);
            headBuf = grown;
          }
          headBuf.set(b, head.length);
          head = headBuf.subarray(0, head.length + b.length);
          if (head.length < need) return;
          need = n.headerNeeds(head);
          if (need > head.length) return;
          const h = await n.openEnvelope(head, opts.encryptionContext ?? null, false, opts.requiredEncryptionContext ?? null, signingKey(opts.requiredSigner, 'RequiredSigner'));
          if (h === null) return;
          r = new FrameReader(await frameCipher(h.messageKey, _cipher), h.frameLength, signedReading(h, head));
          resolve(info(h));
          const rest = head.slice(h.headerLength);
          head = headBuf = new Uint8Array(0);
          for (const p of await r.push(rest)) c.enqueue(p);
        }),
      flush: () =>
        guard(async () => {
          if (!r) {
            // Still no header at the end: the core says why (empty, or cut short).
            const h = await n.openEnvelope(head, opts.encryptionContext ?? null, true, opts.requiredEncryptionContext ?? null, signingKey(opts.requiredSigner, 'RequiredSigner'));
            r = new FrameReader(await frameCipher(h.messageKey, _cipher), h.frameLength, signedReading(h, head));
          }
          r.finish();
        }),
    });
    return Object.assign(ts, { info: infoP });
  }

  /** Node only: `encryptStream` as a Node `Duplex` for `stream.pipeline`.
   * @example await pipeline(createReadStream('in'), kms.createEncryptStream({ keyIds: [keyId] }), createWriteStream('in.sren'));
   */
  createEncryptStream(opts: EnvelopeStreamOptions): NodeDuplex {
    if (!platform?.toNodeDuplex) throw invalid('Platform', 'Node streams need Node; use encryptStream');
    // Checked here, at the call: a bad option must not become an 'error' event later,
    // which crashes a process that has not piped the stream yet.
    const ids = keyIdList(opts?.keyIds);
    if (ids.length === 0) throw invalid('KeyIds', 'at least one key is required');
    if (ids.length > 16) throw invalid('KeyIds', 'at most 16 keys per message');
    u32('FrameLength', opts.frameLength);
    if (opts.encryptionContext !== undefined && (opts.encryptionContext === null || typeof opts.encryptionContext !== 'object')) {
      throw invalid('EncryptionContext', 'must be an object of string values');
    }
    return platform.toNodeDuplex(this.encryptStream(opts)) as NodeDuplex;
  }

  /** Node only: `decryptStream` as a Node `Duplex` for `stream.pipeline`.
   * @example await pipeline(createReadStream('in.sren'), kms.createDecryptStream(), createWriteStream('out'));
   */
  createDecryptStream(opts: DecryptStreamOptions = {}): NodeDuplex & { readonly info: Promise<EnvelopeInfo> } {
    if (!platform?.toNodeDuplex) throw invalid('Platform', 'Node streams need Node; use decryptStream');
    const t = this.decryptStream(opts);
    const d = platform.toNodeDuplex(t) as NodeDuplex & { info: Promise<EnvelopeInfo> };
    // The header's KeyId and EncryptionContext, as on decryptStream (check them before
    // trusting the plaintext). A stream that fails before its header also rejects it;
    // that rejection is handled here so it is never unhandled.
    t.info.catch(() => {});
    Object.defineProperty(d, 'info', { value: t.info, enumerable: false });
    return d;
  }

  /** Reuses envelope data keys within these limits (`null` turns the cache off). A
   * cached data key still obeys its CMK's state.
   * @example kms.setDataKeyCache({ maxAgeMs: 60_000, maxMessages: 1000 });
   */
  setDataKeyCache(opts: DataKeyCacheOptions | null): void {
    if (opts === null) {
      this.#n.setDataKeyCache(false, 0, 0, 0, 0);
      return;
    }
    this.#n.setDataKeyCache(true, opts.maxAgeMs ?? 300_000, opts.maxMessages ?? 1000, opts.maxBytes ?? 2 ** 30, opts.capacity ?? 64);
  }

  /** GenerateDataKeyWithoutPlaintext: only the wrapped data key.
     * @example const { ciphertextBlob } = await kms.generateDataKeyWithoutPlaintext({ keyId }); */
  generateDataKeyWithoutPlaintext(opts: GenerateDataKeyOptions): Promise<DataKeyWithoutPlaintextResult> {
    return call(async () =>
      this.#n.generateDataKey(
        str('KeyId', opts?.keyId, true),
        str('KeySpec', opts.keySpec),
        u32('NumberOfBytes', opts.numberOfBytes),
        opts.encryptionContext,
        false,
      ),
    );
  }

  /** GenerateDataKeyPair: a fresh RSA or EC key pair for use outside the KMS — the private
   * key, the same private key encrypted under the symmetric CMK (Decrypt, with the same
   * encryptionContext, opens it) and the public key; PEM text bytes (the default) or DER.
   * The result logs its private key as `[redacted]`.
   * @example const { privateKeyPlaintext, publicKey } = await kms.generateDataKeyPair({ keyId, keyPairSpec: 'EC_P256' });
   */
  generateDataKeyPair(opts: GenerateDataKeyPairOptions): Promise<DataKeyPairResult> {
    return this.#act<DataKeyPairResult>('GenerateDataKeyPair', () => pairParams(opts), [
      'PrivateKeyPlaintext',
      'PrivateKeyCiphertextBlob',
      'PublicKey',
    ]).then((r) => secrets.redactValue(r, 'privateKeyPlaintext'));
  }

  /** GenerateDataKeyPairWithoutPlaintext: as generateDataKeyPair, without the plaintext private key.
   * @example const { privateKeyCiphertextBlob, publicKey } = await kms.generateDataKeyPairWithoutPlaintext({ keyId, keyPairSpec: 'RSA_2048', keyFormat: 'DER' });
   */
  generateDataKeyPairWithoutPlaintext(opts: GenerateDataKeyPairOptions): Promise<DataKeyPairWithoutPlaintextResult> {
    return this.#act('GenerateDataKeyPairWithoutPlaintext', () => pairParams(opts), ['PrivateKeyCiphertextBlob', 'PublicKey']);
  }

  /** GetPublicKey: the SubjectPublicKeyInfo of an asymmetric key version, PEM and DER.
   * @example const { publicKey } = await kms.getPublicKey({ keyId });
   */
  getPublicKey(opts: { keyId: string; keyVersionId?: string }): Promise<PublicKeyResult> {
    return this.#act<PublicKeyResult>('GetPublicKey', () => ({ KeyId: str('KeyId', opts?.keyId, true), KeyVersionId: str('KeyVersionId', opts.keyVersionId) })).then(
      (r) => ({ ...r, publicKeyDer: pemDer(r.publicKey) }),
    );
  }

  /** AsymmetricSign: RSA_PSS_SHA_256, RSA_PKCS1_SHA_256 or ECDSA_SHA_256 (DER).
   * @example const { value } = await kms.asymmetricSign({ keyId, algorithm: 'ECDSA_SHA_256', message });
   */
  asymmetricSign(opts: SignOptions): Promise<SignResult> {
    return call(async () => {
      const [digest, message] = signInput(opts);
      return this.#n.asymmetricSign(str('KeyId', opts.keyId, true), str('Algorithm', opts.algorithm, true), digest, message, str('KeyVersionId', opts.keyVersionId));
    });
  }

  /** AsymmetricVerify: `value` is whether `signature` verifies (a wrong one is `false`).
   * @example const { value: ok } = await kms.asymmetricVerify({ keyId, algorithm: 'ECDSA_SHA_256', message, signature });
   */
  asymmetricVerify(opts: SignOptions & { signature: Uint8Array }): Promise<VerifyResult> {
    return call(async () => {
      const [digest, message] = signInput(opts);
      return this.#n.asymmetricVerify(
        str('KeyId', opts.keyId, true),
        str('Algorithm', opts.algorithm, true),
        digest,
        message,
        bytes('Value', opts.signature),
        str('KeyVersionId', opts.keyVersionId),
      );
    });
  }

  /** AsymmetricEncrypt (RSA-OAEP; RSA_2048: at most 190 B with SHA-256, 214 B with SHA-1).
   * @example const { ciphertextBlob } = await kms.asymmetricEncrypt({ keyId, algorithm: 'RSAES_OAEP_SHA_256', plaintext });
   */
  asymmetricEncrypt(opts: { keyId: string; algorithm: EncryptionAlgorithm; plaintext: Uint8Array; keyVersionId?: string }): Promise<AsymmetricEncryptResult> {
    return this.#act(
      'AsymmetricEncrypt',
      () => ({
        KeyId: str('KeyId', opts?.keyId, true),
        Algorithm: str('Algorithm', opts.algorithm, true),
        Plaintext: bytes('Plaintext', opts.plaintext),
        KeyVersionId: str('KeyVersionId', opts.keyVersionId),
      }),
      ['CiphertextBlob'],
    );
  }

  /** AsymmetricDecrypt (RSA-OAEP); every failure is `InvalidCiphertext`.
   * @example const { plaintext } = await kms.asymmetricDecrypt({ keyId, algorithm: 'RSAES_OAEP_SHA_256', ciphertextBlob });
   */
  asymmetricDecrypt(opts: { keyId: string; algorithm: EncryptionAlgorithm; ciphertextBlob: Uint8Array; keyVersionId?: string }): Promise<AsymmetricDecryptResult> {
    return this.#act<AsymmetricDecryptResult>(
      'AsymmetricDecrypt',
      () => ({
        KeyId: str('KeyId', opts?.keyId, true),
        Algorithm: str('Algorithm', opts.algorithm, true),
        CiphertextBlob: bytes('CiphertextBlob', opts.ciphertextBlob),
        KeyVersionId: str('KeyVersionId', opts.keyVersionId),
      }),
      ['Plaintext'],
    ).then((r) => secrets.redactValue(r, 'plaintext'));
  }

  /** ExportDataKey: the data key in `ciphertextBlob` re-wrapped under an RSA public key
   * (SubjectPublicKeyInfo, DER or PEM bytes).
   * @example const { exportedDataKey } = await kms.exportDataKey({ ciphertextBlob, publicKeyBlob: spkiDer });
   */
  exportDataKey(opts: {
    ciphertextBlob: Uint8Array;
    publicKeyBlob: Uint8Array;
    wrappingAlgorithm?: WrappingAlgorithm;
    wrappingKeySpec?: 'RSA_2048' | 'RSA_3072' | 'RSA_4096';
    encryptionContext?: EncryptionContext;
  }): Promise<ExportDataKeyResult> {
    return this.#act(
      'ExportDataKey',
      () => ({
        CiphertextBlob: bytes('CiphertextBlob', opts?.ciphertextBlob),
        PublicKeyBlob: bytes('PublicKey', opts.publicKeyBlob),
        WrappingAlgorithm: str('WrappingAlgorithm', opts.wrappingAlgorithm),
        WrappingKeySpec: str('WrappingKeySpec', opts.wrappingKeySpec),
        EncryptionContext: ctx(opts.encryptionContext),
      }),
      ['ExportedDataKey'],
    );
  }

  /** GenerateAndExportDataKey: a new data key under the CMK (`ciphertextBlob`) and under
   * the caller's RSA public key (`exportedDataKey`); no plaintext is returned.
   * @example const r = await kms.generateAndExportDataKey({ keyId, publicKeyBlob: spkiDer });
   */
  generateAndExportDataKey(
    opts: GenerateDataKeyOptions & {
      publicKeyBlob: Uint8Array;
      wrappingAlgorithm?: WrappingAlgorithm;
      wrappingKeySpec?: 'RSA_2048' | 'RSA_3072' | 'RSA_4096';
    },
  ): Promise<GenerateAndExportDataKeyResult> {
    return this.#act(
      'GenerateAndExportDataKey',
      () => ({
        KeyId: str('KeyId', opts?.keyId, true),
        PublicKeyBlob: bytes('PublicKey', opts.publicKeyBlob),
        WrappingAlgorithm: str('WrappingAlgorithm', opts.wrappingAlgorithm),
        WrappingKeySpec: str('WrappingKeySpec', opts.wrappingKeySpec),
        KeySpec: str('KeySpec', opts.keySpec),
        NumberOfBytes: u32('NumberOfBytes', opts.numberOfBytes),
        EncryptionContext: ctx(opts.encryptionContext),
      }),
      ['CiphertextBlob', 'ExportedDataKey'],
    );
  }

  /** GetParametersForImport (BYOK): an RSA_2048 wrapping public key (SPKI DER) and an
   * ImportToken valid for 24 hours, for a key created with `origin: 'EXTERNAL'`. The
   * wrapping key pair is made in pure Rust here: expect ~1 s.
   * @example const { publicKey, importToken } = await kms.getParametersForImport({ keyId });
   */
  getParametersForImport(opts: {
    keyId: string;
    wrappingAlgorithm?: 'RSAES_OAEP_SHA_256' | 'RSAES_OAEP_SHA_1';
    wrappingKeySpec?: 'RSA_2048';
  }): Promise<ImportParameters> {
    return this.#act(
      'GetParametersForImport',
      () => ({
        KeyId: str('KeyId', opts?.keyId, true),
        WrappingAlgorithm: str('WrappingAlgorithm', opts.wrappingAlgorithm),
        WrappingKeySpec: str('WrappingKeySpec', opts.wrappingKeySpec),
      }),
      ['PublicKey'],
    );
  }

  /** ImportKeyMaterial (BYOK): `encryptedKeyMaterial` is the raw key material (16, 24 or
   * 32 bytes) RSA-OAEP-encrypted to the import public key. `keyMaterialExpireUnix`
   * (Unix seconds; 0 or absent = never) sends the key back to PendingImport.
   * @example await kms.importKeyMaterial({ keyId, encryptedKeyMaterial, importToken });
   */
  importKeyMaterial(opts: { keyId: string; encryptedKeyMaterial: Uint8Array; importToken: string; keyMaterialExpireUnix?: number }): Promise<KeyMetadata> {
    return this.#key('ImportKeyMaterial', () => {
      const t = opts?.keyMaterialExpireUnix;
      if (t !== undefined && !(typeof t === 'number' && Number.isInteger(t) && t >= 0)) throw invalid('KeyMaterialExpireUnix', 'must be whole Unix seconds');
      return {
        KeyId: str('KeyId', opts.keyId, true),
        EncryptedKeyMaterial: bytes('EncryptedKeyMaterial', opts.encryptedKeyMaterial),
        ImportToken: str('ImportToken', opts.importToken, true),
        KeyMaterialExpireUnix: t,
      };
    });
  }

  /** DeleteKeyMaterial (BYOK): the key goes back to PendingImport.
   * @example await kms.deleteKeyMaterial({ keyId });
   */
  deleteKeyMaterial(opts: { keyId: string }): Promise<KeyMetadata> {
    return this.#key('DeleteKeyMaterial', () => ({ KeyId: str('KeyId', opts?.keyId, true) }));
  }
}

// --- RSA / P-256 private-key operations on WebCrypto (the `platformCrypto` option).
// The wasm core hands over a key's PKCS#8 with its SHA-256 fingerprint; the key is
// imported once as a non-extractable CryptoKey and the bytes handed over are wiped.
// Answering null leaves the operation to the wasm core.

const SIGN: Record<string, { import: object; sign: object; curve?: boolean }> = {
  'RSA_PSS_SHA_256': { import: { name: 'RSA-PSS', hash: 'SHA-256' }, sign: { name: 'RSA-PSS', saltLength: 32 } },
  'RSA_PKCS1_SHA_256': { import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5' } },
  'ECDSA_SHA_256': { import: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' }, curve: true },
};
const OAEP: Record<string, string> = { RSAES_OAEP_SHA_256: 'SHA-256', RSAES_OAEP_SHA_1: 'SHA-1' };

function platformAsym(enabled: boolean | undefined): object | undefined {
  if (enabled === false) return undefined;
  const subtle: SubtleCrypto | undefined = (globalThis as any).crypto?.subtle;
  if (!subtle) return undefined;
  const keys = new Map<string, Promise<CryptoKey | null>>();
  const key = (id: string, pkcs8: Uint8Array, alg: object, usage: KeyUsage): Promise<CryptoKey | null> => {
    let k = keys.get(id);
    if (!k) {
      if (keys.size >= 1024) keys.clear();
      k = subtle.importKey('pkcs8', pkcs8 as Uint8Array<ArrayBuffer>, alg as any, false, [usage]).catch(() => null);
      keys.set(id, k);
    }
    return k.finally(() => pkcs8.fill(0));
  };
  return {
    async sign(fp: string, spec: string, pkcs8: Uint8Array, alg: string, message: Uint8Array): Promise<Uint8Array | null> {
      const p = SIGN[alg];
      if (!p || (p.curve && spec !== 'EC_P256')) return pkcs8.fill(0) && null;
      const k = await key(`${fp}/${alg}`, pkcs8, p.import, 'sign');
      return k ? new Uint8Array(await subtle.sign(p.sign as any, k, message as Uint8Array<ArrayBuffer>)) : null;
    },
    async decrypt(fp: string, _spec: string, pkcs8: Uint8Array, alg: string, ciphertext: Uint8Array): Promise<Uint8Array | null> {
      const hash = OAEP[alg];
      if (!hash) return pkcs8.fill(0) && null;
      const k = await key(`${fp}/${alg}`, pkcs8, { name: 'RSA-OAEP', hash }, 'decrypt');
      return k ? new Uint8Array(await subtle.decrypt({ name: 'RSA-OAEP' }, k, ciphertext as Uint8Array<ArrayBuffer>)) : null;
    },
  };
}

/** The `digest` and `message` given, type-checked; the core takes exactly one. */
function signInput(opts: { digest?: Uint8Array; message?: Uint8Array }): [Uint8Array | undefined, Uint8Array | undefined] {
  if (!opts) throw invalid('Digest', 'required');
  const d = opts.digest === undefined ? undefined : bytes('Digest', opts.digest);
  const m = opts.message === undefined ? undefined : bytes('Message', opts.message);
  return [d, m];
}

/** Verifies a signature with a public key from anywhere (SubjectPublicKeyInfo, DER or
 * PEM bytes) — no KMS key needed. A wrong signature is `false`.
 * @example const ok = await verifySignature({ publicKey: der, keySpec: 'EC_P256', algorithm: 'ECDSA_SHA_256', signature, message });
 */
export async function verifySignature(opts: {
  publicKey: Uint8Array;
  keySpec: AsymmetricKeySpec;
  algorithm: SigningAlgorithm;
  signature: Uint8Array;
  digest?: Uint8Array;
  message?: Uint8Array;
}): Promise<boolean> {
  const n = await native();
  return call(async () => {
    const [digest, message] = signInput(opts);
    const publicKey = bytes('PublicKey', opts.publicKey);
    const spec = str('KeySpec', opts.keySpec, true)!;
    const alg = str('Algorithm', opts.algorithm, true)!;
    const signature = bytes('Value', opts.signature);
    if (message !== undefined && digest === undefined) {
      const r = await webCryptoVerify(n, publicKey, spec, alg, signature, message);
      if (r !== null) return r;
    }
    return n.verifySignature(publicKey, spec, alg, signature, digest, message);
  });
}

/** verifySignature on WebCrypto (RSA PSS / PKCS#1 with ≥ 2048-bit keys, P-256), or
 * null to leave it to the wasm core: no WebCrypto, another algorithm, or a key
 * WebCrypto does not take (the wasm core then names the error). */
const verifiers = new Map<string, Promise<CryptoKey | null>>();
async function webCryptoVerify(n: any, publicKey: Uint8Array, spec: string, alg: string, signature: Uint8Array, message: Uint8Array): Promise<boolean | null> {
  const subtle: SubtleCrypto | undefined = (globalThis as any).crypto?.subtle;
  const p = SIGN[alg];
  if (!subtle || !p || (p.curve ? spec !== 'EC_P256' : !spec.startsWith('RSA_'))) return null;
  let der: Uint8Array;
  try {
    der = publicKey[0] === 0x30 ? publicKey : n.spkiDer(publicKey); // DER as is, PEM decoded
  } catch {
    return null;
  }
  const id = `${alg}/${String.fromCharCode.apply(null, der as unknown as number[])}`;
  let k = verifiers.get(id);
  if (!k) {
    if (verifiers.size >= 1024) verifiers.clear();
    k = subtle
      .importKey('spki', der as Uint8Array<ArrayBuffer>, p.import as any, false, ['verify'])
      .then((key) => (p.curve || ((key.algorithm as RsaHashedKeyAlgorithm).modulusLength ?? 0) >= 2048 ? key : null))
      .catch(() => null);
    verifiers.set(id, k);
  }
  const key = await k;
  if (!key) return null;
  const sig = p.curve ? n.ecdsaDerToRaw(spec, signature) : signature;
  if (!sig) return false;
  return subtle.verify(p.sign as any, key, sig as Uint8Array<ArrayBuffer>, message as Uint8Array<ArrayBuffer>);
}

async function frameCipher(key: Uint8Array, factory?: FrameCipherFactory): Promise<FrameCipher> {
  const f = factory ?? platform?.frameCipher ?? wasmCipher(await native());
  try {
    return await f(key);
  } finally {
    key.fill(0);
  }
}

/** The wasm core's `beginEnvelope` answer, `u32 frameLength ‖ messageKey (32) ‖
 * header`, as views into it (frameCipher() wipes the key's bytes). */
function began(r: Uint8Array): { frameLength: number; messageKey: Uint8Array; header: Uint8Array } {
  return { frameLength: new DataView(r.buffer, r.byteOffset, 4).getUint32(0), messageKey: r.subarray(4, 36), header: r.subarray(36) };
}

function info(h: any): EnvelopeInfo {
  const i: EnvelopeInfo = { keyId: h.keyId, keyVersionId: h.keyVersionId, encryptionContext: h.encryptionContext, messageId: h.messageId };
  if (h.signer) i.signer = { keyId: h.signer.keyId, keyVersionId: h.signer.keyVersionId, publicKey: h.signer.publicKey, known: h.signer.known };
  return i;
}

/** A signing-key option: a string, or undefined. */
function signingKey(k: unknown, name = 'SigningKeyId'): string | undefined {
  if (k === undefined || k === null) return undefined;
  if (typeof k !== 'string' || !k) throw invalid(name, 'must be a KeyId, alias or ARN');
  return k;
}

/** The FrameReader's signature check for an opened signed header (`h.signer`): ECDSA
 * P-256 / SHA-256 with the header's public key, on the platform's verifier. */
function signedReading(h: any, bytesFrom: Uint8Array): SignedReading | undefined {
  if (!h.signer) return undefined;
  const publicKey: Uint8Array = h.signer.publicKey;
  return {
    header: bytesFrom.slice(0, h.headerLength),
    verify: (message, signature) => verifySignature({ publicKey, keySpec: 'EC_P256', algorithm: 'ECDSA_SHA_256', signature, message }),
  };
}

/** Reads the header of `ct` with as few bytes copied into wasm as possible (a header
 * with one or two recipients is a few hundred bytes; copying 64 KiB for it was a tenth
 * of the fixed cost of a decryption); the last try passes everything there is, and the
 * core names what is wrong. */
async function openHeader(n: any, ct: Uint8Array, ctx: EncryptionContext | undefined, required?: EncryptionContext, requiredSigner?: string): Promise<any> {
  let size = Math.min(ct.length, 4096);
  for (;;) {
    const last = size >= ct.length || size >= MAX_HEADER_LEN;
    const h = await n.openEnvelope(ct.subarray(0, size), ctx ?? null, last, required ?? null, requiredSigner);
    if (h !== null) return h;
    size = Math.min(ct.length, size * 16, MAX_HEADER_LEN);
  }
}

/** The serving end of the remote-backend wire protocol over an in-process software
 * backend: `Kms.memory({ transport: (r) => server.handle(r) })`.
 *
 * Its handles are sealed by a key kept in the server's own store — the `kms` given
 * to `software` (alias `alias/strongroom/backend-server-handles`) — so a server
 * restarted on the same store still serves every key it made; each handle works
 * only for its key's spec and usage. */
export class BackendServer {
  #n: any;
  private constructor(n: any) {
    this.#n = n;
  }
  /** A server for software keys kept in `kms`'s store.
   * @example const server = await BackendServer.software({ kms }); */
  static async software(opts: { kms: Kms }): Promise<BackendServer> {
    const n = await native();
    if (!(opts?.kms instanceof Kms)) throw invalid('Kms', 'BackendServer.software needs { kms }: the Kms whose store keeps its handle key');
    return call(async () => new BackendServer(await n.NativeBackendServer.software(Kms._nativeOf(opts.kms))));
  }
  /** Makes a fresh client key and admits it: give `{ id, secret }` to the client
   * (`Kms.open({ transport, clientKey })`). Keys live in this server object: add them
   * again (`addClient`) after a restart.
   * @example const clientKey = server.createClient(); // give it to the client, keep it secret
   */
  createClient(): ClientKey {
    return callSync(() => this.#n.createClient());
  }
  /** Admits a client key (replacing one with the same id).
   * @example server.addClient(savedClientKey);
   */
  addClient(key: ClientKey): void {
    callSync(() => this.#n.addClient(str('ClientKey', key?.id, true), bytes('ClientKey', key.secret)));
  }
  /** Withdraws a client key; whether it was admitted.
   * @example server.removeClient(clientKey.id);
   */
  removeClient(id: string): boolean {
    return this.#n.removeClient(str('ClientKey', id, true));
  }
  /** Serves unauthenticated wire-protocol version-1 requests too (off by default:
   * only over a channel that authenticates both ends).
   * @example server.acceptV1(false);
   */
  acceptV1(accept: boolean): void {
    this.#n.setAcceptV1(accept === true);
  }
  /** Answers one wire-protocol request (what a transport's POST body carries).
   * @example res.end(await server.handle(body)); */
  handle(request: Uint8Array): Promise<Uint8Array> {
    return this.#n.handle(bytes('Request', request));
  }
}

/** Hazmat for the shared test vectors only. @internal */
export async function _vectorSeal(v: {
  material: Uint8Array; nonce: Uint8Array; keyId: string; keyVersionId: string; plaintext: Uint8Array; encryptionContext?: EncryptionContext;
}): Promise<Uint8Array> {
  const n = await native();
  return call(async () => n.vectorSeal(v.material, v.nonce, v.keyId, v.keyVersionId, v.plaintext, v.encryptionContext));
}

/** Hazmat for the shared test vectors only: opens a message with an explicit data key,
 * running the frames on `cipher` (default: the platform's). The streaming reader and
 * the one-shot `openAll` must agree, on the plaintext or on the error. @internal */
export async function _vectorOpenEnvelope(dataKey: Uint8Array, message: Uint8Array, cipher?: FrameCipherFactory): Promise<Uint8Array> {
  const n = await native();
  return call(async () => {
    const h = n.vectorEnvelopeKey(dataKey, message);
    const fc = await frameCipher(h.messageKey, cipher);
    const body = message.subarray(h.headerLength);
    // A signed vector's signature is checked as a reader checks it.
    const signer = parseEnvelopeHeader(message)?.signer;
    const sr = () => (signer ? signedReading({ signer, headerLength: h.headerLength }, message) : undefined);
    const settle = (p: Promise<Uint8Array>) => p.then((v) => ({ v, e: undefined }), (e) => ({ v: undefined, e }));
    const streamed = await settle(
      (async () => {
        const r = new FrameReader(fc, h.frameLength, sr());
        const parts = await r.push(body);
        r.finish();
        return concat(parts);
      })(),
    );
    const oneShot = await settle(new FrameReader(fc, h.frameLength, sr()).openAll(body));
    const same =
      streamed.v && oneShot.v
        ? streamed.v.length === oneShot.v.length && streamed.v.every((b, i) => b === oneShot.v[i])
        : streamed.e !== undefined && oneShot.e !== undefined && streamed.e.code === oneShot.e.code && streamed.e.message === oneShot.e.message;
    if (!same) throw new Error('openAll and push disagree');
    if (streamed.e !== undefined) throw streamed.e;
    return streamed.v as Uint8Array;
  });
}

/** Hazmat for the shared test vectors only: re-encrypts a vector's body on `cipher`
 * under its own header, which must reproduce the vector byte for byte. @internal */
export async function _vectorResealEnvelope(dataKey: Uint8Array, message: Uint8Array, plaintext: Uint8Array, cipher?: FrameCipherFactory): Promise<Uint8Array> {
  const n = await native();
  return call(async () => {
    const h = n.vectorEnvelopeKey(dataKey, message);
    const fc = await frameCipher(h.messageKey, cipher);
    const w = new FrameWriter(fc, h.frameLength);
    const frames = await w.push(plaintext);
    const streamed = concat([message.subarray(0, h.headerLength), ...frames, await w.finish()]);
    // The one-shot writer (frames sealed in place, several in flight on an asynchronous
    // cipher) must produce the same bytes.
    const oneShot = await new FrameWriter(fc, h.frameLength).sealAll(message.subarray(0, h.headerLength), plaintext);
    if (oneShot.length !== streamed.length || oneShot.some((b, i) => b !== streamed[i])) throw new Error('sealAll and push disagree');
    return streamed;
  });
}

/** The frame ciphers this runtime has, for tests. @internal */
export async function _frameCiphers(): Promise<Record<string, FrameCipherFactory>> {
  const out: Record<string, FrameCipherFactory> = { wasm: wasmCipher(await native()) };
  if (platform?.frameCipher) out.platform = platform.frameCipher;
  if (globalThis.crypto?.subtle) out.webcrypto = webCryptoCipher;
  return out;
}

/** Parameters of the access actions: Alibaba's, in camelCase (`{ userName: 'ingest' }`);
 * policy documents may be objects. */
export type AccessParams = Record<string, unknown>;
/** Alibaba's response JSON (PascalCase), with `RequestId`. */
export type AccessAnswer = Record<string, unknown>;

// RAM, STS, key and secret policies and the audit settings: one method each, taking
// the action's parameters in camelCase and answering Alibaba's JSON, through the same
// dispatch as `call` (and so authorised and audited like every action).
export interface Kms {
  /** CreateUser (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.createUser({ … }); */
  createUser(p: { userName: string; displayName?: string; comments?: string; accountId?: string }): Promise<AccessAnswer>;
  /** GetUser (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.getUser({ … }); */
  getUser(p: { userName: string }): Promise<AccessAnswer>;
  /** ListUsers (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.listUsers({ … }); */
  listUsers(p?: AccessParams): Promise<AccessAnswer>;
  /** DeleteUser (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.deleteUser({ … }); */
  deleteUser(p: { userName: string }): Promise<AccessAnswer>;
  /** CreateRole (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.createRole({ … }); */
  createRole(p: { roleName: string; assumeRolePolicyDocument: string | object; description?: string; maxSessionDuration?: number }): Promise<AccessAnswer>;
  /** GetRole (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.getRole({ … }); */
  getRole(p: { roleName: string }): Promise<AccessAnswer>;
  /** ListRoles (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.listRoles({ … }); */
  listRoles(p?: AccessParams): Promise<AccessAnswer>;
  /** DeleteRole (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.deleteRole({ … }); */
  deleteRole(p: { roleName: string }): Promise<AccessAnswer>;
  /** The answer's `AccessKey.AccessKeySecret` is shown this once.
   * @example const { AccessKey } = await kms.createAccessKey({ userName: 'ingest' });
   */
  createAccessKey(p: { userName: string }): Promise<AccessAnswer>;
  /** UpdateAccessKey (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.updateAccessKey({ … }); */
  updateAccessKey(p: { userName: string; userAccessKeyId: string; status: 'Active' | 'Inactive' }): Promise<AccessAnswer>;
  /** DeleteAccessKey (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.deleteAccessKey({ … }); */
  deleteAccessKey(p: { userName: string; userAccessKeyId: string }): Promise<AccessAnswer>;
  /** ListAccessKeys (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.listAccessKeys({ … }); */
  listAccessKeys(p: { userName: string }): Promise<AccessAnswer>;
  /** Registers a client key's RSA_2048 public key (PEM) for the dedicated-instance API.
   * @example await kms.createClientKey({ userName: 'ingest', publicKey: pem });
   */
  createClientKey(p: { userName: string; publicKey: string; notAfter?: string }): Promise<AccessAnswer>;
  /** CreatePolicy (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.createPolicy({ … }); */
  createPolicy(p: { policyName: string; policyDocument: string | object; description?: string }): Promise<AccessAnswer>;
  /** GetPolicy (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.getPolicy({ … }); */
  getPolicy(p: { policyName: string; policyType?: 'System' | 'Custom' }): Promise<AccessAnswer>;
  /** ListPolicies (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.listPolicies({ … }); */
  listPolicies(p?: { policyType?: 'System' | 'Custom' }): Promise<AccessAnswer>;
  /** DeletePolicy (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.deletePolicy({ … }); */
  deletePolicy(p: { policyName: string }): Promise<AccessAnswer>;
  /** AttachPolicyToUser (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.attachPolicyToUser({ … }); */
  attachPolicyToUser(p: { policyType: 'System' | 'Custom'; policyName: string; userName: string }): Promise<AccessAnswer>;
  /** DetachPolicyFromUser (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.detachPolicyFromUser({ … }); */
  detachPolicyFromUser(p: { policyType: 'System' | 'Custom'; policyName: string; userName: string }): Promise<AccessAnswer>;
  /** AttachPolicyToRole (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.attachPolicyToRole({ … }); */
  attachPolicyToRole(p: { policyType: 'System' | 'Custom'; policyName: string; roleName: string }): Promise<AccessAnswer>;
  /** DetachPolicyFromRole (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.detachPolicyFromRole({ … }); */
  detachPolicyFromRole(p: { policyType: 'System' | 'Custom'; policyName: string; roleName: string }): Promise<AccessAnswer>;
  /** ListPoliciesForUser (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.listPoliciesForUser({ … }); */
  listPoliciesForUser(p: { userName: string }): Promise<AccessAnswer>;
  /** ListPoliciesForRole (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.listPoliciesForRole({ … }); */
  listPoliciesForRole(p: { roleName: string }): Promise<AccessAnswer>;
  /** Temporary credentials for a role session (`Credentials.{AccessKeyId,
   * AccessKeySecret, SecurityToken, Expiration}`): what a browser should hold.
   * @example const { Credentials } = await kms.assumeRole({ roleArn, roleSessionName: 'page', durationSeconds: 900 });
   */
  assumeRole(p: { roleArn: string; roleSessionName: string; durationSeconds?: number }): Promise<AccessAnswer>;
  /** SetKeyPolicy (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.setKeyPolicy({ … }); */
  setKeyPolicy(p: { keyId: string; policy: string | object; policyName?: 'default' }): Promise<AccessAnswer>;
  /** GetKeyPolicy (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.getKeyPolicy({ … }); */
  getKeyPolicy(p: { keyId: string; policyName?: 'default' }): Promise<AccessAnswer>;
  /** SetSecretPolicy (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.setSecretPolicy({ … }); */
  setSecretPolicy(p: { secretName: string; policy: string | object; policyName?: 'default' }): Promise<AccessAnswer>;
  /** GetSecretPolicy (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.getSecretPolicy({ … }); */
  getSecretPolicy(p: { secretName: string; policyName?: 'default' }): Promise<AccessAnswer>;
  /** SimulatePolicy (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.simulatePolicy({ … }); */
  simulatePolicy(p: {
    principalArn: string;
    actionName: string;
    resourceArn?: string;
    encryptionContext?: string | object;
    sourceIp?: string;
    secureTransport?: boolean;
    currentTime?: string;
    credentialExpiration?: string;
  }): Promise<AccessAnswer>;
  /** SetAuditLevel (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.setAuditLevel({ … }); */
  setAuditLevel(p: { auditLevel: AuditLevel }): Promise<AccessAnswer>;
  /** DescribeAuditConfig (Alibaba's parameters in camelCase; answers Alibaba's JSON). @example await kms.describeAuditConfig({ … }); */
  describeAuditConfig(p?: AccessParams): Promise<AccessAnswer>;
}

const ACCESS_ACTIONS = [
  'CreateUser', 'GetUser', 'ListUsers', 'DeleteUser',
  'CreateRole', 'GetRole', 'ListRoles', 'DeleteRole',
  'CreateAccessKey', 'UpdateAccessKey', 'DeleteAccessKey', 'ListAccessKeys', 'CreateClientKey',
  'CreatePolicy', 'GetPolicy', 'ListPolicies', 'DeletePolicy',
  'AttachPolicyToUser', 'DetachPolicyFromUser', 'AttachPolicyToRole', 'DetachPolicyFromRole',
  'ListPoliciesForUser', 'ListPoliciesForRole', 'AssumeRole',
  'SetKeyPolicy', 'GetKeyPolicy', 'SetSecretPolicy', 'GetSecretPolicy',
  'SimulatePolicy', 'SetAuditLevel', 'DescribeAuditConfig',
] as const;

for (const action of ACCESS_ACTIONS) {
  const name = action[0].toLowerCase() + action.slice(1);
  Object.defineProperty(Kms.prototype, name, {
    value(this: Kms, p: AccessParams = {}) {
      if (!p || typeof p !== 'object' || Array.isArray(p)) throw invalid('Request', 'parameters must be an object');
      const wire: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(p)) {
        if (v === undefined) continue;
        wire[k[0].toUpperCase() + k.slice(1)] = v !== null && typeof v === 'object' && !(v instanceof Uint8Array) ? JSON.stringify(v) : v;
      }
      return this.call(action, wire);
    },
    writable: true,
    configurable: true,
  });
}
