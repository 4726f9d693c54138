// The error classes every entry point throws (the full package and strongroom/decrypt),
// each with the stable Alibaba-style `code`.

/** Base of every strongroom error; `code` is stable (Alibaba KMS style). */
export class StrongroomError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
/** `InvalidParameter.*`: a request parameter is missing or malformed. */
export class InvalidParameterError extends StrongroomError {}
/** `Forbidden.KeyNotFound` / `Forbidden.KeyVersionNotFound`. */
export class KeyNotFoundError extends StrongroomError {}
/** `Forbidden.KeyDisabled` and other states that refuse crypto. */
export class KeyStateError extends StrongroomError {}
/** `InvalidCiphertext`: tampered, wrong context, or not a strongroom ciphertext. */
export class InvalidCiphertextError extends StrongroomError {}
/** `Forbidden.WrongPassphrase`. */
export class WrongPassphraseError extends StrongroomError {}
/** `Forbidden.NoPermission`: the caller may not perform this action on this resource. */
export class AccessDeniedError extends StrongroomError {}
/** `Forbidden.ResourceNotFound`: no such secret, secret version or stage. */
export class ResourceNotFoundError extends StrongroomError {}
/** `Rejected.ResourceInDeleteWindow`: the secret is scheduled for deletion. */
export class ResourceStateError extends StrongroomError {}
/** `Rejected.Store*`: damaged, locked, unreadable or unwritable store. */
export class StoreError extends StrongroomError {}
/** `Rejected.Backend*`: the key backend or its transport failed. */
export class BackendError extends StrongroomError {}
/** Any other `Rejected.*`. */
export class RejectedError extends StrongroomError {}

const classes: Record<string, typeof StrongroomError> = {
  InvalidParameter: InvalidParameterError,
  KeyNotFound: KeyNotFoundError,
  KeyState: KeyStateError,
  InvalidCiphertext: InvalidCiphertextError,
  WrongPassphrase: WrongPassphraseError,
  AccessDenied: AccessDeniedError,
  ResourceNotFound: ResourceNotFoundError,
  ResourceState: ResourceStateError,
  Store: StoreError,
  Backend: BackendError,
  Rejected: RejectedError,
};

/** Runs `f`, turning a `{ code, kind, message }` it throws into its error class. */
export function callSync<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw convert(e);
  }
}

export function convert(e: unknown): unknown {
  if (e && typeof e === 'object' && !(e instanceof Error) && typeof (e as { code?: unknown }).code === 'string') {
    const { code, kind, message } = e as { code: string; kind?: string; message?: string };
    const Cls = (kind && classes[kind]) || StrongroomError;
    return new Cls(code, message ?? code);
  }
  return e;
}

