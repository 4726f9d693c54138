// The frame layer of envelope messages (docs/FORMAT.md §Frames) run on the platform's
// AES-GCM: node:crypto in Node, WebCrypto in browsers, the wasm core's RustCrypto
// AES-GCM where neither exists. The wasm core keeps everything else — the header, the
// data keys and their CMKs, the key commitment — and hands over only the per-message
// key. Checked against tests/vectors/envelope_v1.json on every path.

/** AES-256-GCM under one per-message key. `seal` returns ciphertext‖tag; `open`
 * throws when the tag does not verify. */
export interface FrameCipher {
  /** AES-256-GCM seal: ciphertext ‖ 16-byte tag. */
  seal(nonce: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> | Uint8Array;
  /** AES-256-GCM open; throws when the tag does not verify. */
  open(nonce: Uint8Array, sealed: Uint8Array): Promise<Uint8Array> | Uint8Array;
  /** Optional: seal straight into `out` (plaintext.length + 16 bytes), saving a copy. */
  sealInto?(nonce: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void;
  /** Optional: open straight into `out` (sealed.length - 16 bytes); throws when the
   * tag does not verify, with `out` wiped. */
  openInto?(nonce: Uint8Array, sealed: Uint8Array, out: Uint8Array): void;
  /** Optional: an output buffer of `n` bytes that the caller overwrites completely
   * before anyone sees it (Node: not zero-filled first, which was a tenth of a 1 MiB
   * one-shot). */
  alloc?(n: number): Uint8Array;
}
/** Makes a FrameCipher for one per-message key. */
export type FrameCipherFactory = (key: Uint8Array) => Promise<FrameCipher>;

const TAG = 16;
const REGULAR = 0x00;
const FINAL = 0x01;
/** The first hash of a signed message's chain (docs/FORMAT.md §Suite 0x0002). */
const SIGNATURE_LABEL = new TextEncoder().encode('strongroom-envelope-v1 signature');

/** SHA-256 of the parts, concatenated (WebCrypto: browsers and Node >= 20). */
export async function sha256(...parts: Uint8Array[]): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', concat(parts) as BufferSource));
}

/** A signed message's hash chain: h_0 = SHA-256(label ‖ header), h_i = SHA-256(h_(i-1) ‖ frame i). */
class Chain {
  #h: Promise<Uint8Array>;
  constructor(header: Uint8Array) {
    this.#h = sha256(SIGNATURE_LABEL, header);
  }
  absorb(frame: Uint8Array): void {
    const prev = this.#h;
    const f = frame.slice();
    this.#h = prev.then((h) => sha256(h, f));
  }
  /** h_n: what the signature is over (the KMS signs its SHA-256 digest). */
  value(): Promise<Uint8Array> {
    return this.#h;
  }
}

/** How a FrameWriter signs a message (suite 0x0002): the header it follows, and the
 * KMS's AsymmetricSign (ECDSA_SHA_256) of a digest, DER. */
export interface SignedWriting {
  header: Uint8Array;
  sign(digest: Uint8Array): Promise<Uint8Array>;
}
/** How a FrameReader checks a signed message: its header, and an ECDSA P-256 / SHA-256
 * verification of `message` (h_n) with the header's public key. */
export interface SignedReading {
  header: Uint8Array;
  verify(message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

function trailer(signature: Uint8Array): Uint8Array {
  // What the KMS answered, not the message: a backend fault.
  if (signature.length < 8 || signature.length > 72) throw { code: 'Rejected.BackendProtocol', kind: 'Backend', message: 'AsymmetricSign answered an ECDSA P-256 signature of unexpected length' };
  const t = new Uint8Array(2 + signature.length);
  new DataView(t.buffer).setUint16(0, signature.length);
  t.set(signature, 2);
  return t;
}
const MAX_FRAMES = 0xffffffff;
/** Frames a one-shot encryption keeps in flight on an asynchronous cipher. */
const IN_FLIGHT = 8;

/** The error a frame-layer failure raises; api.ts turns `{ code, kind, message }`
 * objects into StrongroomError subclasses. */
export function envelopeError(code: string, message: string): { code: string; kind: string; message: string } {
  return { code, kind: 'InvalidCiphertext', message };
}

/** `[0,0,0] ‖ u64 seq ‖ type` */
export function frameNonce(seq: number, kind: number): Uint8Array {
  const n = new Uint8Array(12);
  const v = new DataView(n.buffer);
  v.setUint32(3, Math.floor(seq / 0x100000000));
  v.setUint32(7, seq >>> 0);
  n[11] = kind;
  return n;
}

/** Encrypts plaintext chunks into frames, holding back at most one frame. */
export class FrameWriter {
  #c: FrameCipher;
  #f: number;
  #signed: SignedWriting | undefined;
  #chain: Chain | undefined;
  // One frame of buffer, allocated on first use: the one-shot sealAll never needs it.
  #buf: Uint8Array | undefined;
  #fill = 0;
  #seq = 0;
  constructor(cipher: FrameCipher, frameLength: number, signed?: SignedWriting) {
    this.#c = cipher;
    this.#f = frameLength;
    this.#signed = signed;
    this.#chain = signed ? new Chain(signed.header) : undefined;
  }

  /** A signed message's trailer, once every frame went through the chain. */
  async #trailer(): Promise<Uint8Array> {
    const s = this.#signed;
    const c = this.#chain;
    if (!s || !c) return new Uint8Array(0);
    return trailer(await s.sign(await sha256(await c.value())));
  }

  /** Seals one frame; writes it at `into[at]` when given (no extra copy), else
   * returns it. */
  async #frame(kind: number, pt: Uint8Array, into?: Uint8Array, at = 0): Promise<Uint8Array> {
    if (this.#c.sealInto) return this.#frameSync(kind, pt, into, at);
    const [out, n, head] = this.#slot(kind, pt, into, at);
    out.set(await this.#c.seal(n, pt), head);
    return out;
  }

  /** As #frame, for a cipher with `sealInto`. */
  #frameSync(kind: number, pt: Uint8Array, into?: Uint8Array, at = 0): Uint8Array {
    const [out, n, head] = this.#slot(kind, pt, into, at);
    this.#c.sealInto?.(n, pt, out.subarray(head));
    return out;
  }

  /** Next sequence number: the frame's bytes (type and length filled in), its nonce
   * and where its ciphertext starts. */
  #slot(kind: number, pt: Uint8Array, into?: Uint8Array, at = 0): [Uint8Array, Uint8Array, number] {
    this.#seq += 1;
    if (this.#seq > MAX_FRAMES) throw { code: 'InvalidParameter.Plaintext', kind: 'InvalidParameter', message: 'too many frames for one message' };
    const head = kind === FINAL ? 5 : 1;
    const out = into ? into.subarray(at, at + head + pt.length + TAG) : new Uint8Array(head + pt.length + TAG);
    out[0] = kind;
    if (kind === FINAL) new DataView(out.buffer, out.byteOffset, 5).setUint32(1, pt.length);
    return [out, frameNonce(this.#seq, kind), head];
  }

  /** The whole message's length for `n` plaintext bytes after a `headerLength` header. */
  static messageLength(headerLength: number, frameLength: number, n: number): number {
    const regular = n === 0 ? 0 : Math.floor((n - 1) / frameLength);
    return headerLength + regular * (1 + frameLength + TAG) + 5 + (n - regular * frameLength) + TAG;
  }

  /** One-shot: the header then every frame of `pt`, written into one exact buffer. */
  async sealAll(header: Uint8Array, pt: Uint8Array): Promise<Uint8Array> {
    const f = this.#f;
    const n = FrameWriter.messageLength(header.length, f, pt.length);
    const out = this.#c.alloc ? this.#c.alloc(n) : new Uint8Array(n);
    out.set(header, 0);
    let at = header.length;
    let i = 0;
    // A synchronous cipher (node:crypto) runs the whole loop without a microtask
    // per frame.
    if (this.#c.sealInto !== undefined) {
      while (pt.length - i > f) {
        at += this.#frameSync(REGULAR, pt.subarray(i, i + f), out, at).length;
        i += f;
      }
      this.#frameSync(FINAL, pt.subarray(i), out, at);
      return this.#signed ? this.#signAll(out, header.length) : out;
    }
    // An asynchronous one (WebCrypto) gets up to IN_FLIGHT frames at once: each frame's
    // place in `out` and its sequence number are fixed before it is sealed.
    const jobs: (() => Promise<void>)[] = [];
    while (true) {
      const last = pt.length - i <= f;
      const chunk = last ? pt.subarray(i) : pt.subarray(i, i + f);
      const [slot, nonce, head] = this.#slot(last ? FINAL : REGULAR, chunk, out, at);
      jobs.push(async () => slot.set(await this.#c.seal(nonce, chunk), head));
      at += slot.length;
      i += chunk.length;
      if (last) break;
    }
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) await jobs[next++]();
    };
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, jobs.length) }, worker));
    return this.#signed ? this.#signAll(out, header.length) : out;
  }

  /** A one-shot signed message: the chain over `out`'s frames (in order), then the
   * signature appended. */
  async #signAll(out: Uint8Array, headerLength: number): Promise<Uint8Array> {
    let at = headerLength;
    while (at < out.length) {
      const kind = out[at];
      const n = kind === FINAL ? 5 + new DataView(out.buffer, out.byteOffset + at + 1, 4).getUint32(0) + TAG : 1 + this.#f + TAG;
      this.#chain?.absorb(out.subarray(at, at + n));
      at += n;
    }
    const t = await this.#trailer();
    const whole = new Uint8Array(out.length + t.length);
    whole.set(out);
    whole.set(t, out.length);
    out.fill(0);
    return whole;
  }

  /** Frames completed by `chunk` (a frame is emitted only once more data follows it). */
  async push(chunk: Uint8Array): Promise<Uint8Array[]> {
    const out = await this.#push(chunk);
    for (const fr of out) this.#chain?.absorb(fr);
    return out;
  }

  async #push(chunk: Uint8Array): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    let i = 0;
    const f = this.#f;
    while (this.#fill === 0 && chunk.length - i > f) {
      out.push(await this.#frame(REGULAR, chunk.subarray(i, i + f)));
      i += f;
    }
    while (i < chunk.length) {
      const buf = (this.#buf ??= new Uint8Array(f));
      if (this.#fill === f) {
        out.push(await this.#frame(REGULAR, buf));
        this.#fill = 0;
      }
      const take = Math.min(f - this.#fill, chunk.length - i);
      buf.set(chunk.subarray(i, i + take), this.#fill);
      this.#fill += take;
      i += take;
    }
    return out;
  }

  /** The final frame (and a signed message's signature trailer). */
  async finish(): Promise<Uint8Array> {
    const buf = this.#buf ?? new Uint8Array(0);
    const last = await this.#frame(FINAL, buf.subarray(0, this.#fill));
    buf.fill(0);
    if (!this.#signed) return last;
    this.#chain?.absorb(last);
    return concat([last, await this.#trailer()]);
  }
}

/** Decrypts frames, releasing a frame's plaintext only after its tag verifies. */
export class FrameReader {
  #c: FrameCipher;
  #f: number;
  #signed: SignedReading | undefined;
  #chain: Chain | undefined;
  /** A signed message's final frame plaintext, released once the signature verifies. */
  #held: Uint8Array | undefined;
  #trailer: Uint8Array | undefined;
  #verified = false;
  // One frame of buffer for frames split across chunks, allocated on first need.
  #acc: Uint8Array | undefined;
  #len = 0;
  #seq = 0;
  #done = false;
  #failed: unknown;
  constructor(cipher: FrameCipher, frameLength: number, signed?: SignedReading) {
    this.#c = cipher;
    this.#f = frameLength;
    this.#signed = signed;
    this.#chain = signed ? new Chain(signed.header) : undefined;
  }

  get done(): boolean {
    return this.#done && (!this.#signed || this.#verified);
  }

  /** Takes trailer bytes from `chunk` at `i`; once whole, verifies the signature and
   * releases the held final frame. Returns where it stopped in `chunk`. */
  async #takeTrailer(chunk: Uint8Array, i: number, out: Uint8Array[]): Promise<number> {
    const t = this.#trailer ?? new Uint8Array(0);
    const want = t.length < 2 ? 2 : 2 + new DataView(t.buffer, t.byteOffset, 2).getUint16(0);
    const take = Math.min(want - t.length, chunk.length - i);
    const grown = new Uint8Array(t.length + take);
    grown.set(t);
    grown.set(chunk.subarray(i, i + take), t.length);
    this.#trailer = grown;
    i += take;
    if (grown.length >= 2 && grown.length === 2 + new DataView(grown.buffer, grown.byteOffset, 2).getUint16(0)) {
      const sig = grown.subarray(2);
      const ok = sig.length >= 8 && sig.length <= 72 && this.#signed && this.#chain && (await this.#signed.verify(await this.#chain.value(), sig).catch(() => false));
      if (!ok) {
        this.#held?.fill(0);
        throw envelopeError('InvalidCiphertext.Signature', 'the envelope\'s signature does not verify (altered, or not made by its signer)');
      }
      this.#verified = true;
      if (this.#held) out.push(this.#held);
      this.#held = undefined;
    }
    return i;
  }

  /** The frame starting at `b`'s total length, or undefined until it can be known. */
  #total(b: Uint8Array): number | undefined {
    if (b.length === 0) return undefined;
    if (b[0] === REGULAR) return 1 + this.#f + TAG;
    if (b[0] === FINAL) {
      if (b.length < 5) return undefined;
      const l = new DataView(b.buffer, b.byteOffset, 5).getUint32(1);
      if (l > this.#f) throw envelopeError('InvalidCiphertext.MalformedEnvelope', 'the envelope is malformed: final frame longer than the frame length');
      return 5 + l + TAG;
    }
    throw envelopeError('InvalidCiphertext.MalformedEnvelope', 'the envelope is malformed: unknown frame type');
  }

  async #open(frame: Uint8Array): Promise<Uint8Array> {
    const kind = frame[0];
    this.#seq += 1;
    if (this.#seq > MAX_FRAMES) throw envelopeError('InvalidCiphertext.MalformedEnvelope', 'the envelope is malformed: too many frames');
    const sealed = frame.subarray(kind === FINAL ? 5 : 1);
    let pt: Uint8Array;
    try {
      pt = await this.#c.open(frameNonce(this.#seq, kind), sealed);
    } catch {
      throw envelopeError(
        'InvalidCiphertext.FrameAuthentication',
        `frame ${this.#seq} of the envelope failed authentication (altered, reordered or dropped)`,
      );
    }
    this.#chain?.absorb(frame);
    if (kind === FINAL) this.#done = true;
    return pt;
  }

  /** Opens a frame; a signed message's final frame is held back. */
  async #openOut(frame: Uint8Array, out: Uint8Array[]): Promise<void> {
    const pt = await this.#open(frame);
    if (this.#signed && frame[0] === FINAL) this.#held = pt;
    else out.push(pt);
  }

  async #step(chunk: Uint8Array, out: Uint8Array[]): Promise<void> {
    let i = 0;
    for (;;) {
      if (this.#done) {
        if (this.#signed && !this.#verified) {
          if (i >= chunk.length) return;
          i = await this.#takeTrailer(chunk, i, out);
          continue;
        }
        if (i < chunk.length || this.#len > 0) throw envelopeError('InvalidCiphertext.TrailingData', 'bytes follow the envelope\'s final frame');
        return;
      }
      if (i >= chunk.length) return;
      if (this.#len === 0) {
        const rest = chunk.subarray(i);
        const t = this.#total(rest);
        if (t !== undefined && rest.length >= t) {
          await this.#openOut(rest.subarray(0, t), out);
          i += t;
          continue;
        }
      }
      const acc = (this.#acc ??= new Uint8Array(5 + this.#f + TAG));
      const known = this.#total(acc.subarray(0, this.#len));
      const want = known ?? 5;
      const take = Math.max(1, Math.min(want - this.#len, chunk.length - i));
      acc.set(chunk.subarray(i, i + take), this.#len);
      this.#len += take;
      i += take;
      const t = this.#total(acc.subarray(0, this.#len));
      if (t !== undefined && this.#len === t) {
        await this.#openOut(acc.slice(0, t), out);
        this.#len = 0;
      }
    }
  }

  /** Where each frame of a whole message body starts, its type and its plaintext
   * length; undefined unless `body` is exactly well-formed frames up to a final one. */
  #layout(body: Uint8Array): { frames: [number, number, number][]; total: number } | undefined {
    const frames: [number, number, number][] = [];
    let total = 0;
    let i = 0;
    try {
      while (i < body.length) {
        const t = this.#total(body.subarray(i));
        if (t === undefined || body.length - i < t || frames.length >= MAX_FRAMES) return undefined;
        const kind = body[i];
        const n = t - (kind === FINAL ? 5 : 1) - TAG;
        frames.push([i, kind, n]);
        total += n;
        i += t;
        if (kind === FINAL) return i === body.length ? { frames, total } : undefined;
      }
    } catch {
      return undefined;
    }
    return undefined;
  }

  /** One-shot: the plaintext of a whole message body (everything after the header).
   * Several frames are decrypted into one buffer when the cipher can open into
   * place, instead of each into its own and then copied together. That buffer is
   * returned only once every frame has authenticated, and wiped when one does not.
   * A body that is not exactly well-formed frames goes through `push`, which names
   * what is wrong with it. */
  async openAll(body: Uint8Array): Promise<Uint8Array> {
    const openInto = this.#c.openInto;
    // A signed body ends with its signature: it goes through `push`, which checks it.
    const layout = openInto && !this.#signed && this.#seq === 0 && this.#len === 0 && this.#failed === undefined ? this.#layout(body) : undefined;
    // One frame: the cipher's own output buffer is handed over as is, with no copy.
    if (!openInto || !layout || layout.frames.length === 1) {
      const parts = await this.push(body);
      this.finish();
      return concat(parts, this.#c.alloc);
    }
    const out = this.#c.alloc ? this.#c.alloc(layout.total) : new Uint8Array(layout.total);
    let o = 0;
    for (const [at, kind, n] of layout.frames) {
      this.#seq += 1;
      const head = kind === FINAL ? 5 : 1;
      try {
        openInto(frameNonce(this.#seq, kind), body.subarray(at + head, at + head + n + TAG), out.subarray(o, o + n));
      } catch {
        out.fill(0);
        this.#failed = envelopeError(
          'InvalidCiphertext.FrameAuthentication',
          `frame ${this.#seq} of the envelope failed authentication (altered, reordered or dropped)`,
        );
        throw this.#failed;
      }
      o += n;
    }
    this.#done = true;
    return out;
  }

  /** Plaintext of every frame `chunk` completes. After an error, every call fails. */
  async push(chunk: Uint8Array): Promise<Uint8Array[]> {
    if (this.#failed !== undefined) throw this.#failed;
    const out: Uint8Array[] = [];
    try {
      await this.#step(chunk, out);
    } catch (e) {
      this.#failed = e;
      throw e;
    }
    return out;
  }

  /** Throws unless the final frame (and a signed message's signature) was seen. */
  finish(): void {
    if (this.#failed !== undefined) throw this.#failed;
    if (!this.done) {
      this.#held?.fill(0);
      throw envelopeError('InvalidCiphertext.Truncated', 'the envelope ends before its final frame');
    }
  }
}

export function concat(parts: Uint8Array[], alloc?: (n: number) => Uint8Array): Uint8Array {
  // A single part that owns its whole ArrayBuffer is handed over as is (as a plain
  // Uint8Array): nothing else can be reached through its `.buffer`.
  const only = parts.length === 1 ? parts[0] : undefined;
  if (only && only.byteOffset === 0 && only.byteLength === only.buffer.byteLength) {
    return only.constructor === Uint8Array ? only : new Uint8Array(only.buffer, 0, only.byteLength);
  }
  let n = 0;
  for (const p of parts) n += p.length;
  const out = alloc ? alloc(n) : new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** WebCrypto AES-GCM (browsers, and Node's globalThis.crypto). The key is imported
 * non-extractable. */
export const webCryptoCipher: FrameCipherFactory = async (key) => {
  const subtle = globalThis.crypto.subtle;
  const k = await subtle.importKey('raw', key as BufferSource, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  return {
    seal: async (iv, pt) => new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: iv as BufferSource, tagLength: 128 }, k, pt as BufferSource)),
    open: async (iv, ct) => new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: iv as BufferSource, tagLength: 128 }, k, ct as BufferSource)),
  };
};

/** The wasm core's AES-GCM (RustCrypto), for platforms without WebCrypto. */
export function wasmCipher(n: { envelopeFrameSeal(k: Uint8Array, iv: Uint8Array, p: Uint8Array): Uint8Array; envelopeFrameOpen(k: Uint8Array, iv: Uint8Array, c: Uint8Array): Uint8Array }): FrameCipherFactory {
  return async (key) => {
    const k = key.slice();
    return {
      seal: (iv, pt) => n.envelopeFrameSeal(k, iv, pt),
      open: (iv, ct) => n.envelopeFrameOpen(k, iv, ct),
    };
  };
}
