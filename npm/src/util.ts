// Small helpers every entry point shares (the full package and strongroom/decrypt):
// written once here, bundled into each.

const REDACTED = '[redacted]';

/** Gives a result holding a secret value, plaintext or a data key a redacting
 * `util.inspect` / `toJSON` (the property itself stays readable). */
export function redactValue<T extends object>(o: T, field: string): T {
  const shown = (): Record<string, unknown> => ({ ...(o as Record<string, unknown>), [field]: REDACTED });
  Object.defineProperty(o, 'toJSON', { value: shown, enumerable: false });
  Object.defineProperty(o, Symbol.for('nodejs.util.inspect.custom'), {
    value: (_depth: number, options: object, inspect?: (v: unknown, o: object) => string) =>
      inspect ? inspect(shown(), options) : JSON.stringify(shown()),
    enumerable: false,
  });
  return o;
}

/** Standard base64 of `b` (in slices: no argument-count limit on large inputs). */
export function base64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

/** The bytes of standard base64 `s`. */
export function unbase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** An action's answer in Alibaba's JSON (what `Kms.call` resolves to) as this face
 * spells it, derived by name rather than mapped field by field: PascalCase keys →
 * camelCase (`KeyVersionId` → `keyVersionId`), Alibaba's list wrappers unwrapped
 * (`{ Keys: { Key: [...] } }` → `keys: [...]`), `RequestId` dropped, and the wire
 * fields named in `binary` (base64 on the wire) as `Uint8Array`s. */
export function fromWire<T>(o: Record<string, unknown>, binary: readonly string[] = []): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'RequestId') continue;
    const name = k[0]!.toLowerCase() + k.slice(1);
    out[name] = binary.includes(k) && typeof v === 'string' ? unbase64(v) : wireValue(v, binary);
  }
  return out as T;
}

function wireValue(v: unknown, binary: readonly string[]): unknown {
  if (Array.isArray(v)) return v.map((x) => (isRecord(x) ? fromWire(x, binary) : x));
  if (!isRecord(v)) return v;
  const inner = Object.values(v);
  if (inner.length === 1 && Array.isArray(inner[0])) return wireValue(inner[0], binary);
  return fromWire(v, binary);
}

/** The DER inside a PEM block. */
export function pemDer(pem: string): Uint8Array {
  return unbase64(pem.split('\n').filter((l) => l && !l.startsWith('-----')).join(''));
}
