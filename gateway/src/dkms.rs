//! The dedicated KMS instance API that Alibaba's instance SDK (`alibabacloud-dkms-gcs`,
//! API version `dkms-gcs-0.2`) speaks: protobuf messages over HTTPS, each request
//! signed with a client key (RSA-PKCS1-SHA256 over the method, `content-sha256`,
//! `content-type`, `date` and the `x-kms-*` headers). The messages and the string to
//! sign are taken from that SDK's source (`openapi_util/protobuf/api_pb2.py`,
//! `openapi_util/client.py`).
//!
//! Each call goes through the one dispatch as the client key's principal (authorised
//! and audited), mapped onto the OpenAPI action it is: Encrypt / Decrypt /
//! GenerateDataKey (an `Aad` becomes the EncryptionContext `{"strongroom:aad":
//! base64(Aad)}`), AsymmetricSign / AsymmetricVerify / GetPublicKey (no KeyVersionId:
//! the key's primary version), GetSecretValue, GenerateRandom and Hash (actions of the
//! table too, so they are authorised and audited like the rest), and the four data
//! key pair APIs as GenerateDataKeyPair / GenerateDataKeyPairWithoutPlaintext (the
//! Advance ones answer the KeyVersionId too); Hmac is refused (`Rejected.Unsupported`:
//! strongroom has no HMAC keys).

use base64::Engine as _;
use prost::Message;
use serde_json::{Map, Value, json};
use sha2::Digest as _;

use crate::fault::Fault;

/// Debug for the messages that carry a plaintext, a private key or a secret value
/// (prost's derived Debug would print them): the other fields as they are, those as
/// their length.
macro_rules! redacted_debug {
    ($t:ident { $($f:ident),* } secret { $($s:ident),* }) => {
        impl core::fmt::Debug for $t {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($t))
                    $(.field(stringify!($f), &self.$f))*
                    $(.field(stringify!($s), &format_args!("<{} bytes>", self.$s.len())))*
                    .finish()
            }
        }
    };
}

// The SDK's api.proto, field for field (prost messages).
#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
#[allow(missing_docs)]
pub struct EncryptRequest {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(bytes = "vec", tag = "2")]
    pub plaintext: Vec<u8>,
    #[prost(string, tag = "3")]
    pub algorithm: String,
    #[prost(bytes = "vec", tag = "4")]
    pub aad: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    pub iv: Vec<u8>,
    #[prost(string, tag = "6")]
    pub padding_mode: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct EncryptResponse {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(bytes = "vec", tag = "2")]
    pub ciphertext_blob: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub iv: Vec<u8>,
    #[prost(string, tag = "4")]
    pub request_id: String,
    #[prost(string, tag = "5")]
    pub algorithm: String,
    #[prost(string, tag = "6")]
    pub padding_mode: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct DecryptRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub ciphertext_blob: Vec<u8>,
    #[prost(string, tag = "2")]
    pub key_id: String,
    #[prost(string, tag = "3")]
    pub algorithm: String,
    #[prost(bytes = "vec", tag = "4")]
    pub aad: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    pub iv: Vec<u8>,
    #[prost(string, tag = "6")]
    pub padding_mode: String,
}

#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
#[allow(missing_docs)]
pub struct DecryptResponse {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(bytes = "vec", tag = "2")]
    pub plaintext: Vec<u8>,
    #[prost(string, tag = "3")]
    pub request_id: String,
    #[prost(string, tag = "4")]
    pub algorithm: String,
    #[prost(string, tag = "5")]
    pub padding_mode: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct AdvanceEncryptResponse {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(bytes = "vec", tag = "2")]
    pub ciphertext_blob: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub iv: Vec<u8>,
    #[prost(string, tag = "4")]
    pub request_id: String,
    #[prost(string, tag = "5")]
    pub algorithm: String,
    #[prost(string, tag = "6")]
    pub padding_mode: String,
    #[prost(string, tag = "7")]
    pub key_version_id: String,
}

#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
#[allow(missing_docs)]
pub struct AdvanceDecryptResponse {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(bytes = "vec", tag = "2")]
    pub plaintext: Vec<u8>,
    #[prost(string, tag = "3")]
    pub request_id: String,
    #[prost(string, tag = "4")]
    pub algorithm: String,
    #[prost(string, tag = "5")]
    pub padding_mode: String,
    #[prost(string, tag = "6")]
    pub key_version_id: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct SignRequest {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(bytes = "vec", tag = "2")]
    pub digest: Vec<u8>,
    #[prost(string, tag = "3")]
    pub algorithm: String,
    #[prost(bytes = "vec", tag = "4")]
    pub message: Vec<u8>,
    #[prost(string, tag = "5")]
    pub message_type: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct SignResponse {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(bytes = "vec", tag = "2")]
    pub signature: Vec<u8>,
    #[prost(string, tag = "3")]
    pub request_id: String,
    #[prost(string, tag = "4")]
    pub algorithm: String,
    #[prost(string, tag = "5")]
    pub message_type: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct VerifyRequest {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(bytes = "vec", tag = "2")]
    pub digest: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub signature: Vec<u8>,
    #[prost(string, tag = "4")]
    pub algorithm: String,
    #[prost(bytes = "vec", tag = "5")]
    pub message: Vec<u8>,
    #[prost(string, tag = "6")]
    pub message_type: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct VerifyResponse {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(bool, tag = "2")]
    pub value: bool,
    #[prost(string, tag = "3")]
    pub request_id: String,
    #[prost(string, tag = "4")]
    pub algorithm: String,
    #[prost(string, tag = "5")]
    pub message_type: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct GenerateRandomRequest {
    #[prost(int32, tag = "1")]
    pub length: i32,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct GenerateRandomResponse {
    #[prost(bytes = "vec", tag = "1")]
    pub random: Vec<u8>,
    #[prost(string, tag = "2")]
    pub request_id: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct HashRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub message: Vec<u8>,
    #[prost(string, tag = "2")]
    pub algorithm: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct HashResponse {
    #[prost(bytes = "vec", tag = "1")]
    pub digest: Vec<u8>,
    #[prost(string, tag = "3")]
    pub request_id: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct GenerateDataKeyRequest {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(string, tag = "2")]
    pub algorithm: String,
    #[prost(int32, tag = "3")]
    pub number_of_bytes: i32,
    #[prost(bytes = "vec", tag = "4")]
    pub aad: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
#[allow(missing_docs)]
pub struct GenerateDataKeyResponse {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(bytes = "vec", tag = "2")]
    pub iv: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub plaintext: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    pub ciphertext_blob: Vec<u8>,
    #[prost(string, tag = "5")]
    pub request_id: String,
    #[prost(string, tag = "6")]
    pub algorithm: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct AdvanceGenerateDataKeyRequest {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(int32, tag = "2")]
    pub number_of_bytes: i32,
    #[prost(bytes = "vec", tag = "3")]
    pub aad: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
#[allow(missing_docs)]
pub struct AdvanceGenerateDataKeyResponse {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(bytes = "vec", tag = "2")]
    pub iv: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub plaintext: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    pub ciphertext_blob: Vec<u8>,
    #[prost(string, tag = "5")]
    pub request_id: String,
    #[prost(string, tag = "6")]
    pub algorithm: String,
    #[prost(string, tag = "7")]
    pub key_version_id: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct GenerateDataKeyPairRequest {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(string, tag = "2")]
    pub algorithm: String,
    #[prost(string, tag = "3")]
    pub key_pair_spec: String,
    #[prost(string, tag = "4")]
    pub key_format: String,
    #[prost(bytes = "vec", tag = "5")]
    pub aad: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
#[allow(missing_docs)]
pub struct GenerateDataKeyPairResponse {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(bytes = "vec", tag = "2")]
    pub iv: Vec<u8>,
    #[prost(string, tag = "3")]
    pub key_pair_spec: String,
    #[prost(bytes = "vec", tag = "4")]
    pub private_key_plaintext: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    pub private_key_ciphertext_blob: Vec<u8>,
    #[prost(bytes = "vec", tag = "6")]
    pub public_key: Vec<u8>,
    #[prost(string, tag = "7")]
    pub request_id: String,
    #[prost(string, tag = "8")]
    pub algorithm: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct GenerateDataKeyPairWithoutPlaintextResponse {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(bytes = "vec", tag = "2")]
    pub iv: Vec<u8>,
    #[prost(string, tag = "3")]
    pub key_pair_spec: String,
    #[prost(bytes = "vec", tag = "4")]
    pub private_key_ciphertext_blob: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    pub public_key: Vec<u8>,
    #[prost(string, tag = "6")]
    pub request_id: String,
    #[prost(string, tag = "7")]
    pub algorithm: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct AdvanceGenerateDataKeyPairRequest {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(string, tag = "2")]
    pub key_pair_spec: String,
    #[prost(string, tag = "3")]
    pub key_format: String,
    #[prost(bytes = "vec", tag = "4")]
    pub aad: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
#[allow(missing_docs)]
pub struct AdvanceGenerateDataKeyPairResponse {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(bytes = "vec", tag = "2")]
    pub iv: Vec<u8>,
    #[prost(string, tag = "3")]
    pub key_pair_spec: String,
    #[prost(bytes = "vec", tag = "4")]
    pub private_key_plaintext: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    pub private_key_ciphertext_blob: Vec<u8>,
    #[prost(bytes = "vec", tag = "6")]
    pub public_key: Vec<u8>,
    #[prost(string, tag = "7")]
    pub request_id: String,
    #[prost(string, tag = "8")]
    pub algorithm: String,
    #[prost(string, tag = "9")]
    pub key_version_id: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct AdvanceGenerateDataKeyPairWithoutPlaintextResponse {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(bytes = "vec", tag = "2")]
    pub iv: Vec<u8>,
    #[prost(string, tag = "3")]
    pub key_pair_spec: String,
    #[prost(bytes = "vec", tag = "4")]
    pub private_key_ciphertext_blob: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    pub public_key: Vec<u8>,
    #[prost(string, tag = "6")]
    pub request_id: String,
    #[prost(string, tag = "7")]
    pub algorithm: String,
    #[prost(string, tag = "8")]
    pub key_version_id: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct GetPublicKeyRequest {
    #[prost(string, tag = "1")]
    pub key_id: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct GetPublicKeyResponse {
    #[prost(string, tag = "1")]
    pub key_id: String,
    #[prost(string, tag = "2")]
    pub public_key: String,
    #[prost(string, tag = "3")]
    pub request_id: String,
}

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct GetSecretValueRequest {
    #[prost(string, tag = "1")]
    pub secret_name: String,
    #[prost(string, tag = "2")]
    pub version_stage: String,
    #[prost(string, tag = "3")]
    pub version_id: String,
    #[prost(bool, tag = "4")]
    pub fetch_extended_config: bool,
}

#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
#[allow(missing_docs)]
pub struct GetSecretValueResponse {
    #[prost(string, tag = "1")]
    pub secret_name: String,
    #[prost(string, tag = "2")]
    pub secret_type: String,
    #[prost(string, tag = "3")]
    pub secret_data: String,
    #[prost(string, tag = "4")]
    pub secret_data_type: String,
    #[prost(string, repeated, tag = "5")]
    pub version_stages: Vec<String>,
    #[prost(string, tag = "6")]
    pub version_id: String,
    #[prost(string, tag = "7")]
    pub create_time: String,
    #[prost(string, tag = "8")]
    pub request_id: String,
    #[prost(string, tag = "9")]
    pub last_rotation_date: String,
    #[prost(string, tag = "10")]
    pub next_rotation_date: String,
    #[prost(string, tag = "11")]
    pub extended_config: String,
    #[prost(string, tag = "12")]
    pub automatic_rotation: String,
    #[prost(string, tag = "13")]
    pub rotation_interval: String,
}

redacted_debug!(EncryptRequest { key_id, algorithm, aad, iv, padding_mode } secret { plaintext });
redacted_debug!(DecryptResponse { key_id, request_id, algorithm, padding_mode } secret { plaintext });
redacted_debug!(AdvanceDecryptResponse { key_id, request_id, algorithm, padding_mode, key_version_id } secret { plaintext });
redacted_debug!(GenerateDataKeyResponse { key_id, iv, ciphertext_blob, request_id, algorithm } secret { plaintext });
redacted_debug!(AdvanceGenerateDataKeyResponse { key_id, iv, ciphertext_blob, request_id, algorithm, key_version_id } secret { plaintext });
redacted_debug!(GenerateDataKeyPairResponse { key_id, iv, key_pair_spec, private_key_ciphertext_blob, public_key, request_id, algorithm } secret { private_key_plaintext });
redacted_debug!(AdvanceGenerateDataKeyPairResponse { key_id, iv, key_pair_spec, private_key_ciphertext_blob, public_key, request_id, algorithm, key_version_id } secret { private_key_plaintext });
redacted_debug!(GetSecretValueResponse { secret_name, secret_type, secret_data_type, version_stages, version_id, create_time, request_id, last_rotation_date, next_rotation_date, extended_config, automatic_rotation, rotation_interval } secret { secret_data });

#[derive(Clone, PartialEq, Message)]
#[allow(missing_docs)]
pub struct ErrorBody {
    #[prost(int32, tag = "1")]
    pub status_code: i32,
    #[prost(string, tag = "2")]
    pub error_code: String,
    #[prost(string, tag = "3")]
    pub error_message: String,
    #[prost(string, tag = "4")]
    pub request_id: String,
}

/// The instance API's action names (a metric label needs a name that lives on).
const APIS: &[&str] = &[
    "Encrypt",
    "Decrypt",
    "AdvanceEncrypt",
    "AdvanceDecrypt",
    "GenerateDataKey",
    "AdvanceGenerateDataKey",
    "Sign",
    "Verify",
    "GetPublicKey",
    "GetSecretValue",
    "GenerateRandom",
    "Hash",
    "Hmac",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "AdvanceGenerateDataKeyPair",
    "AdvanceGenerateDataKeyPairWithoutPlaintext",
];

/// `api` as a metric label: `dkms:<name>`, or `dkms:-` for a name this server does
/// not know.
#[must_use]
pub fn api_label(api: &str) -> &'static str {
    const LABELS: &[&str] = &[
        "dkms:Encrypt",
        "dkms:Decrypt",
        "dkms:AdvanceEncrypt",
        "dkms:AdvanceDecrypt",
        "dkms:GenerateDataKey",
        "dkms:AdvanceGenerateDataKey",
        "dkms:Sign",
        "dkms:Verify",
        "dkms:GetPublicKey",
        "dkms:GetSecretValue",
        "dkms:GenerateRandom",
        "dkms:Hash",
        "dkms:Hmac",
        "dkms:GenerateDataKeyPair",
        "dkms:GenerateDataKeyPairWithoutPlaintext",
        "dkms:AdvanceGenerateDataKeyPair",
        "dkms:AdvanceGenerateDataKeyPairWithoutPlaintext",
    ];
    APIS.iter()
        .position(|a| *a == api)
        .and_then(|i| LABELS.get(i).copied())
        .unwrap_or("dkms:-")
}

/// The OpenAPI action an instance API call is served as (for auditing its refusals).
#[must_use]
pub fn api_action(api: &str) -> Option<strongroom::Action> {
    use strongroom::Action as A;
    Some(match api {
        "Encrypt" | "AdvanceEncrypt" => A::Encrypt,
        "Decrypt" | "AdvanceDecrypt" => A::Decrypt,
        "GenerateDataKey" | "AdvanceGenerateDataKey" => A::GenerateDataKey,
        "GenerateDataKeyPair" | "AdvanceGenerateDataKeyPair" => A::GenerateDataKeyPair,
        "GenerateDataKeyPairWithoutPlaintext" | "AdvanceGenerateDataKeyPairWithoutPlaintext" => {
            A::GenerateDataKeyPairWithoutPlaintext
        }
        "Sign" => A::AsymmetricSign,
        "Verify" => A::AsymmetricVerify,
        "GetPublicKey" => A::GetPublicKey,
        "GetSecretValue" => A::GetSecretValue,
        "GenerateRandom" => A::GenerateRandom,
        "Hash" => A::Hash,
        _ => return None,
    })
}

/// The API version the SDK sends in `x-kms-apiversion`.
pub const API_VERSION: &str = "dkms-gcs-0.2";

/// The string a client key signs (the SDK's `get_string_to_sign`): method,
/// `content-sha256`, `content-type`, `date`, then every `x-kms-*` header sorted by name
/// as `name:trimmed value`, then the resource `/`.
#[must_use]
pub fn string_to_sign(method: &str, headers: &[(&str, &str)]) -> String {
    let h = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| *k == n)
            .map_or("", |(_, v)| *v)
    };
    let mut kms: Vec<&(&str, &str)> = headers
        .iter()
        .filter(|(k, _)| k.starts_with("x-kms-"))
        .collect();
    kms.sort_by(|a, b| a.0.cmp(b.0));
    let mut s = format!(
        "{method}\n{}\n{}\n{}\n",
        h("content-sha256"),
        h("content-type"),
        h("date")
    );
    for (k, v) in kms {
        s.push_str(k);
        s.push(':');
        s.push_str(v.trim());
        s.push('\n');
    }
    s.push('/');
    s
}

/// Seconds since the epoch from an RFC 7231 date (`Wed, 02 Dec 2026 10:20:00 GMT`).
#[must_use]
pub fn parse_http_date(s: &str) -> Option<i64> {
    let mut p = s.split_whitespace();
    let _weekday = p.next()?;
    let day: u32 = p.next()?.parse().ok()?;
    let month = match p.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: u32 = p.next()?.parse().ok()?;
    let time = p.next()?;
    if p.next()? != "GMT" {
        return None;
    }
    crate::request::parse_timestamp(&format!("{year:04}-{month:02}-{day:02}T{time}Z"))
}

/// What a dedicated-instance request asks for, as an OpenAPI call.
pub enum Plan {
    /// Call this OpenAPI action with these parameters, then shape the answer.
    Call {
        /// The OpenAPI action.
        action: strongroom::Action,
        /// Its wire parameters.
        params: Map<String, Value>,
        /// The dkms API name, for shaping the answer.
        api: String,
    },
}

impl core::fmt::Debug for Plan {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the parameters: they hold plaintext.
        match self {
            Plan::Call { action, api, .. } => {
                write!(f, "Plan({api} as {action})")
            }
        }
    }
}

fn b64(b: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(b))
}

fn bad_body(api: &str) -> Fault {
    Fault::new(
        "InvalidParameter.Request",
        format!("the body is not a {api} protobuf message"),
    )
}

fn context(aad: &[u8]) -> Option<Value> {
    (!aad.is_empty()).then(|| {
        let mut m = Map::new();
        m.insert("strongroom:aad".into(), b64(aad));
        Value::Object(m)
    })
}

fn params(pairs: &[(&str, Option<Value>)]) -> Map<String, Value> {
    pairs
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| ((*k).to_string(), v)))
        .collect()
}

fn nonempty(s: &str) -> Option<Value> {
    (!s.is_empty()).then(|| Value::String(s.to_string()))
}

/// What is signed: the `Digest` field when set; else `Message`, which is the digest
/// itself with MessageType `DIGEST` (what the SDK sends), or the message to hash with
/// SHA-256 with `RAW` (the default).
fn digest_of(digest: Vec<u8>, message: Vec<u8>, message_type: &str) -> Vec<u8> {
    if !digest.is_empty() {
        digest
    } else if message_type.eq_ignore_ascii_case("DIGEST") {
        message
    } else {
        sha2::Sha256::digest(&message).to_vec()
    }
}

/// The OpenAPI action a data key pair API is: with or without the plaintext.
fn pair_action(api: &str) -> strongroom::Action {
    if api.ends_with("WithoutPlaintext") {
        strongroom::Action::GenerateDataKeyPairWithoutPlaintext
    } else {
        strongroom::Action::GenerateDataKeyPair
    }
}

fn pair_params(key_id: &str, spec: &str, format: &str, aad: &[u8]) -> Map<String, Value> {
    params(&[
        ("KeyId", nonempty(key_id)),
        ("KeyPairSpec", nonempty(spec)),
        ("KeyFormat", nonempty(format)),
        ("EncryptionContext", context(aad)),
    ])
}

/// Reads a request body for `api` into a plan.
///
/// # Errors
/// `InvalidAction.NotFound` for an API this server does not know; `Rejected.Unsupported`
/// for Hmac; `InvalidParameter.*` for bodies that do not parse.
pub fn plan(api: &str, body: &[u8]) -> Result<Plan, Fault> {
    use strongroom::Action as A;
    let call = |action, params| {
        Ok(Plan::Call {
            action,
            params,
            api: api.to_string(),
        })
    };
    match api {
        "Encrypt" | "AdvanceEncrypt" => {
            let r = EncryptRequest::decode(body).map_err(|_| bad_body(api))?;
            call(
                A::Encrypt,
                params(&[
                    ("KeyId", nonempty(&r.key_id)),
                    ("Plaintext", Some(b64(&r.plaintext))),
                    ("EncryptionContext", context(&r.aad)),
                ]),
            )
        }
        "Decrypt" | "AdvanceDecrypt" => {
            let r = DecryptRequest::decode(body).map_err(|_| bad_body(api))?;
            call(
                A::Decrypt,
                params(&[
                    ("CiphertextBlob", Some(b64(&r.ciphertext_blob))),
                    ("EncryptionContext", context(&r.aad)),
                ]),
            )
        }
        "GenerateDataKey" => {
            let r = GenerateDataKeyRequest::decode(body).map_err(|_| bad_body(api))?;
            call(
                A::GenerateDataKey,
                params(&[
                    ("KeyId", nonempty(&r.key_id)),
                    (
                        "NumberOfBytes",
                        (r.number_of_bytes != 0).then(|| json!(r.number_of_bytes.to_string())),
                    ),
                    ("EncryptionContext", context(&r.aad)),
                ]),
            )
        }
        "AdvanceGenerateDataKey" => {
            let r = AdvanceGenerateDataKeyRequest::decode(body).map_err(|_| bad_body(api))?;
            call(
                A::GenerateDataKey,
                params(&[
                    ("KeyId", nonempty(&r.key_id)),
                    (
                        "NumberOfBytes",
                        (r.number_of_bytes != 0).then(|| json!(r.number_of_bytes.to_string())),
                    ),
                    ("EncryptionContext", context(&r.aad)),
                ]),
            )
        }
        "Sign" => {
            let r = SignRequest::decode(body).map_err(|_| bad_body(api))?;
            let digest = digest_of(r.digest, r.message, &r.message_type);
            call(
                A::AsymmetricSign,
                params(&[
                    ("KeyId", nonempty(&r.key_id)),
                    ("Algorithm", nonempty(&r.algorithm)),
                    ("Digest", Some(b64(&digest))),
                ]),
            )
        }
        "Verify" => {
            let r = VerifyRequest::decode(body).map_err(|_| bad_body(api))?;
            let digest = digest_of(r.digest, r.message, &r.message_type);
            call(
                A::AsymmetricVerify,
                params(&[
                    ("KeyId", nonempty(&r.key_id)),
                    ("Algorithm", nonempty(&r.algorithm)),
                    ("Digest", Some(b64(&digest))),
                    ("Value", Some(b64(&r.signature))),
                ]),
            )
        }
        "GetPublicKey" => {
            let r = GetPublicKeyRequest::decode(body).map_err(|_| bad_body(api))?;
            call(A::GetPublicKey, params(&[("KeyId", nonempty(&r.key_id))]))
        }
        "GetSecretValue" => {
            let r = GetSecretValueRequest::decode(body).map_err(|_| bad_body(api))?;
            call(
                A::GetSecretValue,
                params(&[
                    ("SecretName", nonempty(&r.secret_name)),
                    ("VersionStage", nonempty(&r.version_stage)),
                    ("VersionId", nonempty(&r.version_id)),
                    (
                        "FetchExtendedConfig",
                        r.fetch_extended_config.then(|| json!("true")),
                    ),
                ]),
            )
        }
        "GenerateRandom" => {
            let r = GenerateRandomRequest::decode(body).map_err(|_| bad_body(api))?;
            call(
                A::GenerateRandom,
                params(&[("Length", Some(json!(r.length.to_string())))]),
            )
        }
        "Hash" => {
            let r = HashRequest::decode(body).map_err(|_| bad_body(api))?;
            call(
                A::Hash,
                params(&[
                    ("Algorithm", nonempty(&r.algorithm)),
                    ("Message", Some(b64(&r.message))),
                ]),
            )
        }
        "GenerateDataKeyPair" | "GenerateDataKeyPairWithoutPlaintext" => {
            let r = GenerateDataKeyPairRequest::decode(body).map_err(|_| bad_body(api))?;
            call(
                pair_action(api),
                pair_params(&r.key_id, &r.key_pair_spec, &r.key_format, &r.aad),
            )
        }
        "AdvanceGenerateDataKeyPair" | "AdvanceGenerateDataKeyPairWithoutPlaintext" => {
            let r = AdvanceGenerateDataKeyPairRequest::decode(body).map_err(|_| bad_body(api))?;
            call(
                pair_action(api),
                pair_params(&r.key_id, &r.key_pair_spec, &r.key_format, &r.aad),
            )
        }
        "Hmac" => Err(Fault::new(
            "Rejected.Unsupported",
            "Hmac is not served: strongroom has no HMAC keys".to_string(),
        )),
        other => Err(Fault::new(
            "InvalidAction.NotFound",
            format!("the instance API has no action {other:?}"),
        )),
    }
}

fn s(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn bytes(v: &Value, k: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.get(k).and_then(Value::as_str).unwrap_or_default())
        .unwrap_or_default()
}

/// The protobuf answer for `api` from the OpenAPI action's JSON answer.
#[must_use]
pub fn shape(api: &str, answer: &Value, request_id: &str) -> Vec<u8> {
    let id = request_id.to_string();
    match api {
        "Encrypt" => EncryptResponse {
            key_id: s(answer, "KeyId"),
            ciphertext_blob: bytes(answer, "CiphertextBlob"),
            iv: Vec::new(),
            request_id: id,
            algorithm: "AES_GCM".into(),
            padding_mode: String::new(),
        }
        .encode_to_vec(),
        "AdvanceEncrypt" => AdvanceEncryptResponse {
            key_id: s(answer, "KeyId"),
            ciphertext_blob: bytes(answer, "CiphertextBlob"),
            iv: Vec::new(),
            request_id: id,
            algorithm: "AES_GCM".into(),
            padding_mode: String::new(),
            key_version_id: s(answer, "KeyVersionId"),
        }
        .encode_to_vec(),
        "Decrypt" => DecryptResponse {
            key_id: s(answer, "KeyId"),
            plaintext: bytes(answer, "Plaintext"),
            request_id: id,
            algorithm: "AES_GCM".into(),
            padding_mode: String::new(),
        }
        .encode_to_vec(),
        "AdvanceDecrypt" => AdvanceDecryptResponse {
            key_id: s(answer, "KeyId"),
            plaintext: bytes(answer, "Plaintext"),
            request_id: id,
            algorithm: "AES_GCM".into(),
            padding_mode: String::new(),
            key_version_id: s(answer, "KeyVersionId"),
        }
        .encode_to_vec(),
        "GenerateDataKey" => GenerateDataKeyResponse {
            key_id: s(answer, "KeyId"),
            iv: Vec::new(),
            plaintext: bytes(answer, "Plaintext"),
            ciphertext_blob: bytes(answer, "CiphertextBlob"),
            request_id: id,
            algorithm: "AES_GCM".into(),
        }
        .encode_to_vec(),
        "AdvanceGenerateDataKey" => AdvanceGenerateDataKeyResponse {
            key_id: s(answer, "KeyId"),
            iv: Vec::new(),
            plaintext: bytes(answer, "Plaintext"),
            ciphertext_blob: bytes(answer, "CiphertextBlob"),
            request_id: id,
            algorithm: "AES_GCM".into(),
            key_version_id: s(answer, "KeyVersionId"),
        }
        .encode_to_vec(),
        "Sign" => SignResponse {
            key_id: s(answer, "KeyId"),
            signature: bytes(answer, "Value"),
            request_id: id,
            algorithm: String::new(),
            message_type: String::new(),
        }
        .encode_to_vec(),
        "Verify" => VerifyResponse {
            key_id: s(answer, "KeyId"),
            value: answer
                .get("Value")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            request_id: id,
            algorithm: String::new(),
            message_type: String::new(),
        }
        .encode_to_vec(),
        "GetPublicKey" => GetPublicKeyResponse {
            key_id: s(answer, "KeyId"),
            public_key: s(answer, "PublicKey"),
            request_id: id,
        }
        .encode_to_vec(),
        "GenerateRandom" => GenerateRandomResponse {
            random: bytes(answer, "Random"),
            request_id: id,
        }
        .encode_to_vec(),
        "Hash" => HashResponse {
            digest: bytes(answer, "Digest"),
            request_id: id,
        }
        .encode_to_vec(),
        "GenerateDataKeyPair" => GenerateDataKeyPairResponse {
            key_id: s(answer, "KeyId"),
            iv: Vec::new(),
            key_pair_spec: s(answer, "KeyPairSpec"),
            private_key_plaintext: bytes(answer, "PrivateKeyPlaintext"),
            private_key_ciphertext_blob: bytes(answer, "PrivateKeyCiphertextBlob"),
            public_key: bytes(answer, "PublicKey"),
            request_id: id,
            algorithm: "AES_GCM".into(),
        }
        .encode_to_vec(),
        "AdvanceGenerateDataKeyPair" => AdvanceGenerateDataKeyPairResponse {
            key_id: s(answer, "KeyId"),
            iv: Vec::new(),
            key_pair_spec: s(answer, "KeyPairSpec"),
            private_key_plaintext: bytes(answer, "PrivateKeyPlaintext"),
            private_key_ciphertext_blob: bytes(answer, "PrivateKeyCiphertextBlob"),
            public_key: bytes(answer, "PublicKey"),
            request_id: id,
            algorithm: "AES_GCM".into(),
            key_version_id: s(answer, "KeyVersionId"),
        }
        .encode_to_vec(),
        "GenerateDataKeyPairWithoutPlaintext" => GenerateDataKeyPairWithoutPlaintextResponse {
            key_id: s(answer, "KeyId"),
            iv: Vec::new(),
            key_pair_spec: s(answer, "KeyPairSpec"),
            private_key_ciphertext_blob: bytes(answer, "PrivateKeyCiphertextBlob"),
            public_key: bytes(answer, "PublicKey"),
            request_id: id,
            algorithm: "AES_GCM".into(),
        }
        .encode_to_vec(),
        "AdvanceGenerateDataKeyPairWithoutPlaintext" => {
            AdvanceGenerateDataKeyPairWithoutPlaintextResponse {
                key_id: s(answer, "KeyId"),
                iv: Vec::new(),
                key_pair_spec: s(answer, "KeyPairSpec"),
                private_key_ciphertext_blob: bytes(answer, "PrivateKeyCiphertextBlob"),
                public_key: bytes(answer, "PublicKey"),
                request_id: id,
                algorithm: "AES_GCM".into(),
                key_version_id: s(answer, "KeyVersionId"),
            }
            .encode_to_vec()
        }
        "GetSecretValue" => GetSecretValueResponse {
            secret_name: s(answer, "SecretName"),
            secret_type: s(answer, "SecretType"),
            secret_data: s(answer, "SecretData"),
            secret_data_type: s(answer, "SecretDataType"),
            version_stages: answer
                .get("VersionStages")
                .and_then(|v| v.get("VersionStage"))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            version_id: s(answer, "VersionId"),
            create_time: s(answer, "CreateTime"),
            request_id: id,
            last_rotation_date: s(answer, "LastRotationDate"),
            next_rotation_date: s(answer, "NextRotationDate"),
            extended_config: answer
                .get("ExtendedConfig")
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .unwrap_or_default(),
            automatic_rotation: s(answer, "AutomaticRotation"),
            rotation_interval: s(answer, "RotationInterval"),
        }
        .encode_to_vec(),
        _ => Vec::new(),
    }
}

/// The error body the SDK parses (`api_pb2.Error`).
#[must_use]
pub fn error_body(f: &Fault, request_id: &str) -> Vec<u8> {
    ErrorBody {
        status_code: i32::from(f.status),
        error_code: f.code.to_string(),
        error_message: f.message.clone(),
        request_id: request_id.to_string(),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_with_secrets_print_their_length_not_their_bytes() {
        let dk = super::GenerateDataKeyPairResponse {
            key_id: "k".into(),
            private_key_plaintext: b"SRLEAK-private-key".to_vec(),
            ..Default::default()
        };
        let sv = super::GetSecretValueResponse {
            secret_name: "db".into(),
            secret_data: "SRLEAK-secret".into(),
            ..Default::default()
        };
        let d = super::DecryptResponse {
            plaintext: b"SRLEAK-plain".to_vec(),
            ..Default::default()
        };
        for text in [format!("{dk:?}"), format!("{sv:?}"), format!("{d:?}")] {
            assert!(!text.contains("SRLEAK"), "{text}");
            assert!(!text.contains("83, 82, 76"), "{text}");
        }
        assert!(format!("{dk:?}").contains("private_key_plaintext: <18 bytes>"));
        assert!(format!("{sv:?}").contains("secret_name: \"db\""));
    }

    use super::*;

    /// Hash and GenerateRandom are planned as the table's actions (so the dispatch
    /// authorises and audits them) and their answers shaped into the SDK's messages.
    #[test]
    fn keyless_apis_are_planned_as_actions() {
        let body = HashRequest {
            algorithm: "SHA-384".into(),
            message: b"abc".to_vec(),
        }
        .encode_to_vec();
        let Ok(Plan::Call { action, params, .. }) = plan("Hash", &body) else {
            panic!("Hash is not a call")
        };
        assert_eq!(action, strongroom::Action::Hash);
        assert_eq!(params.get("Algorithm"), Some(&json!("SHA-384")));
        assert_eq!(params.get("Message"), Some(&json!("YWJj")));
        let out = shape(
            "Hash",
            &json!({"Algorithm": "SHA-384", "Digest": "AAEC"}),
            "rid",
        );
        let h = HashResponse::decode(out.as_slice()).unwrap_or_default();
        assert_eq!((h.digest, h.request_id.as_str()), (vec![0, 1, 2], "rid"));
        let body = GenerateRandomRequest { length: 24 }.encode_to_vec();
        let Ok(Plan::Call { action, params, .. }) = plan("GenerateRandom", &body) else {
            panic!("GenerateRandom is not a call")
        };
        assert_eq!(action, strongroom::Action::GenerateRandom);
        assert_eq!(params.get("Length"), Some(&json!("24")));
        assert_eq!(api_action("Hash"), Some(strongroom::Action::Hash));
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Wed, 02 Dec 2026 09:30:00 GMT"),
            Some(1_796_203_800)
        );
        assert_eq!(parse_http_date("Wed, 02 Dec 2026 09:30:00 UTC"), None);
    }

    #[test]
    fn the_string_to_sign_sorts_the_kms_headers() {
        let h = |k: &'static str, v: &'static str| (k, v);
        let headers = vec![
            h("x-kms-apiname", "Encrypt"),
            h("content-type", "application/x-protobuf"),
            h("x-kms-acccesskeyid", " KAAP.x "),
            h("date", "Wed, 02 Dec 2026 09:30:00 GMT"),
            h("content-sha256", "AB"),
            h("host", "ignored"),
        ];
        assert_eq!(
            string_to_sign("POST", &headers),
            "POST\nAB\napplication/x-protobuf\nWed, 02 Dec 2026 09:30:00 GMT\nx-kms-acccesskeyid:KAAP.x\nx-kms-apiname:Encrypt\n/"
        );
    }
}
