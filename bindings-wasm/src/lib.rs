//! WebAssembly bindings for strongroom: conversions between JS values and the core
//! only. The npm package's TypeScript facade (npm/src) turns these into the public
//! `Kms` class with camelCase option objects and `StrongroomError` subclasses.
//! Only meaningful on wasm32: on other targets this crate is empty.
#![cfg(target_arch = "wasm32")]
// The core's traits take `Arc<dyn …>`; on wasm32 they need not be Send/Sync.
#![allow(
    clippy::arc_with_non_send_sync,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc
)]

extern crate alloc;

use alloc::rc::Rc;
use std::collections::BTreeMap;
use std::sync::Arc;
use strongroom::SecretBytes;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use strongroom::backend::remote::{BackendServer as CoreServer, RemoteBackend, Transport};
use strongroom::backend::software::SoftwareBackend;
use strongroom::storage::{KdfParams, MemoryStorage};
use strongroom::{
    BoxFuture, Clock, DataKeyCacheConfig, DecryptRequest, EncryptEnvelopeRequest, EncryptRequest,
    EncryptionContext, Env, Error, GenerateDataKeyRequest, KeyBackend, Kms, KmsOptions, RootSecret,
    SignInput, Storage,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};

/// The JS clock (`Date.now()`).
struct JsClock;
impl Clock for JsClock {
    fn now_millis(&self) -> u64 {
        let n = js_sys::Date::now();
        if n.is_finite() && n > 0.0 {
            n as u64
        } else {
            0
        }
    }
}

fn env() -> Env {
    // The core's pool over getrandom's `wasm_js` backend (`crypto.getRandomValues`).
    Env::new(
        Arc::new(strongroom::env::PooledOsEntropy::default()),
        Arc::new(JsClock),
    )
}

/// A core error as a plain `{ code, kind, message }` object; the facade raises the
/// `StrongroomError` subclass named by `kind`.
fn js_err(e: &Error) -> JsValue {
    let o = Object::new();
    let _ = Reflect::set(&o, &"code".into(), &e.code().into());
    let _ = Reflect::set(&o, &"kind".into(), &e.kind().into());
    let _ = Reflect::set(&o, &"message".into(), &e.to_string().into());
    o.into()
}

fn set(o: &Object, k: &str, v: impl Into<JsValue>) {
    let _ = Reflect::set(o, &JsValue::from_str(k), &v.into());
}

/// `{ keyId, keyVersionId }`, the start of most answers.
fn key_obj(key_id: &str, key_version_id: &str) -> Object {
    let o = Object::new();
    set(&o, "keyId", key_id);
    set(&o, "keyVersionId", key_version_id);
    o
}

fn bytes(b: &[u8]) -> Uint8Array {
    Uint8Array::from(b)
}

fn parse<T: std::str::FromStr<Err = Error>>(v: Option<String>) -> Result<Option<T>, JsValue> {
    v.map(|s| s.parse::<T>())
        .transpose()
        .map_err(|e| js_err(&e))
}

/// Reads an EncryptionContext from a JS object of string values.
fn context(v: &JsValue) -> Result<EncryptionContext, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(EncryptionContext::new());
    }
    let bad = |why: &str| {
        js_err(&Error::InvalidParameter {
            name: "EncryptionContext",
            reason: why.into(),
        })
    };
    if !v.is_object() || Array::is_array(v) {
        return Err(bad("must be an object of string values"));
    }
    let mut pairs = BTreeMap::new();
    // A JS string with a lone surrogate would come across as U+FFFD, so two different
    // contexts would give one AAD: such strings are refused, here, for every JS face.
    let text = |x: JsValue| -> Result<Option<String>, JsValue> {
        match x.dyn_ref::<js_sys::JsString>() {
            Some(s) if !s.is_valid_utf16() => Err(bad(
                "keys and values must be well-formed UTF-16 (a lone surrogate cannot be encoded)",
            )),
            _ => Ok(x.as_string()),
        }
    };
    for entry in Object::entries(&Object::from(v.clone())).iter() {
        let pair = Array::from(&entry);
        let (Some(k), Some(val)) = (text(pair.get(0))?, text(pair.get(1))?) else {
            return Err(bad("every value must be a string"));
        };
        pairs.insert(k, val);
    }
    EncryptionContext::from_pairs(pairs).map_err(|e| js_err(&e))
}

/// A transport that calls a JS `async (request: Uint8Array) => Uint8Array`.
struct JsTransport(Function);

impl Transport for JsTransport {
    fn round_trip<'a>(&'a self, request: Vec<u8>) -> BoxFuture<'a, strongroom::Result<Vec<u8>>> {
        Box::pin(async move {
            let unavailable = |e: JsValue| {
                Error::BackendUnavailable(
                    e.as_string()
                        .or_else(|| {
                            Reflect::get(&e, &"message".into())
                                .ok()
                                .and_then(|m| m.as_string())
                        })
                        .unwrap_or_else(|| "transport failed".into()),
                )
            };
            let r = self
                .0
                .call1(&JsValue::NULL, &bytes(&request))
                .map_err(unavailable)?;
            let r = JsFuture::from(Promise::resolve(&r))
                .await
                .map_err(unavailable)?;
            if !r.is_instance_of::<Uint8Array>() {
                return Err(Error::BackendProtocol(
                    "transport must resolve to a Uint8Array",
                ));
            }
            Ok(Uint8Array::from(r).to_vec())
        })
    }
}

/// A storage over JS callbacks (the Node facade's file store): `save` is
/// `async (image: Uint8Array) => void` (temp file + fsync + rename); when `append`
/// (`async (at: number, record: Uint8Array) => void`) and `sync` (`async () => void`,
/// fdatasync shared by concurrent callers) are given, each mutation appends one
/// journal record instead of rewriting the store. The image it starts from is given.
struct JsStorage {
    initial: Option<Vec<u8>>,
    save: Function,
    append: Option<Function>,
    sync: Option<Function>,
    /// The values files' `{ append, sync, read, erase, setGeneration, rewrite,
    /// length }` (Node's file store; docs/FORMAT.md §Values file).
    values: Option<[Function; 7]>,
}

/// The facade's values-file functions, when it gave all seven.
fn values_fns(v: &JsValue) -> Option<[Function; 7]> {
    let f = |k: &str| Reflect::get(v, &k.into()).ok()?.dyn_into::<Function>().ok();
    Some([
        f("append")?,
        f("sync")?,
        f("read")?,
        f("erase")?,
        f("setGeneration")?,
        f("rewrite")?,
        f("length")?,
    ])
}

/// A JS storage error as a store error: ENOSPC / EDQUOT / EFBIG are `StoreFull`;
/// `Rejected.StoreLocked` (a browser writer another opener superseded) stays that.
fn store_err(e: &JsValue) -> Error {
    let get = |k: &str| Reflect::get(e, &k.into()).ok().and_then(|m| m.as_string());
    let msg = get("message").unwrap_or_else(|| "store write failed".into());
    match get("code").as_deref() {
        Some("ENOSPC" | "EDQUOT" | "EFBIG") => Error::StoreFull(msg),
        Some("Rejected.StoreLocked") => Error::StoreLocked,
        Some("Rejected.StoreCorrupted") => {
            Error::StoreCorrupted("the values file is damaged or missing")
        }
        _ => Error::StoreIo(msg),
    }
}

async fn call_js(f: &Function, args: &Array) -> strongroom::Result<()> {
    call_js_value(f, args).await.map(|_| ())
}

async fn call_js_value(f: &Function, args: &Array) -> strongroom::Result<JsValue> {
    let r = f.apply(&JsValue::NULL, args).map_err(|e| store_err(&e))?;
    JsFuture::from(Promise::resolve(&r))
        .await
        .map_err(|e| store_err(&e))
}

impl Storage for JsStorage {
    fn load(&self) -> BoxFuture<'_, strongroom::Result<Option<Vec<u8>>>> {
        let v = self.initial.clone();
        Box::pin(async move { Ok(v) })
    }
    fn save<'a>(&'a self, image: &'a [u8]) -> BoxFuture<'a, strongroom::Result<()>> {
        Box::pin(async move { call_js(&self.save, &Array::of1(&bytes(image))).await })
    }
    fn supports_append(&self) -> bool {
        self.append.is_some() && self.sync.is_some()
    }
    fn append<'a>(&'a self, at: u64, record: &'a [u8]) -> BoxFuture<'a, strongroom::Result<()>> {
        Box::pin(async move {
            match &self.append {
                Some(f) => call_js(f, &Array::of2(&(at as f64).into(), &bytes(record))).await,
                None => Err(Error::Unsupported("this storage cannot append")),
            }
        })
    }
    fn sync(&self) -> BoxFuture<'_, strongroom::Result<()>> {
        Box::pin(async move {
            match &self.sync {
                Some(f) => call_js(f, &Array::new()).await,
                None => Ok(()),
            }
        })
    }
    fn supports_values(&self) -> bool {
        self.values.is_some()
    }
    fn append_value<'a>(&'a self, value: &'a [u8]) -> BoxFuture<'a, strongroom::Result<u64>> {
        Box::pin(async move {
            let [f, ..] = self
                .values
                .as_ref()
                .ok_or(Error::Unsupported("no values file"))?;
            let at = call_js_value(f, &Array::of1(&bytes(value))).await?;
            at.as_f64()
                .map(|n| n as u64)
                .ok_or(Error::Internal("values file offset"))
        })
    }
    fn sync_values(&self) -> BoxFuture<'_, strongroom::Result<()>> {
        Box::pin(async move {
            match &self.values {
                Some([_, f, ..]) => call_js(f, &Array::new()).await,
                None => Ok(()),
            }
        })
    }
    fn read_value(
        &self,
        generation: u32,
        offset: u64,
        len: u32,
    ) -> BoxFuture<'_, strongroom::Result<Vec<u8>>> {
        Box::pin(async move {
            let [_, _, f, ..] = self.values.as_ref().ok_or(Error::Unsupported(
                "this storage cannot read a values file (move stores with exportImage or a backup)",
            ))?;
            let args = Array::of3(&generation.into(), &(offset as f64).into(), &len.into());
            let v = call_js_value(f, &args).await?;
            Ok(Uint8Array::new(&v).to_vec())
        })
    }
    fn erase_value(
        &self,
        generation: u32,
        offset: u64,
        len: u32,
    ) -> BoxFuture<'_, strongroom::Result<()>> {
        Box::pin(async move {
            let [_, _, _, f, ..] = self
                .values
                .as_ref()
                .ok_or(Error::Unsupported("no values file"))?;
            let args = Array::of3(&generation.into(), &(offset as f64).into(), &len.into());
            call_js(f, &args).await
        })
    }
    fn set_values_generation(&self, generation: u32) -> BoxFuture<'_, strongroom::Result<()>> {
        Box::pin(async move {
            match &self.values {
                Some([_, _, _, _, f, ..]) => call_js(f, &Array::of1(&generation.into())).await,
                None => Ok(()),
            }
        })
    }
    fn rewrite_values<'a>(
        &'a self,
        generation: u32,
        spans: &'a [(u64, u32)],
    ) -> BoxFuture<'a, strongroom::Result<Vec<u64>>> {
        Box::pin(async move {
            let [_, _, _, _, _, f, _] = self
                .values
                .as_ref()
                .ok_or(Error::Unsupported("no values file"))?;
            // Spans as [offset, length, offset, length, …] (numbers: offsets stay far
            // below 2^53).
            let flat = Array::new();
            for &(o, l) in spans {
                flat.push(&(o as f64).into());
                flat.push(&l.into());
            }
            let r = call_js_value(f, &Array::of2(&generation.into(), &flat)).await?;
            let r = r
                .dyn_into::<Array>()
                .map_err(|_| Error::Internal("values-file rewrite offsets"))?;
            r.iter()
                .map(|v| v.as_f64().map(|n| n as u64))
                .collect::<Option<Vec<u64>>>()
                .ok_or(Error::Internal("values-file rewrite offsets"))
        })
    }
    fn values_len(&self) -> BoxFuture<'_, strongroom::Result<u64>> {
        Box::pin(async move {
            match &self.values {
                Some([.., f]) => {
                    let n = call_js_value(f, &Array::new()).await?;
                    n.as_f64()
                        .map(|n| n as u64)
                        .ok_or(Error::Internal("values file length"))
                }
                None => Ok(0),
            }
        })
    }
}

/// The HTTP client of a connected Kms and of the transit backend: the facade's
/// `send(method, url, headers, body)`, a `Promise<{ status, body }>` over the
/// platform's `fetch` (npm/src/api.ts). A rejection (network down, CORS refused,
/// timeout) is `Rejected.BackendUnavailable`.
struct JsHttp {
    send: Function,
}

impl strongroom::HttpClient for JsHttp {
    fn send<'a>(
        &'a self,
        r: strongroom::HttpRequest,
    ) -> BoxFuture<'a, strongroom::Result<strongroom::HttpResponse>> {
        Box::pin(async move {
            let headers = Array::new();
            for (k, v) in &r.headers {
                headers.push(&Array::of2(&k.as_str().into(), &v.as_str().into()));
            }
            let down = |e: &JsValue| {
                let msg = Reflect::get(e, &"message".into())
                    .ok()
                    .and_then(|m| m.as_string())
                    .or_else(|| e.as_string())
                    .unwrap_or_else(|| "the request failed".into());
                Error::BackendUnavailable(format!("{} cannot be reached: {msg}", r.url))
            };
            let args = Array::of4(
                &r.method.into(),
                &r.url.as_str().into(),
                &headers,
                &bytes(&r.body),
            );
            let p = self
                .send
                .apply(&JsValue::NULL, &args)
                .map_err(|e| down(&e))?;
            let out = JsFuture::from(Promise::resolve(&p))
                .await
                .map_err(|e| down(&e))?;
            let status = Reflect::get(&out, &"status".into())
                .ok()
                .and_then(|v| v.as_f64())
                .and_then(|v| u16::try_from(v as i64).ok())
                .ok_or(Error::BackendProtocol("the gateway's answer has no status"))?;
            let body = Reflect::get(&out, &"body".into())
                .ok()
                .filter(|b| b.is_instance_of::<Uint8Array>())
                .map(|b| Uint8Array::from(b).to_vec())
                .ok_or(Error::BackendProtocol("the gateway's answer has no body"))?;
            let retry_after_ms = Reflect::get(&out, &"retryAfterMs".into())
                .ok()
                .and_then(|v| v.as_f64())
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| v.min(60_000.0) as u64);
            Ok(strongroom::HttpResponse {
                status,
                body,
                retry_after_ms,
            })
        })
    }

    /// The platform's `setTimeout` (Node, browsers, workers, Deno, Bun).
    fn sleep(&self, ms: u64) -> Option<BoxFuture<'_, ()>> {
        let global = js_sys::global();
        let set_timeout: Function = Reflect::get(&global, &"setTimeout".into())
            .ok()?
            .dyn_into()
            .ok()?;
        let p = Promise::new(&mut |resolve, _| {
            let _ = set_timeout.call2(&global, &resolve, &JsValue::from_f64(ms as f64));
        });
        Some(Box::pin(async move {
            let _ = JsFuture::from(p).await;
        }))
    }
}

std::thread_local! {
    /// `setPlatformGcm`'s two functions (one JS realm per wasm instance).
    static JS_GCM: core::cell::RefCell<Option<(Function, Function)>> =
        const { core::cell::RefCell::new(None) };
}

/// The host's AES-256-GCM for the core's long inputs (strongroom::PlatformGcm):
/// npm/src/node.ts installs node:crypto's. `seal(key, iv, aad, plaintext)` returns
/// ciphertext ‖ tag; `open(key, iv, aad, ciphertext, tag)` returns the plaintext, or
/// null when the tag does not verify. A throw declines the call (the wasm AES-GCM does
/// it). The key and plaintext copies handed over are wiped here once the call returns.
struct JsGcm;

static JS_GCM_HOST: JsGcm = JsGcm;

impl JsGcm {
    fn call(
        which: fn(&(Function, Function)) -> &Function,
        args: &[&Uint8Array],
    ) -> Option<JsValue> {
        JS_GCM.with(|g| {
            let g = g.borrow();
            let f = which(g.as_ref()?);
            let a = Array::new();
            for x in args {
                a.push(x);
            }
            f.apply(&JsValue::NULL, &a).ok()
        })
    }
}

impl strongroom::PlatformGcm for JsGcm {
    fn seal(
        &self,
        key: &[u8; 32],
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Option<[u8; 16]> {
        let (k, pt) = (bytes(key), bytes(buf));
        let r = Self::call(|g| &g.0, &[&k, &bytes(nonce), &bytes(aad), &pt]);
        k.fill(0, 0, k.length());
        pt.fill(0, 0, pt.length());
        let out = r?.dyn_into::<Uint8Array>().ok()?;
        let n = u32::try_from(buf.len()).ok()?;
        if out.length() != n.checked_add(16)? {
            return None;
        }
        out.subarray(0, n).copy_to(buf);
        let mut tag = [0u8; 16];
        out.subarray(n, n + 16).copy_to(&mut tag);
        Some(tag)
    }

    fn open(
        &self,
        key: &[u8; 32],
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Option<bool> {
        let k = bytes(key);
        let r = Self::call(
            |g| &g.1,
            &[&k, &bytes(nonce), &bytes(aad), &bytes(buf), &bytes(tag)],
        );
        k.fill(0, 0, k.length());
        let r = r?;
        if r.is_null() {
            return Some(false);
        }
        let out = r.dyn_into::<Uint8Array>().ok()?;
        if usize::try_from(out.length()).ok()? != buf.len() {
            out.fill(0, 0, out.length());
            return None;
        }
        out.copy_to(buf);
        out.fill(0, 0, out.length());
        Some(true)
    }
}

/// Installs the host's AES-256-GCM (see JsGcm) for this process's core: store records,
/// secret values and frames of at least `strongroom::PLATFORM_GCM_MIN` bytes. Returns
/// whether these functions are the ones in use (the first installation stays).
#[wasm_bindgen(js_name = setPlatformGcm)]
pub fn set_platform_gcm(seal: Function, open: Function) -> bool {
    let first = strongroom::set_platform_gcm(&JS_GCM_HOST);
    if first {
        JS_GCM.with(|g| *g.borrow_mut() = Some((seal, open)));
    }
    first
}

/// RSA and P-256 private-key operations on the JS side's WebCrypto (npm/src/api.ts):
/// `decrypt(fingerprint, spec, pkcs8, algorithm, ciphertext)` and
/// `sign(fingerprint, spec, pkcs8, algorithm, message)`, each `Promise<Uint8Array |
/// null>` (null: not handled here; the wasm implementation runs). `fingerprint` is the
/// hex SHA-256 of the PKCS#8, so the JS side imports each key once (non-extractable)
/// and wipes its copy of the bytes.
struct JsPlatformAsym {
    decrypt: Function,
    sign: Function,
}

impl JsPlatformAsym {
    fn from_js(v: &JsValue) -> Option<Self> {
        let get = |k: &str| {
            Reflect::get(v, &k.into())
                .ok()
                .and_then(|f| f.dyn_into::<Function>().ok())
        };
        Some(JsPlatformAsym {
            decrypt: get("decrypt")?,
            sign: get("sign")?,
        })
    }

    /// Calls `f`; `None` when it answers null, `Some(Err)` when it rejects.
    async fn call(
        f: &Function,
        spec: strongroom::KeySpec,
        pkcs8: &[u8],
        alg: &str,
        data: &[u8],
    ) -> Option<Result<Vec<u8>, JsValue>> {
        let fp: String = strongroom::sha256(pkcs8)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let args = Array::of5(
            &fp.into(),
            &spec.as_str().into(),
            &bytes(pkcs8),
            &alg.into(),
            &bytes(data),
        );
        let r = match f.apply(&JsValue::NULL, &args) {
            Ok(r) => JsFuture::from(Promise::resolve(&r)).await,
            Err(e) => Err(e),
        };
        match r {
            Ok(v) if v.is_null() || v.is_undefined() => None,
            Ok(v) if v.is_instance_of::<Uint8Array>() => Some(Ok(Uint8Array::from(v).to_vec())),
            Ok(v) => Some(Err(v)),
            Err(e) => Some(Err(e)),
        }
    }
}

impl strongroom::PlatformAsym for JsPlatformAsym {
    fn decrypt<'a>(
        &'a self,
        spec: strongroom::KeySpec,
        pkcs8: &'a [u8],
        alg: strongroom::EncryptionAlgorithm,
        ciphertext: &'a [u8],
    ) -> BoxFuture<'a, Option<strongroom::Result<strongroom::SecretBytes>>> {
        Box::pin(async move {
            Self::call(&self.decrypt, spec, pkcs8, alg.as_str(), ciphertext)
                .await
                .map(|r| {
                    r.map(strongroom::SecretBytes::new)
                        .map_err(|_| Error::InvalidCiphertext)
                })
        })
    }

    fn sign_message<'a>(
        &'a self,
        spec: strongroom::KeySpec,
        pkcs8: &'a [u8],
        alg: strongroom::SigningAlgorithm,
        message: &'a [u8],
    ) -> BoxFuture<'a, Option<strongroom::Result<Vec<u8>>>> {
        Box::pin(async move {
            let r = Self::call(&self.sign, spec, pkcs8, alg.as_str(), message).await?;
            Some(match r {
                Err(_) => Err(Error::BackendProtocol("WebCrypto signing failed")),
                Ok(sig) if spec.is_ec() => strongroom::asym::ecdsa_raw_to_der(spec, &sig),
                Ok(sig) => Ok(sig),
            })
        })
    }
}

/// The backend for a new instance: remote over `transport`, else the software
/// backend, with `platform` (a JsPlatformAsym object) running RSA / P-256 private-key
/// operations when given.
/// The key backend a JS `transport` argument asks for: none (the software backend,
/// with WebCrypto for private-key operations when `platform` offers it), a function
/// (the wire protocol to a BackendServer), or `{ address, token, mount, keyPrefix,
/// send }` (an OpenBao / Vault transit engine over the facade's `fetch`).
async fn backend_for(
    transport: JsValue,
    platform: JsValue,
) -> Result<Option<Arc<dyn KeyBackend>>, JsValue> {
    if transport.is_undefined() || transport.is_null() {
        return Ok(JsPlatformAsym::from_js(&platform).map(|p| {
            Arc::new(SoftwareBackend::new(env()).with_platform_asym(Arc::new(p)))
                as Arc<dyn KeyBackend>
        }));
    }
    if let Some(f) = transport.dyn_ref::<Function>() {
        let b = RemoteBackend::connect(Arc::new(JsTransport(f.clone())))
            .await
            .map_err(|e| js_err(&e))?;
        return Ok(Some(Arc::new(b)));
    }
    // `{ wire, clientId, clientSecret }`: wire protocol version 2 under a client key.
    if let Some(f) = Reflect::get(&transport, &"wire".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
    {
        let id = Reflect::get(&transport, &"clientId".into())
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default();
        let secret = Reflect::get(&transport, &"clientSecret".into())
            .ok()
            .filter(|v| v.is_instance_of::<js_sys::Uint8Array>())
            .map(|v| js_sys::Uint8Array::new(&v).to_vec())
            .unwrap_or_default();
        let key = strongroom::backend::remote::WireClientKey {
            id,
            secret: SecretBytes::new(secret),
        };
        let b = RemoteBackend::connect_with_key(Arc::new(JsTransport(f)), key, env())
            .await
            .map_err(|e| js_err(&e))?;
        return Ok(Some(Arc::new(b)));
    }
    let get = |k: &str| {
        Reflect::get(&transport, &k.into())
            .ok()
            .and_then(|v| v.as_string())
    };
    let send = Reflect::get(&transport, &"send".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| {
            js_err(&Error::InvalidParameter {
                name: "Transit",
                reason: "needs a send function".into(),
            })
        })?;
    let mut cfg = strongroom::backend::transit::TransitConfig::new(
        get("address").unwrap_or_default(),
        SecretBytes::from_slice(get("token").unwrap_or_default().as_bytes()),
    );
    if let Some(m) = get("mount") {
        cfg.mount = m;
    }
    if let Some(p) = get("keyPrefix") {
        cfg.key_prefix = p;
    }
    let b =
        strongroom::backend::transit::TransitBackend::new(cfg, Arc::new(JsHttp { send }), env())
            .map_err(|e| js_err(&e))?;
    Ok(Some(Arc::new(b)))
}

/// A JS function told of every call (see `NativeKms::setCallHook`).
struct JsCallHook(Function);

impl strongroom::api::CallHook for JsCallHook {
    fn record(&self, r: &strongroom::api::CallRecord<'_>) {
        let o = Object::new();
        set(&o, "principal", r.caller.principal.as_str());
        set(&o, "requestId", r.request_id);
        set(&o, "action", r.action.name());
        let resources = Array::new();
        for res in r.resources {
            resources.push(&JsValue::from_str(&res.arn()));
        }
        set(&o, "resources", resources);
        match r.outcome {
            Ok(()) => set(&o, "code", JsValue::NULL),
            Err(e) => set(&o, "code", e.code()),
        }
        // A hook that throws does not change the call's outcome.
        let _ = self.0.call1(&JsValue::UNDEFINED, &o);
    }
}

/// A JS audit sink: `append(lines: string)` (whole lines; returning means written),
/// `sync()` (durable; optional). A throw is `Rejected.AuditFailed`.
struct JsAuditSink {
    append: Function,
    sync: Option<Function>,
    last: core::cell::RefCell<Option<String>>,
}

impl strongroom::audit::AuditSink for JsAuditSink {
    fn append(&self, lines: &[u8]) -> strongroom::Result<()> {
        let text = String::from_utf8_lossy(lines);
        self.append
            .call1(&JsValue::UNDEFINED, &JsValue::from_str(&text))
            .map_err(|e| {
                strongroom::Error::AuditFailed(format!(
                    "the audit sink threw: {}",
                    e.as_string().unwrap_or_else(|| format!("{e:?}"))
                ))
            })?;
        if let Some(l) = text.lines().last() {
            *self.last.borrow_mut() = Some(l.to_string());
        }
        Ok(())
    }
    fn sync(&self) -> strongroom::Result<()> {
        if let Some(f) = &self.sync {
            f.call0(&JsValue::UNDEFINED).map_err(|e| {
                strongroom::Error::AuditFailed(format!(
                    "the audit sink's sync threw: {}",
                    e.as_string().unwrap_or_else(|| format!("{e:?}"))
                ))
            })?;
        }
        Ok(())
    }
    fn last_line(&self) -> strongroom::Result<Option<String>> {
        Ok(self.last.borrow().clone())
    }
}

/// A JS rotator: `async ({ step, secretName, versionId, secretType, extendedConfig,
/// value }) => …` — for `create` it resolves to the new value (a string or a
/// Uint8Array); for `set` and `test` it gets the value and resolves to anything. A
/// throw or rejection fails the step (`Rejected.RotationFailed`).
struct JsSecretRotator(Function);

impl JsSecretRotator {
    async fn step(
        &self,
        name: &str,
        at: &strongroom::RotationStep<'_>,
        value: Option<&SecretBytes>,
    ) -> strongroom::Result<JsValue> {
        let failed = |e: JsValue| {
            Error::RotationFailed(alloc_msg(
                name,
                e.as_string().or_else(|| {
                    Reflect::get(&e, &"message".into())
                        .ok()
                        .and_then(|m| m.as_string())
                }),
            ))
        };
        let o = Object::new();
        set(&o, "step", name);
        set(&o, "secretName", at.secret_name);
        set(&o, "versionId", at.version_id);
        set(&o, "secretType", at.secret_type.as_str());
        match at.extended_config {
            Some(c) => set(&o, "extendedConfig", c),
            None => set(&o, "extendedConfig", JsValue::NULL),
        }
        if let Some(v) = value {
            set(&o, "value", bytes(v.expose()));
        }
        let r = self.0.call1(&JsValue::NULL, &o).map_err(failed)?;
        JsFuture::from(Promise::resolve(&r)).await.map_err(failed)
    }
}

fn alloc_msg(step: &str, msg: Option<String>) -> String {
    format!(
        "the rotator's {step} step threw: {}",
        msg.unwrap_or_else(|| "an error".into())
    )
}

impl strongroom::SecretRotator for JsSecretRotator {
    fn create<'a>(
        &'a self,
        step: &'a strongroom::RotationStep<'a>,
    ) -> BoxFuture<'a, strongroom::Result<SecretBytes>> {
        Box::pin(async move {
            let v = self.step("create", step, None).await?;
            if let Some(s) = v.as_string() {
                return Ok(SecretBytes::new(s.into_bytes()));
            }
            if v.is_instance_of::<Uint8Array>() {
                return Ok(SecretBytes::new(Uint8Array::from(v).to_vec()));
            }
            Err(Error::RotationFailed(
                "the rotator's create step must resolve to a string or a Uint8Array".into(),
            ))
        })
    }
    fn set<'a>(
        &'a self,
        step: &'a strongroom::RotationStep<'a>,
        value: &'a SecretBytes,
    ) -> BoxFuture<'a, strongroom::Result<()>> {
        Box::pin(async move { self.step("set", step, Some(value)).await.map(|_| ()) })
    }
    fn test<'a>(
        &'a self,
        step: &'a strongroom::RotationStep<'a>,
        value: &'a SecretBytes,
    ) -> BoxFuture<'a, strongroom::Result<()>> {
        Box::pin(async move { self.step("test", step, Some(value)).await.map(|_| ()) })
    }
}

/// The native KMS handle behind the npm `Kms` class.
#[wasm_bindgen]
pub struct NativeKms {
    inner: Rc<Kms>,
}

/// Runs a call's future: polled once on the spot, so that a call which completes
/// without waiting (state in memory; no remote backend, WebCrypto or store I/O on its
/// path) returns its value, or throws, directly, and only one that must wait becomes a
/// `Promise` (`future_to_promise`, which polls it again with a real waker: every
/// future in the core re-registers its waker on each poll). The promise machinery was
/// a fifth of a small Encrypt. The JS facade awaits either.
fn promise<F>(f: F) -> Result<JsValue, JsValue>
where
    F: core::future::Future<Output = Result<JsValue, JsValue>> + 'static,
{
    let mut f = Box::pin(f);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        core::task::Poll::Ready(r) => r,
        core::task::Poll::Pending => Ok(future_to_promise(f).into()),
    }
}

// Every method returns its value or a Promise of it (see `promise`), and fails with a
// `{ code, kind, message }` object that npm/src/api.ts turns into a StrongroomError;
// docs/API.md lists the codes per operation.
#[allow(clippy::missing_errors_doc)]
#[wasm_bindgen]
impl NativeKms {
    /// Any action by Alibaba's name: `params_json` is its wire parameters as JSON text
    /// (an object), the answer Alibaba's response JSON text (strongroom::api::wire).
    #[wasm_bindgen(js_name = callWire)]
    pub fn call_wire(&self, action: String, params_json: String) -> Result<JsValue, JsValue> {
        let kms = self.inner.clone();
        promise(async move {
            let answer = kms
                .call_wire_json(&action, &params_json)
                .await
                .map_err(|e| js_err(&e))?;
            Ok(JsValue::from_str(&answer))
        })
    }

    /// Sends the audit trail to `append(lines)` (and `sync()`), continuing the chain
    /// after `last_line`, at `level` (off, management, all) unless the store set its
    /// own; `strict`: every event durable before its call is answered.
    #[wasm_bindgen(js_name = attachAudit)]
    pub fn attach_audit(
        &self,
        append: Function,
        sync: Option<Function>,
        last_line: Option<String>,
        level: String,
        strict: bool,
    ) -> Result<(), JsValue> {
        let level = strongroom::access::AuditLevel::parse(&level).map_err(|e| js_err(&e))?;
        self.inner.set_default_audit_level(level);
        self.inner
            .attach_audit(
                Arc::new(JsAuditSink {
                    append,
                    sync,
                    last: core::cell::RefCell::new(last_line),
                }),
                strongroom::audit::AuditOptions {
                    strict,
                    ..Default::default()
                },
            )
            .map_err(|e| js_err(&e))
    }

    /// Writes every waiting audit event and syncs the sink.
    #[wasm_bindgen(js_name = flushAudit)]
    pub fn flush_audit(&self) -> Result<(), JsValue> {
        self.inner.flush_audit().map_err(|e| js_err(&e))
    }

    /// The audit key's public key (PEM), made on first use.
    #[wasm_bindgen(js_name = auditPublicKey)]
    pub fn audit_public_key(&self) -> Result<JsValue, JsValue> {
        let kms = self.inner.clone();
        promise(async move {
            let pem = kms.audit_public_key().await.map_err(|e| js_err(&e))?;
            Ok(JsValue::from_str(&pem))
        })
    }

    /// Acts as the principal an AccessKey pair (and SecurityToken) names; returns its
    /// ARN.
    pub fn authenticate(
        &self,
        access_key_id: String,
        access_key_secret: String,
        security_token: Option<String>,
    ) -> Result<String, JsValue> {
        let c = self
            .inner
            .authenticate(
                &access_key_id,
                access_key_secret.as_bytes(),
                security_token.as_deref(),
            )
            .map_err(|e| js_err(&e))?;
        let p = c.principal.clone();
        self.inner.act_as(c).map_err(|e| js_err(&e))?;
        Ok(p)
    }

    /// Acts as `principal` (an ARN, or `owner`).
    #[wasm_bindgen(js_name = actAs)]
    pub fn act_as(&self, principal: String) -> Result<(), JsValue> {
        self.inner
            .act_as(strongroom::api::Caller::new(principal))
            .map_err(|e| js_err(&e))
    }

    /// Installs `hook` (or removes it, with `undefined`): called after every action
    /// with `{ principal, requestId, action, resources, code }` (`resources`: the ARNs
    /// the call resolved; `code`: null on success, else the error's code).
    #[wasm_bindgen(js_name = setCallHook)]
    pub fn set_call_hook(&self, hook: Option<Function>) {
        self.inner.set_call_hook(
            hook.map(|f| Arc::new(JsCallHook(f)) as Arc<dyn strongroom::api::CallHook>),
        );
    }

    /// Closes the instance: waits for a change being written, then refuses every later
    /// call (`Rejected.StoreClosed`). The JS facade releases its store afterwards.
    pub fn close(&self) -> Result<JsValue, JsValue> {
        let kms = self.inner.clone();
        promise(async move {
            kms.close().await.map_err(|e| js_err(&e))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Installs (or removes, with `undefined`) the rotator RotateSecret and automatic
    /// rotation use (see JsSecretRotator); without one, the built-in random-password
    /// rotator.
    #[wasm_bindgen(js_name = setSecretRotator)]
    pub fn set_secret_rotator(&self, rotator: Option<Function>) {
        self.inner.set_secret_rotator(
            rotator.map(|f| Arc::new(JsSecretRotator(f)) as Arc<dyn strongroom::SecretRotator>),
        );
    }

    /// Whether this instance runs its actions in a gateway (Kms::connect).
    #[wasm_bindgen(js_name = isConnected)]
    pub fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    /// A Kms whose actions run in the strongroom gateway at `url` (Kms::connect),
    /// signed with the AccessKey pair (and STS `security_token`) and sent through
    /// `send` (JsHttp), resending what the gateway refused for load as the retry
    /// settings say (each `undefined` for its default).
    #[allow(clippy::too_many_arguments)] // the facade's positional call (npm/src/api.ts)
    pub fn connect(
        url: String,
        access_key_id: String,
        access_key_secret: String,
        security_token: Option<String>,
        send: Function,
        max_attempts: Option<u32>,
        base_delay_ms: Option<u32>,
        max_delay_ms: Option<u32>,
    ) -> Result<JsValue, JsValue> {
        promise(async move {
            let d = strongroom::RetryPolicy::default();
            let retry = strongroom::RetryPolicy {
                max_attempts: max_attempts.unwrap_or(d.max_attempts),
                base_delay_ms: base_delay_ms.map_or(d.base_delay_ms, u64::from),
                max_delay_ms: max_delay_ms.map_or(d.max_delay_ms, u64::from),
            };
            let endpoint = strongroom::Endpoint {
                url,
                access_key_id,
                access_key_secret: SecretBytes::from_slice(access_key_secret.as_bytes()),
                security_token: security_token.map(|t| SecretBytes::from_slice(t.as_bytes())),
            };
            let kms = Kms::connect_with(env(), endpoint, Arc::new(JsHttp { send }), retry)
                .await
                .map_err(|e| js_err(&e))?;
            Ok(NativeKms {
                inner: Rc::new(kms),
            }
            .into())
        })
    }

    /// An in-memory instance; `transport` sends master-key operations over the wire
    /// protocol; `platform` (see JsPlatformAsym) runs RSA / P-256 private-key
    /// operations on WebCrypto.
    pub fn memory(transport: JsValue, platform: JsValue) -> Result<JsValue, JsValue> {
        promise(async move {
            let backend = backend_for(transport, platform).await?;
            let kms = Kms::memory(env(), backend).await.map_err(|e| js_err(&e))?;
            Ok(NativeKms {
                inner: Rc::new(kms),
            }
            .into())
        })
    }

    /// Opens a store from its image (or creates one when `image` is undefined);
    /// `save` (and `append` + `sync`), when given, persist every change (JsStorage);
    /// `values` (`{ append, sync, read, erase, setGeneration, rewrite, length }`), when
    /// given, keeps secret values in the store's values files.
    /// With `backup`, the store must not exist yet: the backup, opened with
    /// `backup_passphrase`, becomes it (RestoreBackup).
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        image: Option<Vec<u8>>,
        passphrase: String,
        save: Option<Function>,
        transport: JsValue,
        append: Option<Function>,
        sync: Option<Function>,
        backup: Option<Vec<u8>>,
        backup_passphrase: Option<String>,
        platform: JsValue,
        values: JsValue,
    ) -> Result<JsValue, JsValue> {
        promise(async move {
            let backend = backend_for(transport, platform).await?;
            let storage: Arc<dyn Storage> = match save {
                Some(save) => Arc::new(JsStorage {
                    initial: image,
                    save,
                    append,
                    sync,
                    values: values_fns(&values),
                }),
                None => Arc::new(match image {
                    Some(i) => MemoryStorage::with_image(i),
                    None => MemoryStorage::new(),
                }),
            };
            let opts = KmsOptions {
                env: env(),
                storage,
                root: RootSecret::passphrase(&passphrase),
                kdf: KdfParams::default(),
                backend,
            };
            let kms = match backup {
                Some(b) => {
                    Kms::restore_backup(opts, &b, backup_passphrase.as_deref().unwrap_or_default())
                        .await
                }
                None => Kms::open(opts).await,
            }
            .map_err(|e| js_err(&e))?;
            Ok(NativeKms {
                inner: Rc::new(kms),
            }
            .into())
        })
    }

    /// The sealed store image; resealed under `passphrase` when given.
    #[wasm_bindgen(js_name = exportImage)]
    pub fn export_image(&self, passphrase: Option<String>) -> Result<JsValue, JsValue> {
        let kms = self.inner.clone();
        promise(async move {
            let reseal = passphrase.map(|p| (RootSecret::passphrase(&p), KdfParams::default()));
            let img = kms.export_image(reseal).await.map_err(|e| js_err(&e))?;
            Ok(bytes(&img).into())
        })
    }

    /// GetRandomPassword.
    ///
    /// # Errors
    /// `InvalidParameter.Length` / `.ExcludeCharacters`, as a JS error object.
    #[wasm_bindgen(js_name = getRandomPassword)]
    #[allow(clippy::too_many_arguments)]
    pub fn get_random_password(
        &self,
        length: Option<u32>,
        exclude_characters: Option<String>,
        exclude_lowercase: bool,
        exclude_uppercase: bool,
        exclude_numbers: bool,
        exclude_punctuation: bool,
        require_each_included_type: Option<bool>,
    ) -> Result<String, JsValue> {
        let p = self
            .inner
            .get_random_password(&strongroom::GetRandomPasswordRequest {
                length,
                exclude_characters,
                exclude_lowercase,
                exclude_uppercase,
                exclude_numbers,
                exclude_punctuation,
                require_each_included_type,
            })
            .map_err(|e| js_err(&e))?;
        Ok(String::from_utf8_lossy(p.expose()).into_owned())
    }

    /// CreateBackup: the whole store sealed under its own passphrase.
    #[wasm_bindgen(js_name = createBackup)]
    pub fn create_backup(&self, backup_passphrase: String) -> Result<JsValue, JsValue> {
        let kms = self.inner.clone();
        promise(async move {
            let b = kms
                .create_backup(&backup_passphrase, KdfParams::default())
                .await
                .map_err(|e| js_err(&e))?;
            Ok(bytes(&b).into())
        })
    }

    /// ChangePassphrase: reseals the store under a new passphrase.
    #[wasm_bindgen(js_name = changePassphrase)]
    pub fn change_passphrase(&self, passphrase: String) -> Result<JsValue, JsValue> {
        let kms = self.inner.clone();
        promise(async move {
            kms.change_root(RootSecret::passphrase(&passphrase), KdfParams::default())
                .await
                .map_err(|e| js_err(&e))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// RekeyStore: a new random store key.
    #[wasm_bindgen(js_name = rekeyStore)]
    pub fn rekey_store(&self) -> Result<JsValue, JsValue> {
        let kms = self.inner.clone();
        promise(async move {
            kms.rekey_store().await.map_err(|e| js_err(&e))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Compacts the journal into one snapshot now.
    #[wasm_bindgen(js_name = compactStore)]
    pub fn compact_store(&self) -> Result<JsValue, JsValue> {
        let kms = self.inner.clone();
        promise(async move {
            kms.compact_store().await.map_err(|e| js_err(&e))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Carries out what is due now (deletions, expiries, automatic rotations).
    #[wasm_bindgen(js_name = runDue)]
    pub fn run_due(&self) -> Result<JsValue, JsValue> {
        let kms = self.inner.clone();
        promise(async move {
            kms.run_due().await.map_err(|e| js_err(&e))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// What the store holds: format, generation, snapshot / journal sizes, torn bytes.
    #[wasm_bindgen(js_name = storeInfo)]
    pub fn store_info(&self) -> Result<JsValue, JsValue> {
        let i = self.inner.store_info().map_err(|e| js_err(&e))?;
        let o = Object::new();
        set(&o, "formatVersion", i.format_version);
        set(&o, "generation", i.generation as f64);
        set(&o, "snapshotBytes", i.snapshot_bytes as f64);
        set(&o, "journalRecords", i.journal_records as f64);
        set(&o, "journalBytes", i.journal_bytes as f64);
        set(&o, "tornBytes", i.torn_bytes as f64);
        Ok(o.into())
    }

    /// Encrypt.
    pub fn encrypt(
        &self,
        key_id: String,
        plaintext: Vec<u8>,
        encryption_context: JsValue,
    ) -> Result<JsValue, JsValue> {
        let kms = self.inner.clone();
        promise(async move {
            let req = EncryptRequest {
                key_id,
                plaintext,
                encryption_context: context(&encryption_context)?,
            };
            let r = kms.encrypt(req).await.map_err(|e| js_err(&e))?;
            let o = Object::new();
            set(&o, "keyId", r.key_id.as_str());
            set(&o, "keyVersionId", r.key_version_id.as_str());
            set(&o, "ciphertextBlob", bytes(&r.ciphertext_blob));
            Ok(o.into())
        })
    }

    /// Decrypt.
    pub fn decrypt(
        &self,
        ciphertext_blob: Vec<u8>,
        encryption_context: JsValue,
    ) -> Result<JsValue, JsValue> {
        let kms = self.inner.clone();
        promise(async move {
            let req = DecryptRequest {
                ciphertext_blob,
                encryption_context: context(&encryption_context)?,
            };
            let r = kms.decrypt(req).await.map_err(|e| js_err(&e))?;
            let o = Object::new();
            set(&o, "keyId", r.key_id.as_str());
            set(&o, "keyVersionId", r.key_version_id.as_str());
            set(&o, "plaintext", bytes(r.plaintext.expose()));
            Ok(o.into())
        })
    }

    /// Starts an envelope message: `u32 frameLength (big-endian) ‖ messageKey (32
    /// bytes) ‖ header` in one `Uint8Array`. The facade encrypts the frames with the
    /// platform's AES-GCM (docs/FORMAT.md §Frames).
    #[wasm_bindgen(js_name = beginEnvelope)]
    pub fn begin_envelope(
        &self,
        key_ids: Vec<String>,
        encryption_context: JsValue,
        frame_length: Option<u32>,
        plaintext_length: Option<f64>,
        signing_key_id: Option<String>,
    ) -> Result<JsValue, JsValue> {
        let kms = self.inner.clone();
        promise(async move {
            let req = EncryptEnvelopeRequest {
                key_ids,
                encryption_context: context(&encryption_context)?,
                frame_length,
                signing_key_id,
                ..Default::default()
            };
            let len = plaintext_length
                .filter(|n| n.is_finite() && *n >= 0.0)
                .map(|n| n as u64);
            let b = kms
                .envelope_begin(&req, len)
                .await
                .map_err(|e| js_err(&e))?;
            // One array, `u32 frameLength ‖ messageKey (32) ‖ header`: an object of three
            // fields cost a fifth of this call in property-name strings and copies. A
            // signed message's header names its signer (the facade parses it there).
            let key = b.message_key.expose();
            let mut out =
                zeroize::Zeroizing::new(Vec::with_capacity(4 + key.len() + b.header.len()));
            out.extend_from_slice(&b.frame_length.to_be_bytes());
            out.extend_from_slice(key);
            out.extend_from_slice(&b.header);
            Ok(bytes(&out).into())
        })
    }

    /// How many bytes the envelope header at the start of `head` needs before it can
    /// be opened: 0 when it is whole, else a length greater than `head`'s (the JS
    /// stream waits for that many instead of trying on every chunk).
    #[wasm_bindgen(js_name = headerNeeds)]
    pub fn header_needs(&self, head: &[u8]) -> Result<f64, JsValue> {
        match strongroom::envelope::header_needs(head) {
            Ok(None) => Ok(0.0),
            #[allow(clippy::cast_precision_loss)]
            Ok(Some(n)) => Ok(n as f64),
            Err(e) => Err(js_err(&e)),
        }
    }

    /// Reads an envelope header from the start of `data` and unwraps its data key:
    /// `null` while the header is incomplete (unless `whole`: then `data` is the
    /// whole message and an incomplete header is an error), else `{ headerLength,
    /// messageKey, frameLength, keyId, keyVersionId, encryptionContext, messageId }`.
    /// With an `expected` context the message's must equal it; with `required`, it
    /// must hold those pairs (others allowed); with `required_signer`, it must be
    /// signed by that key of the store. A signed message's answer also has `signer`
    /// (`{ keyId, keyVersionId, publicKey, known }`): the facade's frame reader checks
    /// the signature at the end.
    #[wasm_bindgen(js_name = openEnvelope)]
    pub fn open_envelope(
        &self,
        data: Vec<u8>,
        expected: JsValue,
        whole: bool,
        required: JsValue,
        required_signer: Option<String>,
    ) -> Result<JsValue, JsValue> {
        let kms = self.inner.clone();
        promise(async move {
            let ctx_of = |v: &JsValue| -> Result<Option<strongroom::EncryptionContext>, JsValue> {
                if v.is_undefined() || v.is_null() {
                    Ok(None)
                } else {
                    context(v).map(Some)
                }
            };
            let expected = ctx_of(&expected)?;
            let required = ctx_of(&required)?;
            let parsed = if whole {
                strongroom::envelope::parse_whole_header(&data).map(Some)
            } else {
                strongroom::envelope::parse_header(&data)
            };
            let Some((header, n)) = parsed.map_err(|e| js_err(&e))? else {
                return Ok(JsValue::NULL);
            };
            let check = strongroom::ContextCheck {
                exact: expected.as_ref(),
                required: required.as_ref(),
                required_signer: required_signer.as_deref(),
            };
            let (key, info) = kms
                .open_envelope_key(&header, check)
                .await
                .map_err(|e| js_err(&e))?;
            let o = Object::new();
            set(&o, "headerLength", n as u32);
            set(&o, "messageKey", bytes(key.expose()));
            set(&o, "frameLength", header.frame_length);
            set(&o, "keyId", info.key_id.as_str());
            set(&o, "keyVersionId", info.key_version_id.as_str());
            let c = Object::new();
            for (k, v) in info.encryption_context.iter() {
                set(&c, k, v);
            }
            set(&o, "encryptionContext", c);
            set(&o, "messageId", bytes(&info.message_id));
            if let Some(s) = &info.signer {
                let so = Object::new();
                set(&so, "keyId", s.key_id.as_str());
                set(&so, "keyVersionId", s.key_version_id.as_str());
                set(&so, "publicKey", bytes(&s.public_key));
                set(&so, "known", s.known);
                set(&o, "signer", so);
            }
            Ok(o.into())
        })
    }

    /// Turns the envelope data-key cache on (with limits) or off.
    #[wasm_bindgen(js_name = setDataKeyCache)]
    pub fn set_data_key_cache(
        &self,
        enabled: bool,
        max_age_ms: f64,
        max_messages: f64,
        max_bytes: f64,
        capacity: u32,
    ) {
        let n = |v: f64| {
            if v.is_finite() && v > 0.0 {
                v as u64
            } else {
                0
            }
        };
        self.inner
            .set_data_key_cache(enabled.then(|| DataKeyCacheConfig {
                max_age_ms: n(max_age_ms),
                max_messages: n(max_messages),
                max_bytes: n(max_bytes),
                capacity: capacity as usize,
            }));
    }

    /// AsymmetricSign over a SHA-256 `digest`, or over `message` (hashed here).
    #[wasm_bindgen(js_name = asymmetricSign)]
    pub fn asymmetric_sign(
        &self,
        key_id: String,
        algorithm: String,
        digest: Option<Vec<u8>>,
        message: Option<Vec<u8>>,
        key_version_id: Option<String>,
    ) -> Result<JsValue, JsValue> {
        let kms = self.inner.clone();
        promise(async move {
            let input =
                SignInput::one_of(digest.as_deref(), message.as_deref()).map_err(|e| js_err(&e))?;
            let r = kms
                .asymmetric_sign_input(
                    &key_id,
                    key_version_id.as_deref(),
                    algorithm.parse().map_err(|e| js_err(&e))?,
                    input,
                )
                .await
                .map_err(|e| js_err(&e))?;
            let o = key_obj(&r.key_id, &r.key_version_id);
            set(&o, "value", bytes(&r.value));
            Ok(o.into())
        })
    }

    /// AsymmetricVerify: `{ keyId, keyVersionId, value: boolean }`.
    #[wasm_bindgen(js_name = asymmetricVerify)]
    pub fn asymmetric_verify(
        &self,
        key_id: String,
        algorithm: String,
        digest: Option<Vec<u8>>,
        message: Option<Vec<u8>>,
        value: Vec<u8>,
        key_version_id: Option<String>,
    ) -> Result<JsValue, JsValue> {
        let kms = self.inner.clone();
        promise(async move {
            let input =
                SignInput::one_of(digest.as_deref(), message.as_deref()).map_err(|e| js_err(&e))?;
            let r = kms
                .asymmetric_verify_input(
                    &key_id,
                    key_version_id.as_deref(),
                    algorithm.parse().map_err(|e| js_err(&e))?,
                    input,
                    &value,
                )
                .await
                .map_err(|e| js_err(&e))?;
            let o = key_obj(&r.key_id, &r.key_version_id);
            set(&o, "value", r.value);
            Ok(o.into())
        })
    }

    /// GenerateDataKey (`withPlaintext`) or GenerateDataKeyWithoutPlaintext.
    #[wasm_bindgen(js_name = generateDataKey)]
    pub fn generate_data_key(
        &self,
        key_id: String,
        key_spec: Option<String>,
        number_of_bytes: Option<u32>,
        encryption_context: JsValue,
        with_plaintext: bool,
    ) -> Result<JsValue, JsValue> {
        let kms = self.inner.clone();
        promise(async move {
            let req = GenerateDataKeyRequest {
                key_id,
                key_spec: parse(key_spec)?,
                number_of_bytes,
                encryption_context: context(&encryption_context)?,
            };
            let o = Object::new();
            if with_plaintext {
                let r = kms.generate_data_key(req).await.map_err(|e| js_err(&e))?;
                set(&o, "keyId", r.key_id.as_str());
                set(&o, "keyVersionId", r.key_version_id.as_str());
                set(&o, "plaintext", bytes(r.plaintext.expose()));
                set(&o, "ciphertextBlob", bytes(&r.ciphertext_blob));
            } else {
                let r = kms
                    .generate_data_key_without_plaintext(req)
                    .await
                    .map_err(|e| js_err(&e))?;
                set(&o, "keyId", r.key_id.as_str());
                set(&o, "keyVersionId", r.key_version_id.as_str());
                set(&o, "ciphertextBlob", bytes(&r.ciphertext_blob));
            }
            Ok(o.into())
        })
    }
}

/// The serving end of the wire protocol over an in-process software backend.
#[wasm_bindgen]
pub struct NativeBackendServer {
    inner: Rc<CoreServer>,
}

#[allow(clippy::missing_errors_doc)]
#[wasm_bindgen]
impl NativeBackendServer {
    /// A server over a fresh software backend.
    ///
    /// # Errors
    /// `{ code: "Rejected.EntropyUnavailable" }` when no randomness is available.
    /// A server over the in-process software backend whose handles are sealed by a
    /// key kept in `kms`'s store, so they still open after a restart.
    pub fn software(kms: &NativeKms) -> Result<JsValue, JsValue> {
        let kms = kms.inner.clone();
        promise(async move {
            let e = env();
            let s = CoreServer::with_store(Arc::new(SoftwareBackend::new(e)), kms)
                .await
                .map_err(|e| js_err(&e))?;
            Ok(NativeBackendServer { inner: Rc::new(s) }.into())
        })
    }

    /// Makes a fresh client key and admits it: `{ id, secret }` (32 bytes).
    #[wasm_bindgen(js_name = createClient)]
    pub fn create_client(&self) -> Result<JsValue, JsValue> {
        let k = self.inner.create_client().map_err(|e| js_err(&e))?;
        let o = js_sys::Object::new();
        Reflect::set(&o, &"id".into(), &k.id.into())?;
        Reflect::set(&o, &"secret".into(), &bytes(k.secret.expose()).into())?;
        Ok(o.into())
    }

    /// Admits a client key (replacing one with the same id).
    #[wasm_bindgen(js_name = addClient)]
    pub fn add_client(&self, id: String, secret: Vec<u8>) -> Result<(), JsValue> {
        self.inner
            .add_client(strongroom::backend::remote::WireClientKey {
                id,
                secret: SecretBytes::new(secret),
            })
            .map_err(|e| js_err(&e))
    }

    /// Withdraws a client key; whether it was admitted.
    #[wasm_bindgen(js_name = removeClient)]
    #[must_use]
    pub fn remove_client(&self, id: String) -> bool {
        self.inner.remove_client(&id)
    }

    /// Serves unauthenticated version-1 requests too (off by default).
    #[wasm_bindgen(js_name = setAcceptV1)]
    pub fn set_accept_v1(&self, accept: bool) {
        self.inner.set_accept_v1(accept);
    }

    /// Serves one request: a `Uint8Array`, or a `Promise` of one.
    pub fn handle(&self, request: Vec<u8>) -> Result<JsValue, JsValue> {
        let s = self.inner.clone();
        promise(async move { Ok(bytes(&s.handle(&request).await).into()) })
    }
}

/// A DER ECDSA signature as WebCrypto's `r ‖ s`, or `null` when it does not parse
/// (which the wasm verifier would also refuse). For the facade's WebCrypto verify.
#[wasm_bindgen(js_name = ecdsaDerToRaw)]
#[must_use]
pub fn ecdsa_der_to_raw(key_spec: String, der: Vec<u8>) -> Option<Vec<u8>> {
    let spec = key_spec.parse().ok()?;
    strongroom::asym::ecdsa_der_to_raw(spec, &der).ok()
}

/// A SubjectPublicKeyInfo given as PEM or DER bytes, as DER.
///
/// # Errors
/// `InvalidParameter.PublicKey` for PEM that does not parse.
#[wasm_bindgen(js_name = spkiDer)]
pub fn spki_der(public_key: Vec<u8>) -> Result<Vec<u8>, JsValue> {
    strongroom::asym::spki_der(&public_key).map_err(|e| js_err(&e))
}

/// Verifies a signature with a public key from anywhere (SPKI DER or PEM bytes), over
/// a SHA-256 `digest` or a `message`. A wrong signature is `false`.
///
/// # Errors
/// `InvalidParameter.*` for a bad spec, algorithm, digest or public key.
#[wasm_bindgen(js_name = verifySignature)]
pub fn verify_signature(
    public_key: Vec<u8>,
    key_spec: String,
    algorithm: String,
    signature: Vec<u8>,
    digest: Option<Vec<u8>>,
    message: Option<Vec<u8>>,
) -> Result<bool, JsValue> {
    let input = SignInput::one_of(digest.as_deref(), message.as_deref()).map_err(|e| js_err(&e))?;
    strongroom::asym::verify_input(
        key_spec.parse().map_err(|e| js_err(&e))?,
        &public_key,
        algorithm.parse().map_err(|e| js_err(&e))?,
        input,
        &signature,
    )
    .map_err(|e| js_err(&e))
}

/// A `SecretCache` disk copy sealed for (secret, stage) under a 32-byte key
/// (docs/FORMAT.md §Secret cache entry; the core's format, shared by every runtime).
///
/// # Errors
/// `InvalidParameter.CacheKey` for a key that is not 32 bytes.
#[wasm_bindgen(js_name = secretCacheSeal)]
pub fn secret_cache_seal(
    key: Vec<u8>,
    secret_name: String,
    stage: String,
    content: Vec<u8>,
) -> Result<Vec<u8>, JsValue> {
    strongroom::storage::secret_cache_file::seal(&env(), &key, &secret_name, &stage, &content)
        .map_err(|e| js_err(&e))
}

/// A copy sealed by `secretCacheSeal`, opened, if it may be served now: this secret's,
/// fetched less than `max_age_ms` before `now_ms` (the core's rule for every runtime);
/// `undefined` otherwise.
#[wasm_bindgen(js_name = secretCacheOpen)]
pub fn secret_cache_open(
    key: Vec<u8>,
    secret_name: String,
    stage: String,
    sealed: Vec<u8>,
    now_ms: f64,
    max_age_ms: f64,
) -> Option<Vec<u8>> {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (now, max) = (now_ms.max(0.0) as u64, max_age_ms.max(0.0) as u64);
    strongroom::storage::secret_cache_file::open_fresh(
        &key,
        &secret_name,
        &stage,
        &sealed,
        now,
        max,
    )
    .map(|c| c.expose().to_vec())
}

/// The file name of a (secret, stage)'s disk copy.
#[wasm_bindgen(js_name = secretCacheFileName)]
pub fn secret_cache_file_name(secret_name: String, stage: String) -> String {
    strongroom::storage::secret_cache_file::file_name(&secret_name, &stage)
}

/// Checks an audit trail's text with the audit key's public key (PEM or DER):
/// `{ intact, events, digests, closed, unsignedTail, lastHash, problems }`.
///
/// # Errors
/// `InvalidParameter.PublicKey`.
#[wasm_bindgen(js_name = verifyAudit)]
pub fn verify_audit(
    text: String,
    public_key: Vec<u8>,
    after: Option<String>,
) -> Result<JsValue, JsValue> {
    let r =
        strongroom::audit::verify(&text, &public_key, after.as_deref()).map_err(|e| js_err(&e))?;
    let o = Object::new();
    set(&o, "intact", r.ok());
    set(&o, "events", r.events as f64);
    set(&o, "digests", r.digests as f64);
    set(&o, "closed", r.closed);
    set(&o, "unsignedTail", r.unsigned_tail as f64);
    set(
        &o,
        "lastHash",
        r.last_hash.map_or(JsValue::NULL, |h| JsValue::from_str(&h)),
    );
    let problems = Array::new();
    for p in &r.problems {
        problems.push(&JsValue::from_str(p));
    }
    set(&o, "problems", problems);
    Ok(o.into())
}

/// Hazmat for the shared test vectors: seal a blob with explicit material and nonce.
///
/// # Errors
/// `{ code: "InvalidParameter.*" }` for a bad nonce, ids or context.
#[wasm_bindgen(js_name = vectorSeal)]
pub fn vector_seal(
    material: Vec<u8>,
    nonce: Vec<u8>,
    key_id: String,
    key_version_id: String,
    plaintext: Vec<u8>,
    encryption_context: JsValue,
) -> Result<Uint8Array, JsValue> {
    let nonce: [u8; 12] = nonce.try_into().map_err(|_| {
        js_err(&Error::InvalidParameter {
            name: "Nonce",
            reason: "must be 12 bytes".into(),
        })
    })?;
    let ctx = context(&encryption_context)?;
    strongroom::blob::seal_with_material(
        &material,
        &nonce,
        &key_id,
        &key_version_id,
        &plaintext,
        &ctx,
    )
    .map(|b| bytes(&b))
    .map_err(|e| js_err(&e))
}

fn nonce12(nonce: Vec<u8>) -> Result<[u8; 12], JsValue> {
    nonce.try_into().map_err(|_| {
        js_err(&Error::InvalidParameter {
            name: "Nonce",
            reason: "must be 12 bytes".into(),
        })
    })
}

/// One envelope frame's AES-256-GCM in wasm (for platforms without WebCrypto).
///
/// # Errors
/// `{ code }` for a bad key or nonce length.
#[wasm_bindgen(js_name = envelopeFrameSeal)]
pub fn envelope_frame_seal(
    key: Vec<u8>,
    nonce: Vec<u8>,
    plaintext: Vec<u8>,
) -> Result<Uint8Array, JsValue> {
    strongroom::envelope::frame_seal(&key, &nonce12(nonce)?, &plaintext)
        .map(|b| bytes(&b))
        .map_err(|e| js_err(&e))
}

/// Opens one frame sealed by `envelopeFrameSeal` (or any AES-256-GCM).
///
/// # Errors
/// `{ code: "InvalidCiphertext" }` when the tag does not verify.
#[wasm_bindgen(js_name = envelopeFrameOpen)]
pub fn envelope_frame_open(
    key: Vec<u8>,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
) -> Result<Uint8Array, JsValue> {
    strongroom::envelope::frame_open(&key, &nonce12(nonce)?, &ciphertext)
        .map(|b| bytes(b.expose()))
        .map_err(|e| js_err(&e))
}

/// Hazmat for the shared test vectors: checks a message's header with an explicit
/// data key: `{ messageKey, headerLength, frameLength }`.
///
/// # Errors
/// `{ code }` as DecryptEnvelope for the header.
#[wasm_bindgen(js_name = vectorEnvelopeKey)]
pub fn vector_envelope_key(data_key: Vec<u8>, message: Vec<u8>) -> Result<JsValue, JsValue> {
    let (key, header, n) = strongroom::envelope::header_key_with_data_key(&data_key, &message)
        .map_err(|e| js_err(&e))?;
    let o = Object::new();
    set(&o, "messageKey", bytes(key.expose()));
    set(&o, "headerLength", n as u32);
    set(&o, "frameLength", header.frame_length);
    Ok(o.into())
}
