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
