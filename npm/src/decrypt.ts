// `strongroom/decrypt`: envelope decryption (docs/FORMAT.md §Envelope message) on the
// platform's WebCrypto, with no wasm — for pages that only ever open messages a
// service made. The header is parsed and checked here, the data key is unwrapped by
// the caller's `unwrap` (a gateway's Decrypt through `gatewayUnwrap`, or any function),
// the message key and commitment come from WebCrypto's HKDF, and the frames are opened
// by the same FrameReader the full package uses. Checked against
// tests/vectors/envelope_v1.json in Node and Chromium.
import { FrameReader, frameNonce, webCryptoCipher } from './envelope.js';
import { base64 as b64, redactValue, unbase64 as unb64 } from './util.js';
import type { SignedReading } from './envelope.js';
import { BackendError, callSync as call, convert } from './errors.js';

export {
  StrongroomError,
  InvalidParameterError,
  KeyNotFoundError,
  KeyStateError,
  InvalidCiphertextError,
  AccessDeniedError,
  BackendError,
  RejectedError,
} from './errors.js';

/** EncryptionContext: string pairs bound as AAD (order does not matter). */
export type EncryptionContext = Record<string, string>;

/** One recipient stanza's wrapped data key, to be unwrapped by the key it names. */
export interface UnwrapRequest {
  /** The KeyId the stanza names (as written by the sender: a KeyId, alias or ARN). */
  keyId: string;
  keyVersionId: string;
  /** The stanza's ciphertext blob (docs/FORMAT.md §Ciphertext blob): what KMS Decrypt takes. */
  ciphertextBlob: Uint8Array;
  /** The message's EncryptionContext: the blob's context. */
  encryptionContext: EncryptionContext;
}
/** Unwraps one stanza's data key (32 bytes). Throw an error with code
 * `Forbidden.KeyNotFound` for a key this reader does not hold: the next stanza is
 * tried. Any other error is remembered, and reported if no stanza opens. */
export type Unwrap = (request: UnwrapRequest) => Promise<Uint8Array>;

/** The signer a signed message's header names (suite 0x0002, docs/FORMAT.md). */
export interface Signer {
  keyId: string;
  keyVersionId: string;
  /** SubjectPublicKeyInfo DER of its EC P-256 public key. */
  publicKey: Uint8Array;
}
/** Who signed a message, as a reader reports it: the signature verified with
 * `publicKey`; `known` when it is the `requiredSigner`'s public key. */
export interface EnvelopeSigner extends Signer {
  known: boolean;
}

/** A recipient the header names. */
export interface Recipient {
  keyId: string;
  keyVersionId: string;
}
/** What a header says before anything is authenticated (see `parseEnvelopeHeader`). */
export interface EnvelopeHeaderInfo {
  version: number;
  suite: number;
  messageId: Uint8Array;
  encryptionContext: EncryptionContext;
  frameLength: number;
  /** The kms-blob recipients, in order (stanzas of other types are not listed). */
  recipients: Recipient[];
  /** Suite 0x0002: the signer the header names (not yet verified). */
  signer?: Signer;
  /** Header bytes, tag included: the frames start here. */
  headerLength: number;
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
export interface DecryptEnvelopeResult extends EnvelopeInfo {
  plaintext: Uint8Array;
}
export interface OpenOptions {
  /** Unwraps a stanza's data key: `gatewayUnwrap(…)` or your own. */
  unwrap: Unwrap;
  /** When given, the message's context must equal it (`InvalidCiphertext.ContextMismatch`). */
  encryptionContext?: EncryptionContext;
  /** When given, each of these pairs must be in the message's context with this value;
   * other pairs are allowed (`InvalidCiphertext.ContextMismatch`). */
  requiredEncryptionContext?: EncryptionContext;
  /** When given, the message must be signed (suite 0x0002) by the key with this
   * public key (SPKI DER, e.g. `publicKeyDer` of GetPublicKey), and by this KeyId when
   * `keyId` is given (`InvalidCiphertext.SignerMismatch`, before any unwrap). */
  requiredSigner?: { publicKey: Uint8Array; keyId?: string };
}
export interface DecryptEnvelopeOptions extends OpenOptions {
  ciphertext: Uint8Array;
}
/** A `TransformStream` of envelope bytes to plaintext; `info` resolves once the header
 * has been authenticated. A frame's plaintext is enqueued only after it verifies; if
 * the stream errors later, discard what was read. */
export interface EnvelopeDecryptStream extends TransformStream<Uint8Array, Uint8Array> {
  readonly info: Promise<EnvelopeInfo>;
}

const MAGIC = [0x53, 0x52, 0x45, 0x4e];
const VERSION = 1;
const SUITE = 1;
const SUITE_SIGNED = 2;
const P256_SPKI_PREFIX = [0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04];
const ID_LEN = 32;
const COMMIT_LEN = 32;
const TAG_LEN = 16;
const DATA_KEY_LEN = 32;
const MAX_FRAME = 16 * 1024 * 1024;
const MAX_RECIPIENTS = 16;
const STANZA_KMS_BLOB = 0x01;
const MAX_CONTEXT_CHARS = 8192;
/** The largest header a valid message can have. */
const MAX_HEADER_LEN = 4 + 1 + 2 + ID_LEN + 2 + 65535 + 4 + 2 + MAX_RECIPIENTS * (3 + 65535) + (1 + 255 + 1 + 255 + 2 + 1024) + COMMIT_LEN + TAG_LEN;

type Failure = { code: string; kind: string; message: string };
const fail = (code: string, message: string): Failure => ({ code: `InvalidCiphertext.${code}`, kind: 'InvalidCiphertext', message });
const malformed = (what: string) => fail('MalformedEnvelope', `the envelope is malformed: ${what}`);
const utf8 = new TextDecoder('utf-8', { fatal: true });
const enc = new TextEncoder();

interface Header extends EnvelopeHeaderInfo {
  stanzas: { kind: number; body: Uint8Array }[];
  commitment: Uint8Array;
  tag: Uint8Array;
  authenticated: Uint8Array;
}

/** The canonical JSON form's length in code points (docs/FORMAT.md §EncryptionContext). */
function canonicalChars(pairs: [string, string][]): number {
  const str = (s: string) => {
    let n = 2;
    for (const ch of s) {
      const c = ch.codePointAt(0) ?? 0;
      n += ch === '"' || ch === '\\' || ch === '\n' || ch === '\r' || ch === '\t' ? 2 : c < 0x20 ? 6 : 1;
    }
    return n;
  };
  let n = 2 + Math.max(0, pairs.length - 1);
  for (const [k, v] of pairs) n += str(k) + 1 + str(v);
  return n;
}

function byteCompare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The canonical context encoding, or undefined when it is not canonical. */
function parseContext(b: Uint8Array): EncryptionContext | undefined {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 2) return undefined;
  const n = v.getUint16(0);
  let i = 2;
  const str = (): [Uint8Array, string] | undefined => {
    if (i + 2 > b.length) return undefined;
    const len = v.getUint16(i);
    if (i + 2 + len > b.length) return undefined;
    const raw = b.subarray(i + 2, i + 2 + len);
    i += 2 + len;
    try {
      return [raw, utf8.decode(raw)];
    } catch {
      return undefined;
    }
  };
  const pairs: [string, string][] = [];
  let last: Uint8Array | undefined;
  for (let p = 0; p < n; p++) {
    const k = str();
    const val = str();
    if (!k || !val) return undefined;
    if (last && byteCompare(last, k[0]) >= 0) return undefined;
    last = k[0];
    pairs.push([k[1], val[1]]);
  }
  if (i !== b.length || canonicalChars(pairs) > MAX_CONTEXT_CHARS) return undefined;
  const out: EncryptionContext = Object.create(null);
  for (const [k, val] of pairs) out[k] = val;
  return { ...out };
}

/** A ciphertext blob's KeyId and KeyVersionId, or undefined when it is not a blob v1. */
function blobKey(b: Uint8Array): Recipient | undefined {
  const visible = (s: Uint8Array) => s.length > 0 && s.every((c) => c >= 0x21 && c <= 0x7e);
  if (b.length < 2 || b[0] !== 0x01) return undefined;
  const n = b[1];
  const id = b.subarray(2, 2 + n);
  if (b.length < 3 + n) return undefined;
  const m = b[2 + n];
  const ver = b.subarray(3 + n, 3 + n + m);
  if (b.length < 3 + n + m + 12 + TAG_LEN || !visible(id) || !visible(ver)) return undefined;
  const ascii = (s: Uint8Array) => String.fromCharCode(...s);
  return { keyId: ascii(id), keyVersionId: ascii(ver) };
}

/** Parses a header at the start of `buf`: the header, or how many bytes it needs at
 * least before anything can change (a number greater than `buf.length`). */
function scan(buf: Uint8Array): Header | number {
  for (let i = 0; i < Math.min(buf.length, 4); i++) if (buf[i] !== MAGIC[i]) throw fail('NotAnEnvelope', 'not a strongroom envelope message');
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  const need = (n: number): number | undefined => {
    if (at + n > buf.length) return at + n;
    at += n;
    return undefined;
  };
  let more: number | undefined;
  if ((more = need(4))) return more;
  if ((more = need(1))) return more;
  const version = buf[4];
  if (version !== VERSION) throw fail('EnvelopeVersion', `envelope version ${version} is not supported (this reader knows 1)`);
  if ((more = need(2))) return more;
  const suite = v.getUint16(5);
  if (suite !== SUITE && suite !== SUITE_SIGNED) throw fail('EnvelopeSuite', `envelope suite ${suite} is not supported (this reader knows 1 and 2)`);
  if ((more = need(ID_LEN))) return more;
  const messageId = buf.slice(7, 7 + ID_LEN);
  if ((more = need(2))) return more;
  const c = v.getUint16(39);
  if ((more = need(c))) return more;
  const encryptionContext = parseContext(buf.subarray(41, 41 + c));
  if (!encryptionContext) throw malformed('EncryptionContext encoding');
  if ((more = need(4))) return more;
  const frameLength = v.getUint32(41 + c);
  if (frameLength === 0 || frameLength > MAX_FRAME) throw malformed('frame length out of range');
  if ((more = need(2))) return more;
  const count = v.getUint16(45 + c);
  if (count === 0) throw malformed('no recipient stanza');
  if (count > MAX_RECIPIENTS) throw fail('TooManyRecipients', `the envelope has ${count} recipient stanzas; at most ${MAX_RECIPIENTS}`);
  const stanzas: { kind: number; body: Uint8Array }[] = [];
  for (let s = 0; s < count; s++) {
    if ((more = need(3))) return more;
    const kind = buf[at - 3];
    const len = v.getUint16(at - 2);
    if ((more = need(len))) return more;
    stanzas.push({ kind, body: buf.slice(at - len, at) });
  }
  let signer: Signer | undefined;
  if (suite === SUITE_SIGNED) {
    const visible = (s: Uint8Array) => s.length > 0 && s.every((c) => c >= 0x21 && c <= 0x7e);
    if ((more = need(1))) return more;
    const n = buf[at - 1];
    if ((more = need(n))) return more;
    const id = buf.subarray(at - n, at);
    if ((more = need(1))) return more;
    const m = buf[at - 1];
    if ((more = need(m))) return more;
    const ver = buf.subarray(at - m, at);
    if ((more = need(2))) return more;
    const p = v.getUint16(at - 2);
    if (p > 1024) throw malformed('signer');
    if ((more = need(p))) return more;
    const publicKey = buf.slice(at - p, at);
    if (!visible(id) || !visible(ver) || publicKey.length !== 91 || !P256_SPKI_PREFIX.every((b, i) => publicKey[i] === b)) throw malformed('signer');
    signer = { keyId: String.fromCharCode(...id), keyVersionId: String.fromCharCode(...ver), publicKey };
  }
  if ((more = need(COMMIT_LEN))) return more;
  const commitment = buf.slice(at - COMMIT_LEN, at);
  const authenticated = buf.slice(0, at);
  if ((more = need(TAG_LEN))) return more;
  const tag = buf.slice(at - TAG_LEN, at);
  const recipients: Recipient[] = [];
  for (const s of stanzas) {
    const k = s.kind === STANZA_KMS_BLOB ? blobKey(s.body) : undefined;
    if (k) recipients.push(k);
  }
  return { version, suite, messageId, encryptionContext, frameLength, recipients, signer, headerLength: at, stanzas, commitment, tag, authenticated };
}

/** Reads the header at the start of `bytes` without authenticating it (nothing in it
 * can be trusted until a data key opens it): its recipients, context and frame length.
 * `undefined` when `bytes` ends inside the header.
 *
 * @example const h = parseEnvelopeHeader(message); console.log(h?.recipients);
 */
export function parseEnvelopeHeader(bytes: Uint8Array): EnvelopeHeaderInfo | undefined {
  const h = call(() => scan(checkBytes('Ciphertext', bytes)));
  if (typeof h === 'number') return undefined;
  const { stanzas: _s, commitment: _c, tag: _t, authenticated: _a, ...info } = h;
  return info;
}

function checkBytes(name: string, b: unknown): Uint8Array {
  if (!(b instanceof Uint8Array)) throw convert({ code: `InvalidParameter.${name}`, kind: 'InvalidParameter', message: `invalid ${name}: must be a Uint8Array` });
  return b;
}

function checkContext(name: string, c: unknown): EncryptionContext | undefined {
  if (c === undefined) return undefined;
  if (c === null || typeof c !== 'object' || Array.isArray(c) || !Object.values(c).every((x) => typeof x === 'string')) {
    throw convert({ code: `InvalidParameter.${name}`, kind: 'InvalidParameter', message: `invalid ${name}: must be an object of string values` });
  }
  return c as EncryptionContext;
}

function contextOk(ctx: EncryptionContext, exact?: EncryptionContext, required?: EncryptionContext): boolean {
  const has = (k: string) => Object.prototype.hasOwnProperty.call(ctx, k);
  if (exact) {
    const keys = Object.keys(exact);
    if (keys.length !== Object.keys(ctx).length || !keys.every((k) => has(k) && ctx[k] === exact[k])) return false;
  }
  return !required || Object.entries(required).every(([k, v]) => has(k) && ctx[k] === v);
}


const info = (label: string, suite: number) => {
  const l = enc.encode(label);
  const out = new Uint8Array(l.length + 2);
  out.set(l);
  out[l.length + 1] = suite;
  return out;
};

/** The message key after the commitment and the header tag check out. */
async function verify(dataKey: Uint8Array, h: Header): Promise<Uint8Array> {
  if (dataKey.length !== DATA_KEY_LEN) throw malformed('data key of the wrong length');
  const subtle = globalThis.crypto.subtle;
  const ikm = await subtle.importKey('raw', dataKey as BufferSource, 'HKDF', false, ['deriveBits']);
  const expand = async (i: Uint8Array) =>
    new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: h.messageId as BufferSource, info: i as BufferSource }, ikm, 256));
  const commitment = await expand(info('strongroom-envelope-v1 commit', h.suite));
  let diff = 0;
  for (let i = 0; i < COMMIT_LEN; i++) diff |= commitment[i] ^ h.commitment[i];
  if (diff !== 0) throw fail('KeyCommitment', 'the data key does not match the envelope\'s key commitment');
  const key = await expand(info('strongroom-envelope-v1 key', h.suite));
  const k = await subtle.importKey('raw', key as BufferSource, { name: 'AES-GCM' }, false, ['decrypt']);
  try {
    await subtle.decrypt({ name: 'AES-GCM', iv: frameNonce(0, 0x02) as BufferSource, additionalData: h.authenticated as BufferSource, tagLength: 128 }, k, h.tag as BufferSource);
  } catch {
    key.fill(0);
    throw fail('HeaderAuthentication', 'the envelope header was altered');
  }
  return key;
}

const codeOf = (e: unknown) => (e && typeof e === 'object' ? (e as { code?: unknown }).code : undefined);
const kindOf = (e: unknown) => (e && typeof e === 'object' ? (e as { kind?: unknown }).kind : undefined);

/** Opens a parsed header: the context checks, then each kms-blob stanza in order
 * until one unwraps (docs/FORMAT.md §Opening). */
async function open(h: Header, opts: OpenOptions): Promise<{ key: Uint8Array; info: EnvelopeInfo }> {
  if (!contextOk(h.encryptionContext, opts.encryptionContext, opts.requiredEncryptionContext)) {
    throw fail('ContextMismatch', 'the envelope\'s EncryptionContext is not the one expected');
  }
  // The signer, on the header, before any data key is unwrapped.
  const req = opts.requiredSigner;
  const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
  const known = !!(req && h.signer && same(req.publicKey, h.signer.publicKey) && (req.keyId === undefined || req.keyId === h.signer.keyId));
  if (req && !known) throw fail('SignerMismatch', 'the envelope is not signed by the signer required');
  const signer: EnvelopeSigner | undefined = h.signer && { ...h.signer, publicKey: h.signer.publicKey.slice(), known };
  let first: unknown;
  for (const s of h.stanzas) {
    const r = s.kind === STANZA_KMS_BLOB ? blobKey(s.body) : undefined;
    if (!r) continue;
    let dk: Uint8Array;
    try {
      dk = await opts.unwrap({ ...r, ciphertextBlob: s.body.slice(), encryptionContext: { ...h.encryptionContext } });
      if (!(dk instanceof Uint8Array) || dk.length !== DATA_KEY_LEN) throw { code: 'InvalidCiphertext', kind: 'InvalidCiphertext', message: 'the stanza did not unwrap to a 32-byte data key' };
    } catch (e) {
      if (codeOf(e) === 'Forbidden.KeyNotFound') continue;
      // The gateway or HSM is down: no other stanza would fare better.
      if (kindOf(e) === 'Backend' || e instanceof BackendError) throw e;
      first ??= e;
      continue;
    }
    try {
      const key = await verify(dk, h);
      const i: EnvelopeInfo = { ...r, encryptionContext: { ...h.encryptionContext }, messageId: h.messageId.slice() };
      if (signer) i.signer = signer;
      return { key, info: i };
    } finally {
      dk.fill(0);
    }
  }
  throw first ?? { code: 'Forbidden.NoRecipientKey', kind: 'KeyNotFound', message: 'no recipient stanza of the envelope names a key this reader holds' };
}

/** DER ECDSA signature (SEQUENCE { INTEGER r, INTEGER s }) → WebCrypto's r ‖ s. */
function derToRaw(der: Uint8Array): Uint8Array | undefined {
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2) return undefined;
  const out = new Uint8Array(64);
  let at = 2;
  for (const half of [0, 32]) {
    if (der[at] !== 0x02) return undefined;
    const len = der[at + 1];
    let v = der.subarray(at + 2, at + 2 + len);
    if (len === 0 || len > 33 || v.length !== len || v[0] & 0x80) return undefined;
    while (v.length > 1 && v[0] === 0) v = v.subarray(1);
    if (v.length > 32) return undefined;
    out.set(v, half + 32 - v.length);
    at += 2 + len;
  }
  return at === der.length ? out : undefined;
}

/** The FrameReader's signature check for a signed header: ECDSA P-256 / SHA-256 on
 * WebCrypto with the header's public key. */
function signedReading(h: Header): SignedReading | undefined {
  const s = h.signer;
  if (!s) return undefined;
  const subtle = globalThis.crypto.subtle;
  const key = subtle.importKey('spki', s.publicKey as BufferSource, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  return {
    header: concatBytes(h.authenticated, h.tag),
    verify: async (message, signature) => {
      const raw = derToRaw(signature);
      if (!raw) return false;
      return subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, await key, raw as BufferSource, message as BufferSource);
    },
  };
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Decrypts a whole envelope message: its plaintext and which recipient opened it.
 *
 * @example const { plaintext } = await decryptEnvelope({ ciphertext, unwrap: gatewayUnwrap(creds) });
 */
export async function decryptEnvelope(opts: DecryptEnvelopeOptions): Promise<DecryptEnvelopeResult> {
  try {
    const ct = checkBytes('Ciphertext', opts?.ciphertext);
    const o = checkOptions(opts);
    const h = scan(ct);
    if (typeof h === 'number') throw ct.length === 0 ? fail('NotAnEnvelope', 'not a strongroom envelope message') : fail('Truncated', 'the envelope ends before its final frame');
    const { key, info: i } = await open(h, o);
    const cipher = await webCryptoCipher(key);
    const reader = new FrameReader(cipher, h.frameLength, signedReading(h));
    key.fill(0);
    const plaintext = await reader.openAll(ct.subarray(h.headerLength));
    return redactValue({ ...i, plaintext }, 'plaintext');
  } catch (e) {
    throw convert(e);
  }
}

function checkSigner(r: unknown): OpenOptions['requiredSigner'] {
  if (r === undefined) return undefined;
  const o = r as { publicKey?: unknown; keyId?: unknown };
  if (!o || !(o.publicKey instanceof Uint8Array) || (o.keyId !== undefined && typeof o.keyId !== 'string')) {
    throw { code: 'InvalidParameter.RequiredSigner', kind: 'InvalidParameter', message: 'invalid RequiredSigner: { publicKey: Uint8Array (SPKI DER), keyId?: string }' };
  }
  return { publicKey: o.publicKey, keyId: o.keyId as string | undefined };
}

function checkOptions(opts: OpenOptions): OpenOptions {
  if (typeof opts?.unwrap !== 'function') throw { code: 'InvalidParameter.Unwrap', kind: 'InvalidParameter', message: 'invalid Unwrap: a function is required (gatewayUnwrap(…) or your own)' };
  return {
    unwrap: opts.unwrap,
    encryptionContext: checkContext('EncryptionContext', opts.encryptionContext),
    requiredEncryptionContext: checkContext('RequiredEncryptionContext', opts.requiredEncryptionContext),
    requiredSigner: checkSigner(opts.requiredSigner),
  };
}


/** Decrypts a stream of envelope bytes (e.g. `(await fetch(url)).body.pipeThrough(…)`),
 * holding at most one frame; `info` resolves once the header is authenticated.
 *
 * @example const plain = response.body.pipeThrough(createDecryptStream({ unwrap }));
 */
export function createDecryptStream(opts: OpenOptions): EnvelopeDecryptStream {
  const o = call(() => checkOptions(opts));
  let head = new Uint8Array(0);
  let need = 1;
  let reader: FrameReader | undefined;
  let resolve!: (i: EnvelopeInfo) => void;
  let reject!: (e: unknown) => void;
  const infoP = new Promise<EnvelopeInfo>((a, b) => {
    resolve = a;
    reject = b;
  });
  infoP.catch(() => {});
  const guard = async (f: () => Promise<void>) => {
    try {
      await f();
    } catch (e) {
      const c = convert(e);
      reject(c);
      throw c;
    }
  };
  const ts = new TransformStream<Uint8Array, Uint8Array>({
    transform: (chunk, c) =>
      guard(async () => {
        const b = checkBytes('Chunk', chunk);
        if (reader) {
          for (const p of await reader.push(b)) c.enqueue(p);
          return;
        }
        const joined = new Uint8Array(head.length + b.length);
        joined.set(head);
        joined.set(b, head.length);
        head = joined;
        if (head.length < need) return;
        const h = scan(head.subarray(0, Math.min(head.length, MAX_HEADER_LEN)));
        if (typeof h === 'number') {
          need = h;
          return;
        }
        const { key, info: i } = await open(h, o);
        reader = new FrameReader(await webCryptoCipher(key), h.frameLength, signedReading(h));
        key.fill(0);
        resolve(i);
        const rest = head.slice(h.headerLength);
        head = new Uint8Array(0);
        for (const p of await reader.push(rest)) c.enqueue(p);
      }),
    flush: () =>
      guard(async () => {
        if (!reader) throw head.length === 0 ? fail('NotAnEnvelope', 'not a strongroom envelope message') : fail('Truncated', 'the envelope ends before its final frame');
        reader.finish();
      }),
  });
  return Object.assign(ts, { info: infoP });
}

/** Where `gatewayUnwrap` sends Decrypt, and as whom: the temporary credentials of
 * AssumeRole (with `securityToken`) are what a page should hold. */
export interface GatewayOptions {
  /** `https://host[:port]` of `strongroom serve` (its `--cors-origin` must list this page's origin). */
  endpoint: string;
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
  /** Defaults to `globalThis.fetch`. */
  fetch?: typeof fetch;
}

const hex = (b: ArrayBuffer) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
const pct = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** An `Unwrap` that calls Decrypt on a strongroom gateway (`strongroom serve`), signed
 * with ACS3-HMAC-SHA256 as Alibaba's SDKs sign (on WebCrypto). A key the gateway does
 * not hold (`Forbidden.KeyNotFound`) moves on to the next stanza.
 *
 * @example const unwrap = gatewayUnwrap({ endpoint, accessKeyId, accessKeySecret, securityToken });
 */
export function gatewayUnwrap(opts: GatewayOptions): Unwrap {
  const bad = (name: string, why: string) => convert({ code: `InvalidParameter.${name}`, kind: 'InvalidParameter', message: `invalid ${name}: ${why}` });
  let url: URL;
  try {
    url = new URL(String(opts?.endpoint));
  } catch {
    throw bad('Endpoint', 'must be https://host[:port] (or http:// on loopback)');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || (url.pathname !== '/' && url.pathname !== '') || url.search || url.username) {
    throw bad('Endpoint', 'must be scheme://host[:port] with no path, query or user');
  }
  if (typeof opts.accessKeyId !== 'string' || !opts.accessKeyId.trim()) throw bad('AccessKeyId', 'required');
  if (typeof opts.accessKeySecret !== 'string' || !opts.accessKeySecret) throw bad('AccessKeySecret', 'required');
  const send = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const secret = enc.encode(opts.accessKeySecret);
  const host = url.host;
  return async (r) => {
    const subtle = globalThis.crypto.subtle;
    const params: [string, string][] = [['CiphertextBlob', b64(r.ciphertextBlob)]];
    if (Object.keys(r.encryptionContext).length) params.push(['EncryptionContext', JSON.stringify(r.encryptionContext)]);
    const body = params.map(([k, v]) => `${pct(k)}=${pct(v)}`).join('&');
    const payload = hex(await subtle.digest('SHA-256', enc.encode(body)));
    const headers: [string, string][] = [
      ['host', host],
      ['x-acs-action', 'Decrypt'],
      ['x-acs-content-sha256', payload],
      ['x-acs-date', new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')],
    ];
    if (opts.securityToken) headers.push(['x-acs-security-token', opts.securityToken]);
    headers.push(['x-acs-signature-nonce', globalThis.crypto.randomUUID()], ['x-acs-version', '2016-01-20']);
    const canonical = ['POST', '/', '', headers.map(([k, v]) => `${k}:${v.trim()}\n`).join(''), headers.map(([k]) => k).join(';'), payload].join('\n');
    const toSign = `ACS3-HMAC-SHA256\n${hex(await subtle.digest('SHA-256', enc.encode(canonical)))}`;
    const mac = await subtle.importKey('raw', secret as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const signature = hex(await subtle.sign('HMAC', mac, enc.encode(toSign)));
    const sent: Record<string, string> = Object.fromEntries(headers.filter(([k]) => k !== 'host'));
    sent.authorization = `ACS3-HMAC-SHA256 Credential=${opts.accessKeyId},SignedHeaders=${headers.map(([k]) => k).join(';')},Signature=${signature}`;
    sent['content-type'] = 'application/x-www-form-urlencoded';
    sent.accept = 'application/json';
    let res: Response;
    try {
      res = await send(`${url.protocol}//${url.host}/`, { method: 'POST', headers: sent, body });
    } catch (e) {
      throw convert({ code: 'Rejected.BackendUnavailable', kind: 'Backend', message: `the gateway cannot be reached: ${(e as Error)?.message ?? e}` });
    }
    let json: Record<string, unknown>;
    try {
      json = await res.json();
    } catch {
      throw convert({ code: 'Rejected.BackendProtocol', kind: 'Backend', message: `the gateway answered HTTP ${res.status} with a body that is not JSON` });
    }
    if (res.status !== 200) {
      const code = typeof json.Code === 'string' ? json.Code : `HTTP${res.status}`;
      const kind = typeof json.Kind === 'string' ? json.Kind : gatewayKind(code, res.status);
      throw convert({ code, kind, message: typeof json.Message === 'string' ? json.Message : code });
    }
    if (typeof json.Plaintext !== 'string') throw convert({ code: 'Rejected.BackendProtocol', kind: 'Backend', message: 'the gateway\'s Decrypt answer has no Plaintext' });
    return unb64(json.Plaintext);
  };
}

/** The family of a code the gateway itself answers (it sends no `Kind`). */
function gatewayKind(code: string, status: number): string {
  const p = code.split('.')[0];
  if (['SignatureDoesNotMatch', 'IncompleteSignature', 'InvalidAccessKeyId', 'MissingAccessKeyId', 'InvalidSecurityToken', 'Forbidden', 'SignatureNonceUsed', 'InvalidTimeStamp'].includes(p)) return 'AccessDenied';
  if (['InvalidParameter', 'MissingParameter', 'InvalidAction', 'UnsupportedHTTPMethod', 'UnsupportedSignatureMethod', 'UnsupportedSignatureVersion'].includes(p)) return 'InvalidParameter';
  return status === 503 ? 'Backend' : 'Rejected';
}
