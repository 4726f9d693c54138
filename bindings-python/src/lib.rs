//! Python bindings for strongroom: conversions only. Every action runs in the core;
//! the GIL is released while it runs.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use strongroom::backend::remote::{BackendServer as CoreServer, RemoteBackend, Transport};
use strongroom::backend::software::SoftwareBackend;
use strongroom::storage::{FileStorage, KdfParams};
use strongroom::{
    BoxFuture, DataKeyCacheConfig, DecryptRequest, EncryptEnvelopeRequest, EncryptRequest,
    EncryptionContext, Env, Error, GenerateDataKeyRequest, KeyBackend, Kms as CoreKms, KmsOptions,
    RootSecret, SignInput,
};

/// Raises the matching `strongroom.errors` exception (defined in Python) for a core error.
fn to_pyerr(e: Error) -> PyErr {
    Python::attach(|py| {
        let made = (|| -> PyResult<PyErr> {
            let m = py.import("strongroom.errors")?;
            let cls = m.getattr(format!("{}Error", e.kind()).as_str())?;
            let exc = cls.call1((e.code(), e.to_string()))?;
            Ok(PyErr::from_value(exc))
        })();
        made.unwrap_or_else(|err| err)
    })
}

/// A new `bytes` of `len` bytes that `fill` writes completely (the envelope's
/// `seal_into` / `open_into` write every byte or fail, and on failure the object is
/// dropped unseen). Unlike `PyBytes::new_with`, the buffer is not zeroed first: for a
/// 1 MiB message that memset was a tenth of the call.
#[allow(unsafe_code)]
fn bytes_written_by<'py>(
    py: Python<'py>,
    len: usize,
    fill: impl FnOnce(&mut [u8]) -> PyResult<()>,
) -> PyResult<Bound<'py, PyBytes>> {
    let n = pyo3::ffi::Py_ssize_t::try_from(len)
        .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("message too large"))?;
    // SAFETY: PyBytes_FromStringAndSize(NULL, n) returns a new reference to a bytes
    // object with n writable bytes (plus a NUL) that no one else has seen yet, or NULL
    // with an exception set (from_owned_ptr_or_err turns that into Err). The slice
    // covers exactly those n bytes and lives only for the `fill` call, while we hold
    // the only reference. The bytes are uninitialised until `fill` writes them; `fill`
    // only writes through the slice (AES-GCM output), it never reads it.
    unsafe {
        let obj = pyo3::ffi::PyBytes_FromStringAndSize(std::ptr::null(), n);
        let b = Bound::from_owned_ptr_or_err(py, obj)?;
        let ptr = pyo3::ffi::PyBytes_AsString(b.as_ptr()).cast::<u8>();
        if ptr.is_null() {
            return Err(PyErr::fetch(py));
        }
        fill(std::slice::from_raw_parts_mut(ptr, len))?;
        Ok(b.cast_into_unchecked())
    }
}

/// The `{key_id, key_version_id}` dict most results start from.
fn key_dict<'py>(
    py: Python<'py>,
    key_id: &str,
    key_version_id: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("key_id", key_id)?;
    d.set_item("key_version_id", key_version_id)?;
    Ok(d)
}

fn context(ctx: Option<HashMap<String, String>>) -> PyResult<EncryptionContext> {
    EncryptionContext::from_pairs(ctx.unwrap_or_default()).map_err(to_pyerr)
}

fn parse<T: std::str::FromStr<Err = Error>>(v: Option<String>) -> PyResult<Option<T>> {
    v.map(|s| s.parse::<T>()).transpose().map_err(to_pyerr)
}

/// Calls a Python callable `transport(request: bytes) -> bytes`.
struct PyTransport(Py<PyAny>);

impl Transport for PyTransport {
    fn round_trip<'a>(&'a self, request: Vec<u8>) -> BoxFuture<'a, strongroom::Result<Vec<u8>>> {
        let r = Python::attach(|py| -> PyResult<Vec<u8>> {
            let out = self.0.call1(py, (PyBytes::new(py, &request),))?;
            out.extract::<Vec<u8>>(py)
        })
        .map_err(|e| Error::BackendUnavailable(format!("transport raised: {e}")));
        Box::pin(async move { r })
    }
}

/// (address, token, mount, key prefix, CA file) of an OpenBao / Vault transit engine.
type TransitArgs = (String, String, String, String, Option<std::path::PathBuf>);

fn transit_for(t: TransitArgs) -> PyResult<Arc<dyn KeyBackend>> {
    let (address, token, mount, key_prefix, ca_file) = t;
    let mut cfg = strongroom::backend::transit::TransitConfig::new(
        address,
        strongroom::SecretBytes::new(token.into_bytes()),
    );
    cfg.mount = mount;
    cfg.key_prefix = key_prefix;
    let opts = strongroom_gateway::client::ClientOptions {
        ca_file,
        timeout: None,
        ..Default::default()
    };
    strongroom_gateway::client::transit_backend(cfg, &opts).map_err(to_pyerr)
}

/// (address, CA file, certificate file, key file, server name, timeout in seconds,
/// protection level) of a KMIP server.
type KmipArgs = (
    String,
    std::path::PathBuf,
    std::path::PathBuf,
    std::path::PathBuf,
    Option<String>,
    Option<f64>,
    Option<String>,
);

fn kmip_for(py: Python<'_>, k: KmipArgs) -> PyResult<Arc<dyn KeyBackend>> {
    let (address, ca_file, cert_file, key_file, server_name, timeout, level) = k;
    let mut cfg = strongroom_kmip::KmipConfig::new(address, ca_file, cert_file, key_file);
    cfg.server_name = server_name;
    if let Some(t) = timeout {
        cfg.set_timeout_secs(t).map_err(to_pyerr)?;
    }
    if let Some(l) = level {
        cfg.set_protection_level(&l).map_err(to_pyerr)?;
    }
    let b = py
        .detach(|| strongroom_kmip::KmipBackend::connect(cfg))
        .map_err(to_pyerr)?;
    Ok(b)
}

/// At most one of the backends a store can be given.
fn one_backend(given: &[bool]) -> PyResult<()> {
    if given.iter().filter(|x| **x).count() > 1 {
        return Err(to_pyerr(strongroom::Error::InvalidParameter {
            name: "Backend",
            reason: "give at most one of transport, pkcs11, transit and kmip".into(),
        }));
    }
    Ok(())
}

fn backend_for(
    py: Python<'_>,
    transport: Option<Py<PyAny>>,
) -> PyResult<Option<Arc<dyn KeyBackend>>> {
    match transport {
        None => Ok(None),
        // `(transport, client id, client secret)`: wire protocol version 2.
        Some(t) if t.bind(py).is_instance_of::<pyo3::types::PyTuple>() => {
            let (f, id, secret): (Py<PyAny>, String, Vec<u8>) = t.extract(py)?;
            let key = strongroom::backend::remote::WireClientKey {
                id,
                secret: strongroom::SecretBytes::new(secret),
            };
            let b = py
                .detach(|| {
                    pollster::block_on(RemoteBackend::connect_with_key(
                        Arc::new(PyTransport(f)),
                        key,
                        Env::system(),
                    ))
                })
                .map_err(to_pyerr)?;
            Ok(Some(Arc::new(b)))
        }
        Some(t) => {
            let b = py
                .detach(|| pollster::block_on(RemoteBackend::connect(Arc::new(PyTransport(t)))))
                .map_err(to_pyerr)?;
            Ok(Some(Arc::new(b)))
        }
    }
}

/// The native KMS handle; `strongroom.Kms` wraps it.
#[pyclass(frozen, module = "strongroom._native")]
struct Kms {
    inner: Arc<CoreKms>,
}

fn root(passphrase: &str) -> RootSecret {
    RootSecret::passphrase(passphrase)
}

/// A Python callable told of every call (see `Kms.set_call_hook`).
struct PyCallHook(Py<PyAny>);

impl strongroom::api::CallHook for PyCallHook {
    fn record(&self, r: &strongroom::api::CallRecord<'_>) {
        Python::attach(|py| {
            let told = (|| -> PyResult<()> {
                let d = PyDict::new(py);
                d.set_item("principal", &r.caller.principal)?;
                d.set_item("request_id", r.request_id)?;
                d.set_item("action", r.action.name())?;
                let res: Vec<String> = r.resources.iter().map(|x| x.arn()).collect();
                d.set_item("resources", res)?;
                d.set_item("code", r.outcome.err().map(|e| e.code()))?;
                self.0.call1(py, (d,))?;
                Ok(())
            })();
            // A hook that raises does not change the call's outcome; Python sees the
            // exception as unraisable (sys.unraisablehook).
            if let Err(e) = told {
                e.write_unraisable(py, None);
            }
        });
    }
}

/// A Python callable that receives the audit trail's records (`str`, whole lines);
/// returning means they are kept (durable, as far as the host is concerned).
struct PyAuditSink {
    callback: Py<PyAny>,
    last: std::sync::Mutex<Option<String>>,
}

impl strongroom::audit::AuditSink for PyAuditSink {
    fn append(&self, lines: &[u8]) -> strongroom::Result<()> {
        let text = String::from_utf8_lossy(lines).into_owned();
        Python::attach(|py| self.callback.call1(py, (text.clone(),)).map(|_| ()))
            .map_err(|e| Error::AuditFailed(format!("the audit callback raised: {e}")))?;
        if let Some(l) = text.lines().last()
            && let Ok(mut g) = self.last.lock()
        {
            *g = Some(l.to_string());
        }
        Ok(())
    }
    fn sync(&self) -> strongroom::Result<()> {
        Ok(())
    }
    fn last_line(&self) -> strongroom::Result<Option<String>> {
        Ok(self.last.lock().ok().and_then(|g| g.clone()))
    }
}

fn audit_options(strict: bool) -> strongroom::audit::AuditOptions {
    strongroom::audit::AuditOptions {
        strict,
        ..Default::default()
    }
}

/// Checks an audit trail (its text) with the audit key's public key (PEM):
/// `{intact, events, digests, closed, unsigned_tail, last_hash, problems}`.
#[pyfunction]
#[pyo3(signature = (text, public_key, after=None))]
fn verify_audit<'py>(
    py: Python<'py>,
    text: &str,
    public_key: &[u8],
    after: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    let r = strongroom::audit::verify(text, public_key, after).map_err(to_pyerr)?;
    let d = PyDict::new(py);
    d.set_item("intact", r.ok())?;
    d.set_item("events", r.events)?;
    d.set_item("digests", r.digests)?;
    d.set_item("closed", r.closed)?;
    d.set_item("unsigned_tail", r.unsigned_tail)?;
    d.set_item("last_hash", r.last_hash)?;
    d.set_item("problems", r.problems)?;
    Ok(d)
}

/// A decrypt's exact and required contexts, converted.
type Contexts = (Option<EncryptionContext>, Option<EncryptionContext>);
fn contexts(
    exact: Option<HashMap<String, String>>,
    required: Option<HashMap<String, String>>,
) -> PyResult<Contexts> {
    Ok((
        exact.map(|c| context(Some(c))).transpose()?,
        required.map(|c| context(Some(c))).transpose()?,
    ))
}

/// A Python rotator: called with a dict `{step, secret_name, version_id, secret_type,
/// extended_config, value}` (`value`: bytes, for `set` and `test`); for `create` it
/// returns the new value (str or bytes). An exception fails the step
/// (`Rejected.RotationFailed`).
struct PySecretRotator(Py<PyAny>);

impl PySecretRotator {
    fn step(
        &self,
        step: &str,
        at: &strongroom::RotationStep<'_>,
        value: Option<&strongroom::SecretBytes>,
    ) -> strongroom::Result<Option<Vec<u8>>> {
        Python::attach(|py| -> PyResult<Option<Vec<u8>>> {
            let d = PyDict::new(py);
            d.set_item("step", step)?;
            d.set_item("secret_name", at.secret_name)?;
            d.set_item("version_id", at.version_id)?;
            d.set_item("secret_type", at.secret_type.as_str())?;
            d.set_item("extended_config", at.extended_config)?;
            d.set_item("value", value.map(|v| PyBytes::new(py, v.expose())))?;
            let out = self.0.call1(py, (d,))?;
            let out = out.bind(py);
            if let Ok(s) = out.extract::<String>() {
                return Ok(Some(s.into_bytes()));
            }
            if let Ok(b) = out.cast::<PyBytes>() {
                return Ok(Some(b.as_bytes().to_vec()));
            }
            Ok(None)
        })
        .map_err(|e| Error::RotationFailed(format!("the rotator's {step} step raised: {e}")))
    }
}

impl strongroom::SecretRotator for PySecretRotator {
    fn create<'a>(
        &'a self,
        step: &'a strongroom::RotationStep<'a>,
    ) -> strongroom::BoxFuture<'a, strongroom::Result<strongroom::SecretBytes>> {
        let r = self.step("create", step, None).and_then(|v| {
            v.map(strongroom::SecretBytes::new).ok_or_else(|| {
                Error::RotationFailed(
                    "the rotator's create step must return the new value (str or bytes)".into(),
                )
            })
        });
        Box::pin(async move { r })
    }
    fn set<'a>(
        &'a self,
        step: &'a strongroom::RotationStep<'a>,
        value: &'a strongroom::SecretBytes,
    ) -> strongroom::BoxFuture<'a, strongroom::Result<()>> {
        let r = self.step("set", step, Some(value)).map(|_| ());
        Box::pin(async move { r })
    }
    fn test<'a>(
        &'a self,
        step: &'a strongroom::RotationStep<'a>,
        value: &'a strongroom::SecretBytes,
    ) -> strongroom::BoxFuture<'a, strongroom::Result<()>> {
        let r = self.step("test", step, Some(value)).map(|_| ());
        Box::pin(async move { r })
    }
}

#[pymethods]
impl Kms {
    /// Opens the store at `path`; its audit trail is `<path>.audit` at `audit_level`
    /// (the store's own level wins once SetAuditLevel ran; `off` attaches nothing).
    #[staticmethod]
    #[pyo3(signature = (path, passphrase, transport=None, audit_level="management", audit_strict=false, pkcs11=None, transit=None, kmip=None))]
    #[allow(clippy::too_many_arguments)]
    fn open(
        py: Python<'_>,
        path: std::path::PathBuf,
        passphrase: &str,
        transport: Option<Py<PyAny>>,
        audit_level: &str,
        audit_strict: bool,
        pkcs11: Option<(std::path::PathBuf, String, String, usize)>,
        transit: Option<TransitArgs>,
        kmip: Option<KmipArgs>,
    ) -> PyResult<Self> {
        one_backend(&[
            transport.is_some(),
            pkcs11.is_some(),
            transit.is_some(),
            kmip.is_some(),
        ])?;
        let backend = match pkcs11 {
            None if kmip.is_some() => kmip.map(|k| kmip_for(py, k)).transpose()?,
            None if transit.is_some() => transit.map(transit_for).transpose()?,
            None => backend_for(py, transport)?,
            Some(_) if transport.is_some() => {
                return Err(to_pyerr(strongroom::Error::InvalidParameter {
                    name: "Pkcs11",
                    reason: "give a transport or a PKCS#11 token, not both".into(),
                }));
            }
            Some((module, token_label, pin, sessions)) => {
                let cfg = strongroom_pkcs11::Pkcs11Config {
                    module,
                    token_label,
                    pin: strongroom::SecretBytes::new(pin.into_bytes()),
                    sessions,
                };
                let b = py
                    .detach(|| strongroom_pkcs11::Pkcs11Backend::open(&cfg))
                    .map_err(to_pyerr)?;
                Some(b as Arc<dyn KeyBackend>)
            }
        };
        let root = root(passphrase);
        let level = strongroom::access::AuditLevel::parse(audit_level).map_err(to_pyerr)?;
        let kms = py
            .detach(|| -> strongroom::Result<CoreKms> {
                let storage = Arc::new(FileStorage::open(&path)?);
                let kms = pollster::block_on(CoreKms::open(KmsOptions {
                    env: Env::system(),
                    storage,
                    root,
                    kdf: KdfParams::default(),
                    backend,
                }))?;
                kms.set_default_audit_level(level);
                if level != strongroom::access::AuditLevel::Off {
                    let sink = strongroom::storage::FileAuditSink::open(
                        strongroom::storage::FileAuditSink::beside(&path),
                    )?;
                    kms.attach_audit(Arc::new(sink), audit_options(audit_strict))?;
                }
                Ok(kms)
            })
            .map_err(to_pyerr)?;
        Ok(Kms {
            inner: Arc::new(kms),
        })
    }

    /// Sends the audit trail's records to `callback` (a callable taking one `str` of
    /// whole lines) at `level`; `last_line` continues an earlier trail's chain.
    #[pyo3(signature = (callback, level="all", strict=false, last_line=None))]
    fn attach_audit(
        &self,
        callback: Py<PyAny>,
        level: &str,
        strict: bool,
        last_line: Option<String>,
    ) -> PyResult<()> {
        let level = strongroom::access::AuditLevel::parse(level).map_err(to_pyerr)?;
        self.inner.set_default_audit_level(level);
        self.inner
            .attach_audit(
                Arc::new(PyAuditSink {
                    callback,
                    last: std::sync::Mutex::new(last_line),
                }),
                audit_options(strict),
            )
            .map_err(to_pyerr)
    }

    /// Writes every waiting audit event and makes the trail durable.
    fn flush_audit(&self, py: Python<'_>) -> PyResult<()> {
        let kms = self.inner.clone();
        py.detach(|| kms.flush_audit()).map_err(to_pyerr)
    }

    /// The audit key's public key (PEM).
    fn audit_public_key(&self, py: Python<'_>) -> PyResult<String> {
        let kms = self.inner.clone();
        py.detach(|| pollster::block_on(kms.audit_public_key()))
            .map_err(to_pyerr)
    }

    /// Acts as the principal an AccessKey pair (and SecurityToken) names: every later
    /// call is authorised against its policies. Returns the principal's ARN.
    #[pyo3(signature = (access_key_id, access_key_secret, security_token=None))]
    fn authenticate(
        &self,
        access_key_id: &str,
        access_key_secret: &str,
        security_token: Option<&str>,
    ) -> PyResult<String> {
        let c = self
            .inner
            .authenticate(access_key_id, access_key_secret.as_bytes(), security_token)
            .map_err(to_pyerr)?;
        let p = c.principal.clone();
        self.inner.act_as(c).map_err(to_pyerr)?;
        Ok(p)
    }

    /// Acts as `principal` (an ARN; `owner` for the store's owner).
    fn act_as(&self, principal: &str) -> PyResult<()> {
        self.inner
            .act_as(strongroom::api::Caller::new(principal))
            .map_err(to_pyerr)
    }

    /// Any action by Alibaba's name; `params_json` is its wire parameters (a JSON
    /// object), the answer Alibaba's response JSON text.
    fn call_wire(&self, py: Python<'_>, action: &str, params_json: &str) -> PyResult<String> {
        let kms = self.inner.clone();
        py.detach(|| pollster::block_on(kms.call_wire_json(action, params_json)))
            .map_err(to_pyerr)
    }

    /// Installs `hook` (a callable taking one dict), or removes it with None.
    #[pyo3(signature = (hook=None))]
    fn set_call_hook(&self, hook: Option<Py<PyAny>>) {
        self.inner.set_call_hook(
            hook.map(|h| Arc::new(PyCallHook(h)) as Arc<dyn strongroom::api::CallHook>),
        );
    }

    /// Closes the instance and releases the store's writer lock now (not at garbage
    /// collection); later calls raise `Rejected.StoreClosed`.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let kms = self.inner.clone();
        py.detach(|| pollster::block_on(kms.close()))
            .map_err(to_pyerr)
    }

    /// Installs `rotator` (a callable taking one dict) for RotateSecret and automatic
    /// rotation, or the built-in random-password rotator with None.
    #[pyo3(signature = (rotator=None))]
    fn set_secret_rotator(&self, rotator: Option<Py<PyAny>>) {
        self.inner.set_secret_rotator(
            rotator.map(|r| Arc::new(PySecretRotator(r)) as Arc<dyn strongroom::SecretRotator>),
        );
    }

    #[staticmethod]
    #[pyo3(signature = (transport=None, transit=None, kmip=None))]
    fn memory(
        py: Python<'_>,
        transport: Option<Py<PyAny>>,
        transit: Option<TransitArgs>,
        kmip: Option<KmipArgs>,
    ) -> PyResult<Self> {
        one_backend(&[transport.is_some(), transit.is_some(), kmip.is_some()])?;
        let backend = match (transit, kmip) {
            (Some(t), _) => Some(transit_for(t)?),
            (_, Some(k)) => Some(kmip_for(py, k)?),
            _ => backend_for(py, transport)?,
        };
        let kms = py
            .detach(|| pollster::block_on(CoreKms::memory(Env::system(), backend)))
            .map_err(to_pyerr)?;
        Ok(Kms {
            inner: Arc::new(kms),
        })
    }

    /// A Kms whose actions run in the strongroom gateway at `endpoint`.
    #[staticmethod]
    #[pyo3(signature = (endpoint, access_key_id, access_key_secret, security_token=None, ca_file=None, timeout_s=None, max_attempts=None, base_delay_ms=None, max_delay_ms=None))]
    #[allow(clippy::too_many_arguments)]
    fn connect(
        py: Python<'_>,
        endpoint: String,
        access_key_id: String,
        access_key_secret: String,
        security_token: Option<String>,
        ca_file: Option<std::path::PathBuf>,
        timeout_s: Option<f64>,
        max_attempts: Option<i64>,
        base_delay_ms: Option<i64>,
        max_delay_ms: Option<i64>,
    ) -> PyResult<Self> {
        let retry_part = |v: Option<i64>, default: u64| -> PyResult<u64> {
            match v {
                None => Ok(default),
                Some(n) => u64::try_from(n).map_err(|_| {
                    to_pyerr(strongroom::Error::InvalidParameter {
                        name: "Retry",
                        reason: "must be a non-negative integer".into(),
                    })
                }),
            }
        };
        let d = strongroom::RetryPolicy::default();
        let retry = strongroom::RetryPolicy {
            max_attempts: u32::try_from(retry_part(max_attempts, u64::from(d.max_attempts))?)
                .unwrap_or(u32::MAX),
            base_delay_ms: retry_part(base_delay_ms, d.base_delay_ms)?,
            max_delay_ms: retry_part(max_delay_ms, d.max_delay_ms)?,
        };
        let timeout = match timeout_s {
            Some(t) if t.is_finite() && t > 0.0 => Some(std::time::Duration::from_secs_f64(t)),
            Some(_) => {
                return Err(to_pyerr(strongroom::Error::InvalidParameter {
                    name: "Timeout",
                    reason: "must be a positive number of seconds".into(),
                }));
            }
            None => None,
        };
        let endpoint = strongroom::Endpoint {
            url: endpoint,
            access_key_id,
            access_key_secret: strongroom::SecretBytes::from_slice(access_key_secret.as_bytes()),
            security_token: security_token
                .map(|t| strongroom::SecretBytes::from_slice(t.as_bytes())),
        };
        let opts = strongroom_gateway::client::ClientOptions {
            ca_file,
            timeout,
            retry: Some(retry),
        };
        let kms = py
            .detach(|| pollster::block_on(strongroom_gateway::client::connect(endpoint, &opts)))
            .map_err(to_pyerr)?;
        Ok(Kms {
            inner: Arc::new(kms),
        })
    }

    #[staticmethod]
    #[pyo3(signature = (data, passphrase, transport=None))]
    fn open_image(
        py: Python<'_>,
        data: Vec<u8>,
        passphrase: &str,
        transport: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let backend = backend_for(py, transport)?;
        let root = root(passphrase);
        let kms = py
            .detach(|| pollster::block_on(CoreKms::open_image(Env::system(), data, root, backend)))
            .map_err(to_pyerr)?;
        Ok(Kms {
            inner: Arc::new(kms),
        })
    }

    /// Whether this instance runs its actions in a gateway (Kms.connect).
    fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    #[pyo3(signature = (passphrase=None))]
    fn export_image<'py>(
        &self,
        py: Python<'py>,
        passphrase: Option<&str>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let reseal = passphrase.map(|p| (root(p), KdfParams::default()));
        let img = py
            .detach(|| pollster::block_on(self.inner.export_image(reseal)))
            .map_err(to_pyerr)?;
        Ok(PyBytes::new(py, &img))
    }

    #[staticmethod]
    #[pyo3(signature = (path, passphrase, backup, backup_passphrase, transport=None))]
    fn restore_backup(
        py: Python<'_>,
        path: std::path::PathBuf,
        passphrase: &str,
        backup: Vec<u8>,
        backup_passphrase: &str,
        transport: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let backend = backend_for(py, transport)?;
        let root = root(passphrase);
        let kms = py
            .detach(|| -> strongroom::Result<CoreKms> {
                let storage = Arc::new(FileStorage::open(&path)?);
                pollster::block_on(CoreKms::restore_backup(
                    KmsOptions {
                        env: Env::system(),
                        storage,
                        root,
                        kdf: KdfParams::default(),
                        backend,
                    },
                    &backup,
                    backup_passphrase,
                ))
            })
            .map_err(to_pyerr)?;
        Ok(Kms {
            inner: Arc::new(kms),
        })
    }

    fn create_backup<'py>(
        &self,
        py: Python<'py>,
        backup_passphrase: &str,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let b = py
            .detach(|| {
                pollster::block_on(
                    self.inner
                        .create_backup(backup_passphrase, KdfParams::default()),
                )
            })
            .map_err(to_pyerr)?;
        Ok(PyBytes::new(py, &b))
    }

    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (length=None, exclude_characters=None, exclude_lowercase=false, exclude_uppercase=false, exclude_numbers=false, exclude_punctuation=false, require_each_included_type=None))]
    fn get_random_password(
        &self,
        length: Option<u32>,
        exclude_characters: Option<String>,
        exclude_lowercase: bool,
        exclude_uppercase: bool,
        exclude_numbers: bool,
        exclude_punctuation: bool,
        require_each_included_type: Option<bool>,
    ) -> PyResult<String> {
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
            .map_err(to_pyerr)?;
        Ok(String::from_utf8_lossy(p.expose()).into_owned())
    }

    fn change_passphrase(&self, py: Python<'_>, passphrase: &str) -> PyResult<()> {
        let r = root(passphrase);
        py.detach(|| pollster::block_on(self.inner.change_root(r, KdfParams::default())))
            .map_err(to_pyerr)
    }

    fn rekey_store(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| pollster::block_on(self.inner.rekey_store()))
            .map_err(to_pyerr)
    }

    fn compact_store(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| pollster::block_on(self.inner.compact_store()))
            .map_err(to_pyerr)
    }

    fn run_due(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| pollster::block_on(self.inner.run_due()))
            .map_err(to_pyerr)
    }

    fn store_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let i = self.inner.store_info().map_err(to_pyerr)?;
        let d = PyDict::new(py);
        d.set_item("format_version", i.format_version)?;
        d.set_item("generation", i.generation)?;
        d.set_item("snapshot_bytes", i.snapshot_bytes)?;
        d.set_item("journal_records", i.journal_records)?;
        d.set_item("journal_bytes", i.journal_bytes)?;
        d.set_item("torn_bytes", i.torn_bytes)?;
        Ok(d)
    }

    #[pyo3(signature = (key_id, plaintext, encryption_context=None))]
    fn encrypt<'py>(
        &self,
        py: Python<'py>,
        key_id: String,
        plaintext: &[u8],
        encryption_context: Option<HashMap<String, String>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let req = EncryptRequest {
            key_id,
            plaintext: plaintext.to_vec(),
            encryption_context: context(encryption_context)?,
        };
        let r = py
            .detach(|| pollster::block_on(self.inner.encrypt(req)))
            .map_err(to_pyerr)?;
        let d = key_dict(py, &r.key_id, &r.key_version_id)?;
        d.set_item("ciphertext_blob", PyBytes::new(py, &r.ciphertext_blob))?;
        Ok(d)
    }

    /// Exactly one of `digest` (SHA-256 of the message) and `message` (hashed by the core).
    #[pyo3(signature = (key_id, algorithm, digest=None, message=None, key_version_id=None))]
    fn asymmetric_sign<'py>(
        &self,
        py: Python<'py>,
        key_id: String,
        algorithm: String,
        digest: Option<Vec<u8>>,
        message: Option<Vec<u8>>,
        key_version_id: Option<String>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let input = SignInput::one_of(digest.as_deref(), message.as_deref()).map_err(to_pyerr)?;
        let algorithm = algorithm.parse().map_err(to_pyerr)?;
        let r = py
            .detach(|| {
                pollster::block_on(self.inner.asymmetric_sign_input(
                    &key_id,
                    key_version_id.as_deref(),
                    algorithm,
                    input,
                ))
            })
            .map_err(to_pyerr)?;
        let d = key_dict(py, &r.key_id, &r.key_version_id)?;
        d.set_item("value", PyBytes::new(py, &r.value))?;
        Ok(d)
    }

    #[pyo3(signature = (key_id, algorithm, value, digest=None, message=None, key_version_id=None))]
    #[allow(clippy::too_many_arguments)]
    fn asymmetric_verify<'py>(
        &self,
        py: Python<'py>,
        key_id: String,
        algorithm: String,
        value: Vec<u8>,
        digest: Option<Vec<u8>>,
        message: Option<Vec<u8>>,
        key_version_id: Option<String>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let input = SignInput::one_of(digest.as_deref(), message.as_deref()).map_err(to_pyerr)?;
        let algorithm = algorithm.parse().map_err(to_pyerr)?;
        let r = py
            .detach(|| {
                pollster::block_on(self.inner.asymmetric_verify_input(
                    &key_id,
                    key_version_id.as_deref(),
                    algorithm,
                    input,
                    &value,
                ))
            })
            .map_err(to_pyerr)?;
        let d = key_dict(py, &r.key_id, &r.key_version_id)?;
        d.set_item("value", r.value)?;
        Ok(d)
    }

    #[pyo3(signature = (ciphertext_blob, encryption_context=None))]
    fn decrypt<'py>(
        &self,
        py: Python<'py>,
        ciphertext_blob: &[u8],
        encryption_context: Option<HashMap<String, String>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let req = DecryptRequest {
            ciphertext_blob: ciphertext_blob.to_vec(),
            encryption_context: context(encryption_context)?,
        };
        let r = py
            .detach(|| pollster::block_on(self.inner.decrypt(req)))
            .map_err(to_pyerr)?;
        let d = key_dict(py, &r.key_id, &r.key_version_id)?;
        d.set_item("plaintext", PyBytes::new(py, r.plaintext.expose()))?;
        Ok(d)
    }

    #[pyo3(signature = (key_ids, plaintext, encryption_context=None, frame_length=None, signing_key_id=None))]
    fn encrypt_envelope<'py>(
        &self,
        py: Python<'py>,
        key_ids: Vec<String>,
        plaintext: &[u8],
        encryption_context: Option<HashMap<String, String>>,
        frame_length: Option<u32>,
        signing_key_id: Option<String>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let mut req = EncryptEnvelopeRequest {
            key_ids,
            encryption_context: context(encryption_context)?,
            frame_length,
            signing_key_id,
            ..Default::default()
        };
        if req.signing_key_id.is_some() {
            // A signed message's length depends on its DER signature: built by the core.
            req.plaintext = plaintext.to_vec();
            let out = py
                .detach(|| pollster::block_on(self.inner.encrypt_envelope(req)))
                .map_err(to_pyerr)?;
            return Ok(PyBytes::new(py, &out));
        }
        let len = plaintext.len() as u64;
        let enc = py
            .detach(|| pollster::block_on(self.inner.envelope_encryptor(&req, Some(len))))
            .map_err(to_pyerr)?;
        // Sealed straight into the bytes object: the plaintext is read in place and
        // nothing is copied twice.
        let mut enc = Some(enc);
        let n = enc.as_ref().map_or(0, |e| e.message_len(plaintext.len()));
        bytes_written_by(py, n, |buf| {
            let e = enc
                .take()
                .ok_or_else(|| PyTypeError::new_err("encryptor already used"))?;
            py.detach(|| e.seal_into(plaintext, buf)).map_err(to_pyerr)
        })
    }

    #[pyo3(signature = (ciphertext, encryption_context=None, required_encryption_context=None, required_signer=None))]
    fn decrypt_envelope<'py>(
        &self,
        py: Python<'py>,
        ciphertext: &[u8],
        encryption_context: Option<HashMap<String, String>>,
        required_encryption_context: Option<HashMap<String, String>>,
        required_signer: Option<String>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (exact, required) = contexts(encryption_context, required_encryption_context)?;
        let check = strongroom::ContextCheck {
            exact: exact.as_ref(),
            required: required.as_ref(),
            required_signer: required_signer.as_deref(),
        };
        let m = py
            .detach(|| pollster::block_on(self.inner.open_message(ciphertext, check)))
            .map_err(to_pyerr)?;
        let body = ciphertext.get(m.body_offset..).unwrap_or_default();
        let info = m.info;
        let mut dec = Some(m.decryptor);
        let plaintext = bytes_written_by(py, m.plaintext_len, |buf| {
            let d = dec
                .take()
                .ok_or_else(|| PyTypeError::new_err("decryptor already used"))?;
            py.detach(|| d.open_into(body, buf)).map_err(to_pyerr)
        })?;
        let d = envelope_info(py, &info)?;
        d.set_item("plaintext", plaintext)?;
        Ok(d)
    }

    /// Streams `src.read` → envelope → `dst.write`; the GIL is held only for the
    /// Python I/O calls.
    #[pyo3(signature = (src, dst, key_ids, encryption_context=None, frame_length=None, signing_key_id=None))]
    #[allow(clippy::too_many_arguments)]
    fn encrypt_stream(
        &self,
        py: Python<'_>,
        src: Py<PyAny>,
        dst: Py<PyAny>,
        key_ids: Vec<String>,
        encryption_context: Option<HashMap<String, String>>,
        frame_length: Option<u32>,
        signing_key_id: Option<String>,
    ) -> PyResult<u64> {
        let req = EncryptEnvelopeRequest {
            key_ids,
            encryption_context: context(encryption_context)?,
            frame_length,
            signing_key_id,
            ..Default::default()
        };
        let mut r = PyIo::new(src);
        let mut w = PyIo::new(dst);
        let out = py.detach(|| pollster::block_on(self.inner.encrypt_stream(&req, &mut r, &mut w)));
        out.map_err(|e| {
            r.take_err()
                .or_else(|| w.take_err())
                .unwrap_or_else(|| to_pyerr(e))
        })
    }

    #[pyo3(signature = (src, dst, encryption_context=None, required_encryption_context=None, required_signer=None))]
    fn decrypt_stream<'py>(
        &self,
        py: Python<'py>,
        src: Py<PyAny>,
        dst: Py<PyAny>,
        encryption_context: Option<HashMap<String, String>>,
        required_encryption_context: Option<HashMap<String, String>>,
        required_signer: Option<String>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (exact, required) = contexts(encryption_context, required_encryption_context)?;
        let check = strongroom::ContextCheck {
            exact: exact.as_ref(),
            required: required.as_ref(),
            required_signer: required_signer.as_deref(),
        };
        let mut r = PyIo::new(src);
        let mut w = PyIo::new(dst);
        let out =
            py.detach(|| pollster::block_on(self.inner.decrypt_stream(&mut r, &mut w, check)));
        let info = out.map_err(|e| {
            r.take_err()
                .or_else(|| w.take_err())
                .unwrap_or_else(|| to_pyerr(e))
        })?;
        envelope_info(py, &info)
    }

    #[pyo3(signature = (enabled, max_age_ms=300_000, max_messages=1000, max_bytes=1073741824, capacity=64))]
    fn set_data_key_cache(
        &self,
        enabled: bool,
        max_age_ms: u64,
        max_messages: u64,
        max_bytes: u64,
        capacity: usize,
    ) {
        self.inner
            .set_data_key_cache(enabled.then_some(DataKeyCacheConfig {
                max_age_ms,
                max_messages,
                max_bytes,
                capacity,
            }));
    }

    #[pyo3(signature = (key_id, key_spec=None, number_of_bytes=None, encryption_context=None, with_plaintext=true))]
    fn generate_data_key<'py>(
        &self,
        py: Python<'py>,
        key_id: String,
        key_spec: Option<String>,
        number_of_bytes: Option<u32>,
        encryption_context: Option<HashMap<String, String>>,
        with_plaintext: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let req = GenerateDataKeyRequest {
            key_id,
            key_spec: parse(key_spec)?,
            number_of_bytes,
            encryption_context: context(encryption_context)?,
        };
        let d = PyDict::new(py);
        if with_plaintext {
            let r = py
                .detach(|| pollster::block_on(self.inner.generate_data_key(req)))
                .map_err(to_pyerr)?;
            d.set_item("key_id", &r.key_id)?;
            d.set_item("key_version_id", &r.key_version_id)?;
            d.set_item("plaintext", PyBytes::new(py, r.plaintext.expose()))?;
            d.set_item("ciphertext_blob", PyBytes::new(py, &r.ciphertext_blob))?;
        } else {
            let r = py
                .detach(|| pollster::block_on(self.inner.generate_data_key_without_plaintext(req)))
                .map_err(to_pyerr)?;
            d.set_item("key_id", &r.key_id)?;
            d.set_item("key_version_id", &r.key_version_id)?;
            d.set_item("ciphertext_blob", PyBytes::new(py, &r.ciphertext_blob))?;
        }
        Ok(d)
    }
}

fn envelope_info<'py>(
    py: Python<'py>,
    info: &strongroom::EnvelopeInfo,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("key_id", &info.key_id)?;
    d.set_item("key_version_id", &info.key_version_id)?;
    let ctx = PyDict::new(py);
    for (k, v) in info.encryption_context.iter() {
        ctx.set_item(k, v)?;
    }
    d.set_item("encryption_context", ctx)?;
    d.set_item("message_id", PyBytes::new(py, &info.message_id))?;
    match &info.signer {
        Some(s) => {
            let sd = PyDict::new(py);
            sd.set_item("key_id", &s.key_id)?;
            sd.set_item("key_version_id", &s.key_version_id)?;
            sd.set_item("public_key", PyBytes::new(py, &s.public_key))?;
            sd.set_item("known", s.known)?;
            d.set_item("signer", sd)?;
        }
        None => d.set_item("signer", py.None())?,
    }
    Ok(d)
}

/// A Python file-like object seen as `std::io::Read` / `Write`: each call takes the
/// GIL for the Python method only. The first Python exception is kept to be
/// re-raised as itself.
struct PyIo {
    obj: Py<PyAny>,
    err: Option<PyErr>,
}

impl PyIo {
    fn new(obj: Py<PyAny>) -> Self {
        PyIo { obj, err: None }
    }
    fn take_err(&mut self) -> Option<PyErr> {
        self.err.take()
    }
    fn fail(&mut self, e: PyErr) -> std::io::Error {
        let msg = e.to_string();
        self.err.get_or_insert(e);
        std::io::Error::other(msg)
    }
}

impl std::io::Read for PyIo {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let r = Python::attach(|py| -> PyResult<usize> {
            let chunk = self.obj.call_method1(py, "read", (buf.len(),))?;
            if chunk.is_none(py) {
                return Ok(0);
            }
            let b = chunk.bind(py);
            let data: std::borrow::Cow<'_, [u8]> = if let Ok(bytes) = b.cast::<PyBytes>() {
                std::borrow::Cow::Borrowed(bytes.as_bytes())
            } else {
                std::borrow::Cow::Owned(b.extract::<Vec<u8>>()?)
            };
            let n = data.len().min(buf.len());
            if let (Some(d), Some(s)) = (buf.get_mut(..n), data.get(..n)) {
                d.copy_from_slice(s);
            }
            if data.len() > buf.len() {
                return Err(PyTypeError::new_err("read(n) returned more than n bytes"));
            }
            Ok(n)
        });
        r.map_err(|e| self.fail(e))
    }
}

impl std::io::Write for PyIo {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let r = Python::attach(|py| -> PyResult<usize> {
            let n = self
                .obj
                .call_method1(py, "write", (PyBytes::new(py, buf),))?;
            // Raw streams may write less; None means "all" for buffered writers.
            Ok(if n.is_none(py) {
                buf.len()
            } else {
                n.extract::<usize>(py)?
            })
        });
        r.map_err(|e| self.fail(e))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let r = Python::attach(|py| -> PyResult<()> {
            if self.obj.bind(py).hasattr("flush")? {
                self.obj.call_method0(py, "flush")?;
            }
            Ok(())
        });
        r.map_err(|e| self.fail(e))
    }
}

/// The serving end of the remote-backend wire protocol, over the in-process software
/// backend: `handle(request: bytes) -> bytes`. Plug `server.handle` as a transport.
#[pyclass(frozen, module = "strongroom._native")]
struct BackendServer {
    inner: Arc<CoreServer>,
}

#[pymethods]
impl BackendServer {
    /// Over the in-process software backend; handles are sealed by a key kept in
    /// `kms`'s store, so they still open after a restart.
    #[staticmethod]
    fn software(py: Python<'_>, kms: &Kms) -> PyResult<Self> {
        let env = Env::system();
        let store = kms.inner.clone();
        let s = py
            .detach(|| {
                pollster::block_on(CoreServer::with_store(
                    Arc::new(SoftwareBackend::new(env)),
                    store,
                ))
            })
            .map_err(to_pyerr)?;
        Ok(BackendServer { inner: Arc::new(s) })
    }

    fn handle<'py>(&self, py: Python<'py>, request: &[u8]) -> Bound<'py, PyBytes> {
        let out = py.detach(|| pollster::block_on(self.inner.handle(request)));
        PyBytes::new(py, &out)
    }

    /// A fresh client key, admitted: `(id, secret)`.
    fn create_client<'py>(&self, py: Python<'py>) -> PyResult<(String, Bound<'py, PyBytes>)> {
        let k = self.inner.create_client().map_err(to_pyerr)?;
        Ok((k.id.clone(), PyBytes::new(py, k.secret.expose())))
    }

    fn add_client(&self, id: String, secret: Vec<u8>) -> PyResult<()> {
        self.inner
            .add_client(strongroom::backend::remote::WireClientKey {
                id,
                secret: strongroom::SecretBytes::new(secret),
            })
            .map_err(to_pyerr)
    }

    fn remove_client(&self, id: &str) -> bool {
        self.inner.remove_client(id)
    }

    fn set_accept_v1(&self, accept: bool) {
        self.inner.set_accept_v1(accept);
    }
}

/// Hazmat for the shared test vectors: seal a blob with explicit material and nonce.
#[pyfunction]
#[pyo3(signature = (material, nonce, key_id, key_version_id, plaintext, encryption_context=None))]
fn vector_seal<'py>(
    py: Python<'py>,
    material: &[u8],
    nonce: &[u8],
    key_id: &str,
    key_version_id: &str,
    plaintext: &[u8],
    encryption_context: Option<HashMap<String, String>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let nonce: [u8; 12] = nonce
        .try_into()
        .map_err(|_| PyTypeError::new_err("nonce must be 12 bytes"))?;
    let ctx = context(encryption_context)?;
    let b = strongroom::blob::seal_with_material(
        material,
        &nonce,
        key_id,
        key_version_id,
        plaintext,
        &ctx,
    )
    .map_err(to_pyerr)?;
    Ok(PyBytes::new(py, &b))
}

/// Hazmat for the shared test vectors: an envelope with an explicit data key,
/// message id and stanzas `[(type, body)]`.
#[pyfunction]
#[pyo3(signature = (data_key, message_id, stanzas, encryption_context, frame_length, plaintext))]
fn vector_seal_envelope<'py>(
    py: Python<'py>,
    data_key: &[u8],
    message_id: &[u8],
    stanzas: Vec<(u8, Vec<u8>)>,
    encryption_context: Option<HashMap<String, String>>,
    frame_length: u32,
    plaintext: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let mid: [u8; 32] = message_id
        .try_into()
        .map_err(|_| PyTypeError::new_err("message_id must be 32 bytes"))?;
    let stanzas: Vec<strongroom::envelope::Stanza> = stanzas
        .into_iter()
        .map(|(kind, body)| strongroom::envelope::Stanza { kind, body })
        .collect();
    let ctx = context(encryption_context)?;
    let m = strongroom::envelope::seal_with_data_key(
        data_key,
        &mid,
        &stanzas,
        &ctx,
        frame_length,
        plaintext,
    )
    .map_err(to_pyerr)?;
    Ok(PyBytes::new(py, &m))
}

/// Hazmat for the shared test vectors: opens an envelope with an explicit data key.
#[pyfunction]
fn vector_open_envelope<'py>(
    py: Python<'py>,
    data_key: &[u8],
    message: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let pt = strongroom::envelope::open_with_data_key(data_key, message).map_err(to_pyerr)?;
    Ok(PyBytes::new(py, &pt))
}

/// The length of the envelope header at the start of `message`, or `None` when
/// `message` ends inside it (what `re_encrypt_envelope` sends: the header, not the
/// frames). Errors as the core's header parser.
#[pyfunction]
fn envelope_header_length(message: &[u8]) -> PyResult<Option<usize>> {
    Ok(strongroom::envelope::parse_header(message)
        .map_err(to_pyerr)?
        .map(|(_, n)| n))
}

/// Verifies a signature over a SHA-256 digest or a message with a public key from
/// anywhere (SubjectPublicKeyInfo, PEM or DER): no KMS key involved. A wrong signature
/// is `False`.
#[pyfunction]
#[pyo3(signature = (public_key, key_spec, algorithm, signature, digest=None, message=None))]
fn verify_signature(
    public_key: &[u8],
    key_spec: &str,
    algorithm: &str,
    signature: &[u8],
    digest: Option<&[u8]>,
    message: Option<&[u8]>,
) -> PyResult<bool> {
    strongroom::asym::verify_input(
        key_spec.parse().map_err(to_pyerr)?,
        public_key,
        algorithm.parse().map_err(to_pyerr)?,
        SignInput::one_of(digest, message).map_err(to_pyerr)?,
        signature,
    )
    .map_err(to_pyerr)
}

/// A `SecretCache` disk copy sealed for (secret, stage) under a 32-byte key
/// (docs/FORMAT.md §Secret cache entry; the format is the core's, shared by every runtime).
#[pyfunction]
fn secret_cache_seal<'py>(
    py: Python<'py>,
    key: &[u8],
    secret_name: &str,
    stage: &str,
    content: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let sealed = strongroom::storage::secret_cache_file::seal(
        &Env::system(),
        key,
        secret_name,
        stage,
        content,
    )
    .map_err(to_pyerr)?;
    Ok(PyBytes::new(py, &sealed))
}

/// A copy sealed by `secret_cache_seal`, opened, if it may be served now: this
/// secret's, fetched less than `max_age_ms` before `now_ms` (the core's rule for every
/// runtime); `None` otherwise.
#[pyfunction]
fn secret_cache_open<'py>(
    py: Python<'py>,
    key: &[u8],
    secret_name: &str,
    stage: &str,
    sealed: &[u8],
    now_ms: u64,
    max_age_ms: u64,
) -> Option<Bound<'py, PyBytes>> {
    strongroom::storage::secret_cache_file::open_fresh(
        key,
        secret_name,
        stage,
        sealed,
        now_ms,
        max_age_ms,
    )
    .map(|c| PyBytes::new(py, c.expose()))
}

/// The file name of a (secret, stage)'s disk copy.
#[pyfunction]
fn secret_cache_file_name(secret_name: &str, stage: &str) -> String {
    strongroom::storage::secret_cache_file::file_name(secret_name, stage)
}

#[pymodule]
mod _native {
    #[pymodule_export]
    use super::{
        BackendServer, Kms, envelope_header_length, secret_cache_file_name, secret_cache_open,
        secret_cache_seal, vector_open_envelope, vector_seal, vector_seal_envelope, verify_audit,
        verify_signature,
    };
}
