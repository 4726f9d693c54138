//! What the gateway answers when a request fails: Alibaba's error body (RequestId,
//! HostId, Code, Message, Recommend) under the HTTP status Alibaba gives that code.

use serde_json::{Value, json};

/// A failed request: its stable code, message and HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The stable code (`SignatureDoesNotMatch`, `Forbidden.KeyNotFound`, …).
    pub code: &'static str,
    /// What happened, for a person.
    pub message: String,
    /// The HTTP status.
    pub status: u16,
    /// For throttling and overload: when to try again, ms (`x-acs-retry-after`).
    pub retry_after_ms: Option<u64>,
    /// The error's family when the core raised it ([`strongroom::Error::kind`]),
    /// answered as `Kind` (beside Alibaba's fields, which its SDKs ignore) so that
    /// a connected strongroom client raises the embedded error class.
    pub kind: Option<&'static str>,
}

impl Fault {
    /// A fault with `code`'s status.
    #[must_use]
    pub fn new(code: &'static str, message: impl Into<String>) -> Fault {
        Fault {
            code,
            message: message.into(),
            status: status_for(code),
            retry_after_ms: None,
            kind: None,
        }
    }

    /// `MissingParameter`: a mandatory parameter is absent.
    #[must_use]
    pub fn missing(name: &str) -> Fault {
        Fault::new(
            "MissingParameter",
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
            ),
        )
    }

    /// The error body.
    #[must_use]
    pub fn body(&self, request_id: &str, host_id: &str) -> Value {
        let mut v = json!({
            "RequestId": request_id,
            "HostId": host_id,
            "Code": self.code,
            "Message": self.message,
            "Recommend": format!("https://strongroom.invalid/docs/SERVE.md#error-codes ({})", self.code),
        });
        if let (Some(k), Value::Object(o)) = (self.kind, &mut v) {
            o.insert("Kind".into(), Value::String(k.into()));
        }
        v
    }
}

impl From<strongroom::Error> for Fault {
    fn from(e: strongroom::Error) -> Fault {
        Fault {
            kind: Some(e.kind()),
            ..Fault::new(e.code(), e.to_string())
        }
    }
}

/// The HTTP status for a code, as Alibaba's gateway answers it.
#[must_use]
pub fn status_for(code: &str) -> u16 {
    let not_found = [
        "Forbidden.KeyNotFound",
        "Forbidden.AliasNotFound",
        "Forbidden.ResourceNotFound",
        "Forbidden.KeyVersionNotFound",
        "InvalidAccessKeyId.NotFound",
        "InvalidAction.NotFound",
    ];
    if not_found.contains(&code) || code.starts_with("EntityNotExist") {
        return 404;
    }
    match code {
        "Throttling.User" => 429,
        "ServiceUnavailable" | "Rejected.BackendUnavailable" | "Rejected.StoreLocked" => 503,
        "Rejected.RequestTooLarge" => 413,
        "RequestTimeout" => 408,
        "UnsupportedHTTPMethod" => 405,
        "InternalFailure"
        | "InternalError"
        | "Rejected.StoreIo"
        | "Rejected.StoreFull"
        | "Rejected.StoreCorrupted"
        | "Rejected.StoreClosed"
        | "Rejected.AuditFailed"
        | "Rejected.EntropyUnavailable"
        | "Rejected.BackendProtocol" => 500,
        "Rejected.AliasExists" | "Rejected.ResourceExist" => 409,
        _ if code.starts_with("EntityAlreadyExists") || code.starts_with("DeleteConflict") => 409,
        _ if code.starts_with("Forbidden") || code.starts_with("InvalidSecurityToken") => 403,
        _ => 400,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(status_for("Forbidden.KeyNotFound"), 404);
        assert_eq!(status_for("Forbidden.NoPermission"), 403);
        assert_eq!(status_for("InvalidSecurityToken.Expired"), 403);
        assert_eq!(status_for("SignatureDoesNotMatch"), 400);
        assert_eq!(status_for("Throttling.User"), 429);
        assert_eq!(status_for("EntityNotExist.User"), 404);
        assert_eq!(status_for("EntityAlreadyExists.User"), 409);
        assert_eq!(status_for("Rejected.BackendUnavailable"), 503);
        assert_eq!(status_for("InvalidParameter.KeyId"), 400);
    }
}
