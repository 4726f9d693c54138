// The frame layer of envelope messages (docs/FORMAT.md §Frames) run on the platform's
// AES-GCM: node:crypto in Node, WebCrypto in browsers, the wasm core's RustCrypto
// AES-GCM where neither exists. The wasm core keeps everything else — the header, the
// data keys and their CMKs, the key commitment — and hands over only the per-message
// key. Checked against tests/vectors/envelope_v1.json on every path.

/** AES-256-GCM under one per-message key. `seal` returns ciphertext‖tag; `open`
 * throws when the tag does not verify. */
export interface FrameCipher {
  seal(nonce: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> | Uint8Array;
  open(nonce: Uint8Array, sealed: Uint8Array): Promise<Uint8Array> | Uint8Array;
  /** Optional: seal straight into `out` (plaintext.length + 16 bytes), saving a copy. */
  sealInto?(nonce: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void;
}
export type FrameCipherFactory = (key: Uint8Array) => Promise<FrameCipher>;

const TAG = 16;
const REGULAR = 0x00;
const FINAL = 0x01;
const MAX_FRAMES = 0xffffffff;

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
  #buf: Uint8Array;
  #fill = 0;
  #seq = 0;
  constructor(cipher: FrameCipher, frameLength: number) {
    this.#c = cipher;
    this.#f = frameLength;
    this.#buf = new Uint8Array(frameLength);
  }

  /** Seals one frame; writes it at `into[at]` when given (no extra copy), else
   * returns it. */
  async #frame(kind: number, pt: Uint8Array, into?: Uint8Array, at = 0): Promise<Uint8Array> {
    this.#seq += 1;
    if (this.#seq > MAX_FRAMES) throw { code: 'InvalidParameter.Plaintext', kind: 'InvalidParameter', message: 'too many frames for one message' };
    const head = kind === FINAL ? 5 : 1;
    const n = frameNonce(this.#seq, kind);
    const out = into ? into.subarray(at, at + head + pt.length + TAG) : new Uint8Array(head + pt.length + TAG);
    out[0] = kind;
    if (kind === FINAL) new DataView(out.buffer, out.byteOffset, 5).setUint32(1, pt.length);
    if (this.#c.sealInto) this.#c.sealInto(n, pt, out.subarray(head));
    else out.set(await this.#c.seal(n, pt), head);
    return out;
  }

  /** The whole message's length for `n` plaintext bytes after a `headerLength` header. */
  static messageLength(headerLength: number, frameLength: number, n: number): number {
    const regular = n === 0 ? 0 : Math.floor((n - 1) / frameLength);
    return headerLength + regular * (1 + frameLength + TAG) + 5 + (n - regular * frameLength) + TAG;
  }

  /** One-shot: the header then every frame of `pt`, written into one exact buffer. */
  async sealAll(header: Uint8Array, pt: Uint8Array): Promise<Uint8Array> {
    const f = this.#f;
    const out = new Uint8Array(FrameWriter.messageLength(header.length, f, pt.length));
    out.set(header, 0);
    let at = header.length;
    let i = 0;
    while (pt.length - i > f) {
      at += (await this.#frame(REGULAR, pt.subarray(i, i + f), out, at)).length;
      i += f;
    }
    await this.#frame(FINAL, pt.subarray(i), out, at);
    return out;
  }

  /** Frames completed by `chunk` (a frame is emitted only once more data follows it). */
  async push(chunk: Uint8Array): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    let i = 0;
    const f = this.#f;
    while (this.#fill === 0 && chunk.length - i > f) {
      out.push(await this.#frame(REGULAR, chunk.subarray(i, i + f)));
      i += f;
    }
    while (i < chunk.length) {
      if (this.#fill === f) {
        out.push(await this.#frame(REGULAR, this.#buf));
        this.#fill = 0;
      }
      const take = Math.min(f - this.#fill, chunk.length - i);
      this.#buf.set(chunk.subarray(i, i + take), this.#fill);
      this.#fill += take;
      i += take;
    }
    return out;
  }

  /** The final frame. */
  async finish(): Promise<Uint8Array> {
    const last = await this.#frame(FINAL, this.#buf.subarray(0, this.#fill));
    this.#buf.fill(0);
    return last;
  }
}

/** Decrypts frames, releasing a frame's plaintext only after its tag verifies. */
export class FrameReader {
  #c: FrameCipher;
  #f: number;
  #acc: Uint8Array;
  #len = 0;
  #seq = 0;
  #done = false;
  #failed: unknown;
  constructor(cipher: FrameCipher, frameLength: number) {
    this.#c = cipher;
    this.#f = frameLength;
    this.#acc = new Uint8Array(5 + frameLength + TAG);
  }

  get done(): boolean {
    return this.#done;
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
    if (kind === FINAL) this.#done = true;
    return pt;
  }

  async #step(chunk: Uint8Array, out: Uint8Array[]): Promise<void> {
    let i = 0;
    for (;;) {
      if (this.#done) {
        if (i < chunk.length || this.#len > 0) throw envelopeError('InvalidCiphertext.TrailingData', 'bytes follow the envelope\'s final frame');
        return;
      }
      if (i >= chunk.length) return;
      if (this.#len === 0) {
        const rest = chunk.subarray(i);
        const t = this.#total(rest);
        if (t !== undefined && rest.length >= t) {
          out.push(await this.#open(rest.subarray(0, t)));
          i += t;
          continue;
        }
      }
      const known = this.#total(this.#acc.subarray(0, this.#len));
      const want = known ?? 5;
      const take = Math.max(1, Math.min(want - this.#len, chunk.length - i));
      this.#acc.set(chunk.subarray(i, i + take), this.#len);
      this.#len += take;
      i += take;
      const t = this.#total(this.#acc.subarray(0, this.#len));
      if (t !== undefined && this.#len === t) {
        out.push(await this.#open(this.#acc.slice(0, t)));
        this.#len = 0;
      }
    }
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

  /** Throws unless the final frame was seen. */
  finish(): void {
    if (this.#failed !== undefined) throw this.#failed;
    if (!this.#done) throw envelopeError('InvalidCiphertext.Truncated', 'the envelope ends before its final frame');
  }
}

export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
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
