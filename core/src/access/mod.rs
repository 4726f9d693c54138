//! Who may do what: the store's principals (the owning account, RAM users and roles,
//! their AccessKeys and temporary credentials), RAM identity policies, key and secret
//! policies, and the one decision every call through [`crate::Kms::call`] meets.
//!
//! Evaluation, as Alibaba documents it: an explicit `Deny` in any policy that applies
//! wins; the owning account (root) may do anything no policy denies it; a RAM identity
//! of the owning account is allowed when its identity policies allow the action, or
//! when the resource's policy allows it *by name* (a statement whose `Principal`
//! names the account as a whole — `acs:ram::<account>:*`, `:root`, `*` — delegates to
//! identity policies, as the default key policy does); an identity of another account
//! needs both its identity policy and the resource policy. Everything else is denied.

pub mod policy;

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::api::{Action, Caller, Family, Resource};
use crate::codec::{Reader, Writer};
use crate::error::{Error, Result};
use crate::secret::SecretBytes;
use crate::state::State;
pub use policy::{Policy, PolicyKind};

/// The region segment of this instance's ARNs.
pub const REGION: &str = "strongroom";

/// The principal a [`Caller`] acts as, parsed from its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal<'a> {
    /// The owning account itself (the store's owner).
    Root,
    /// A RAM user of the store.
    User(&'a str),
    /// A session of a RAM role (from AssumeRole).
    RoleSession {
        /// The role's name.
        role: &'a str,
        /// The RoleSessionName.
        session: &'a str,
    },
}

/// Parses a principal ARN: `owner` or `acs:ram::<account>:root` → root,
/// `acs:ram::<account>:user/<name>`, `acs:ram::<account>:assumed-role/<role>/<session>`.
/// Returns the account named (None for `owner`) and the principal.
#[must_use]
pub fn parse_principal(arn: &str) -> Option<(Option<&str>, Principal<'_>)> {
    if arn == crate::api::OWNER {
        return Some((None, Principal::Root));
    }
    let rest = arn.strip_prefix("acs:ram::")?;
    let (account, what) = rest.split_once(':')?;
    if what == "root" {
        return Some((Some(account), Principal::Root));
    }
    if let Some(u) = what.strip_prefix("user/") {
        return (!u.is_empty()).then_some((Some(account), Principal::User(u)));
    }
    let s = what.strip_prefix("assumed-role/")?;
    let (role, session) = s.split_once('/')?;
    (!role.is_empty() && !session.is_empty())
        .then_some((Some(account), Principal::RoleSession { role, session }))
}

/// The parts, one after another, in a string allocated once at its length (ARNs and
/// action names are built on every authorised call; `format!` costs several times this).
fn join(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// `acs:ram::<account>:root`.
#[must_use]
pub fn root_arn(account: &str) -> String {
    join(&["acs:ram::", account, ":root"])
}
/// `acs:ram::<account>:user/<name>`.
#[must_use]
pub fn user_arn(account: &str, name: &str) -> String {
    join(&["acs:ram::", account, ":user/", name])
}
/// `acs:ram::<account>:role/<name>`.
#[must_use]
pub fn role_arn(account: &str, name: &str) -> String {
    join(&["acs:ram::", account, ":role/", name])
}
/// `acs:ram::<account>:assumed-role/<role>/<session>`.
#[must_use]
pub fn session_arn(account: &str, role: &str, session: &str) -> String {
    join(&["acs:ram::", account, ":assumed-role/", role, "/", session])
}

/// The policy name of an action: `kms:Encrypt`, `ram:CreateUser`, `sts:AssumeRole`.
#[must_use]
pub fn policy_action(a: Action) -> String {
    join(&[service_of(a), ":", a.name()])
}

fn service_of(a: Action) -> &'static str {
    match a.family() {
        Family::Ram => "ram",
        Family::Sts => "sts",
        _ => "kms",
    }
}

/// An action's place in the table (what compiled policies index by).
pub(crate) fn action_index(a: Action) -> Option<usize> {
    // The enum is fieldless and declared in table order: its discriminant is its place.
    let i = a as usize;
    (Action::ALL.get(i) == Some(&a)).then_some(i)
}

/// Whether a policy's Action pattern names at least one action strongroom serves.
#[must_use]
pub fn known_action(pattern: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let Some((svc, _)) = pattern.split_once(':') else {
        return false;
    };
    let svc = svc.to_ascii_lowercase();
    if !matches!(svc.as_str(), "kms" | "ram" | "sts") {
        return false;
    }
    let lower = pattern.to_ascii_lowercase();
    Action::ALL.iter().any(|a| {
        let name = policy_action(*a).to_ascii_lowercase();
        policy::glob_match(lower.as_bytes(), name.as_bytes(), true)
    })
}

/// Compiles a document for `kind`.
///
/// # Errors
/// See [`Policy::parse`].
pub fn compile(doc: &str, kind: PolicyKind) -> Result<Policy> {
    Policy::parse(doc, kind, &known_action)
}

/// A PolicyType: `System` (built in) or `Custom` (made by CreatePolicy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum PolicyType {
    /// Built in.
    System,
    /// Made by CreatePolicy.
    Custom,
}

impl PolicyType {
    /// Its name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::System => "System",
            PolicyType::Custom => "Custom",
        }
    }

    /// From RAM's name.
    ///
    /// # Errors
    /// `InvalidParameter.PolicyType`.
    pub fn parse(s: &str) -> Result<PolicyType> {
        match s {
            "System" => Ok(PolicyType::System),
            "Custom" => Ok(PolicyType::Custom),
            _ => Err(Error::param("PolicyType", "must be System or Custom")),
        }
    }
}

/// The built-in (System) policies: name, description, document.
pub const SYSTEM_POLICIES: &[(&str, &str, &str)] = &[
    (
        "AliyunKMSFullAccess",
        "Every KMS action on every key and secret.",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
    ),
    (
        "AliyunKMSReadOnlyAccess",
        "Describe and list keys, aliases and secrets; read public keys and policies. No cryptographic use, no secret values.",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:Describe*","kms:List*","kms:GetPublicKey","kms:GetKeyPolicy","kms:GetSecretPolicy"],"Resource":"*"}]}"#,
    ),
    (
        "StrongroomKeyAdministrator",
        "Manage keys: create, describe, enable, disable, rotate, schedule deletion, aliases, tags, policies, imports. No cryptographic use.",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:CreateKey","kms:Describe*","kms:List*","kms:Update*","kms:EnableKey","kms:DisableKey","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:SetDeletionProtection","kms:CreateKeyVersion","kms:CreateAlias","kms:DeleteAlias","kms:TagResource","kms:UntagResource","kms:SetKeyPolicy","kms:GetKeyPolicy","kms:GetParametersForImport","kms:ImportKeyMaterial","kms:DeleteKeyMaterial"],"Resource":"*"}]}"#,
    ),
    (
        "StrongroomKeyUser",
        "Cryptographic use of keys only: encrypt, decrypt, data keys, envelopes, sign, verify. No management.",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt","kms:GenerateDataKey","kms:GenerateDataKeyWithoutPlaintext","kms:GenerateDataKeyPair","kms:GenerateDataKeyPairWithoutPlaintext","kms:ExportDataKey","kms:GenerateAndExportDataKey","kms:GetPublicKey","kms:AsymmetricSign","kms:AsymmetricVerify","kms:AsymmetricEncrypt","kms:AsymmetricDecrypt","kms:EncryptEnvelope","kms:DecryptEnvelope","kms:ReEncryptEnvelope","kms:DescribeKey"],"Resource":"*"}]}"#,
    ),
    (
        "StrongroomSecretsReader",
        "Read secret values and metadata.",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:GetSecretValue","kms:DescribeSecret","kms:ListSecretVersionIds","kms:ListSecrets"],"Resource":"*"}]}"#,
    ),
];

/// A key policy that lets the identities of another account use a key
/// cryptographically (they need an identity policy allowing it too), keeping every
/// right of the owning account.
#[must_use]
pub fn cross_account_key_user_policy(owner_account: &str, other_account: &str) -> String {
    alloc::format!(
        r#"{{"Version":"1","Statement":[{{"Sid":"owner","Effect":"Allow","Principal":{{"RAM":["acs:ram::{owner_account}:*"]}},"Action":"kms:*","Resource":"*"}},{{"Sid":"cross-account user","Effect":"Allow","Principal":{{"RAM":["acs:ram::{other_account}:*"]}},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt","kms:GenerateDataKey","kms:GenerateDataKeyWithoutPlaintext","kms:EncryptEnvelope","kms:DecryptEnvelope","kms:DescribeKey"],"Resource":"*"}}]}}"#
    )
}

/// The policy every key and secret has until SetKeyPolicy / SetSecretPolicy: the
/// owning account (which delegates to its identities' RAM policies).
#[must_use]
pub fn default_resource_policy(owner_account: &str) -> String {
    alloc::format!(
        r#"{{"Version":"1","Statement":[{{"Sid":"owning account","Effect":"Allow","Principal":{{"RAM":["acs:ram::{owner_account}:*"]}},"Action":"kms:*","Resource":"*"}}]}}"#
    )
}

/// A RAM user.
#[derive(Debug, Clone)]
pub(crate) struct UserRec {
    pub(crate) name: String,
    pub(crate) user_id: String,
    /// The account it belongs to (the owning account, or another).
    pub(crate) account_id: String,
    pub(crate) display_name: String,
    pub(crate) comments: String,
    pub(crate) create_ms: u64,
    pub(crate) policies: Vec<(PolicyType, String)>,
}

/// A RAM role.
#[derive(Debug, Clone)]
pub(crate) struct RoleRec {
    pub(crate) name: String,
    pub(crate) role_id: String,
    pub(crate) description: String,
    pub(crate) trust: String,
    pub(crate) trust_compiled: Arc<Policy>,
    pub(crate) max_session_secs: u32,
    pub(crate) create_ms: u64,
    pub(crate) policies: Vec<(PolicyType, String)>,
}

/// An AccessKey pair of a user (the secret is sealed in the store like everything in it).
/// A client key (the dedicated-instance API's credential): an RSA public key whose
/// private half only the client holds; requests are signed with RSA-PKCS1-SHA256.
#[derive(Debug, Clone)]
pub(crate) struct ClientKeyRec {
    pub(crate) id: String,
    pub(crate) user: String,
    /// SubjectPublicKeyInfo DER (RSA_2048).
    pub(crate) public_key: Vec<u8>,
    pub(crate) create_ms: u64,
    /// After this, requests signed with it are refused.
    pub(crate) not_after_ms: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct AccessKeyRec {
    pub(crate) id: String,
    pub(crate) user: String,
    pub(crate) secret: SecretBytes,
    pub(crate) active: bool,
    pub(crate) create_ms: u64,
}

/// A custom policy.
#[derive(Debug, Clone)]
pub(crate) struct PolicyRec {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) document: String,
    pub(crate) compiled: Arc<Policy>,
    pub(crate) create_ms: u64,
    pub(crate) update_ms: u64,
}

/// A key's or secret's policy.
#[derive(Debug, Clone)]
pub(crate) struct ResourcePolicy {
    pub(crate) document: String,
    pub(crate) compiled: Arc<Policy>,
}

/// The audit level of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum AuditLevel {
    /// No events.
    Off,
    /// Events of actions that change the store (and every denied call).
    #[default]
    Management,
    /// Every call.
    All,
}

impl AuditLevel {
    /// Its name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AuditLevel::Off => "off",
            AuditLevel::Management => "management",
            AuditLevel::All => "all",
        }
    }

    /// From its name.
    ///
    /// # Errors
    /// `InvalidParameter.AuditLevel`.
    pub fn parse(s: &str) -> Result<AuditLevel> {
        match s {
            "off" | "Off" => Ok(AuditLevel::Off),
            "management" | "Management" => Ok(AuditLevel::Management),
            "all" | "All" => Ok(AuditLevel::All),
            _ => Err(Error::param("AuditLevel", "must be off, management or all")),
        }
    }
}

/// The store's principals and policies (present once the owner made the first one).
#[derive(Debug, Clone)]
pub(crate) struct Iam {
    pub(crate) account_id: String,
    /// Signs temporary credentials (AssumeRole).
    pub(crate) sts_key: SecretBytes,
    pub(crate) users: BTreeMap<String, UserRec>,
    pub(crate) roles: BTreeMap<String, RoleRec>,
    pub(crate) access_keys: BTreeMap<String, AccessKeyRec>,
    pub(crate) client_keys: BTreeMap<String, ClientKeyRec>,
    pub(crate) policies: BTreeMap<String, PolicyRec>,
    pub(crate) key_policies: BTreeMap<String, ResourcePolicy>,
    pub(crate) secret_policies: BTreeMap<String, ResourcePolicy>,
    pub(crate) audit_level: Option<AuditLevel>,
    /// The audit trail's signing key: EC_P256, PKCS#8 (made with the first digest).
    pub(crate) audit_key: Option<SecretBytes>,
    /// Compiled: the default resource policy, and the system policies by name.
    pub(crate) default_policy: Arc<Policy>,
    pub(crate) system: BTreeMap<&'static str, Arc<Policy>>,
}

fn bad(what: &'static str) -> Error {
    Error::StoreCorrupted(what)
}

/// Version 2 adds the client keys (after the audit key); version 1 still opens.
const IAM_VERSION: u8 = 2;

impl Iam {
    pub(crate) fn new(account_id: String, sts_key: SecretBytes) -> Result<Iam> {
        let default_policy = Arc::new(compile(
            &default_resource_policy(&account_id),
            PolicyKind::Resource,
        )?);
        let mut system = BTreeMap::new();
        for (name, _, doc) in SYSTEM_POLICIES {
            system.insert(*name, Arc::new(compile(doc, PolicyKind::Identity)?));
        }
        Ok(Iam {
            account_id,
            sts_key,
            users: BTreeMap::new(),
            roles: BTreeMap::new(),
            access_keys: BTreeMap::new(),
            client_keys: BTreeMap::new(),
            policies: BTreeMap::new(),
            key_policies: BTreeMap::new(),
            secret_policies: BTreeMap::new(),
            audit_level: None,
            audit_key: None,
            default_policy,
            system,
        })
    }

    /// An attached policy, compiled.
    pub(crate) fn attached(&self, t: PolicyType, name: &str) -> Option<&Arc<Policy>> {
        match t {
            PolicyType::System => self.system.get(name),
            PolicyType::Custom => self.policies.get(name).map(|p| &p.compiled),
        }
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u8(IAM_VERSION);
        w.str16(&self.account_id);
        w.bytes8(self.sts_key.expose());
        w.u8(match self.audit_level {
            None => 0xff,
            Some(l) => l as u8,
        });
        let attached = |w: &mut Writer, p: &[(PolicyType, String)]| {
            w.u16(u16::try_from(p.len()).unwrap_or(u16::MAX));
            for (t, n) in p {
                w.u8(*t as u8);
                w.str16(n);
            }
        };
        w.u32(len32(self.users.len()));
        for u in self.users.values() {
            w.str16(&u.name);
            w.str16(&u.user_id);
            w.str16(&u.account_id);
            w.str16(&u.display_name);
            w.str16(&u.comments);
            w.u64(u.create_ms);
            attached(w, &u.policies);
        }
        w.u32(len32(self.roles.len()));
        for r in self.roles.values() {
            w.str16(&r.name);
            w.str16(&r.role_id);
            w.str16(&r.description);
            w.bytes32(r.trust.as_bytes());
            w.u32(r.max_session_secs);
            w.u64(r.create_ms);
            attached(w, &r.policies);
        }
        w.u32(len32(self.access_keys.len()));
        for k in self.access_keys.values() {
            w.str16(&k.id);
            w.str16(&k.user);
            w.bytes8(k.secret.expose());
            w.u8(u8::from(k.active));
            w.u64(k.create_ms);
        }
        w.u32(len32(self.policies.len()));
        for p in self.policies.values() {
            w.str16(&p.name);
            w.str16(&p.description);
            w.bytes32(p.document.as_bytes());
            w.u64(p.create_ms);
            w.u64(p.update_ms);
        }
        for map in [&self.key_policies, &self.secret_policies] {
            w.u32(len32(map.len()));
            for (k, p) in map {
                w.str16(k);
                w.bytes32(p.document.as_bytes());
            }
        }
        w.bytes16(
            self.audit_key
                .as_ref()
                .map(SecretBytes::expose)
                .unwrap_or_default(),
        );
        w.u32(len32(self.client_keys.len()));
        for k in self.client_keys.values() {
            w.str16(&k.id);
            w.str16(&k.user);
            w.bytes16(&k.public_key);
            w.u64(k.create_ms);
            w.u64(k.not_after_ms);
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Iam> {
        let t = || bad("truncated principals table");
        let version = r.u8().ok_or_else(t)?;
        if version != 1 && version != IAM_VERSION {
            return Err(bad("unknown principals table version"));
        }
        let account_id = r.str16().ok_or_else(t)?;
        let sts_key = SecretBytes::new(r.bytes8().ok_or_else(t)?.to_vec());
        let level = r.u8().ok_or_else(t)?;
        let mut iam = Iam::new(account_id, sts_key).map_err(|_| bad("built-in policy"))?;
        iam.audit_level = match level {
            0 => Some(AuditLevel::Off),
            1 => Some(AuditLevel::Management),
            2 => Some(AuditLevel::All),
            0xff => None,
            _ => return Err(bad("unknown audit level")),
        };
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| bad("policy text"));
        let attached = |r: &mut Reader<'_>| -> Result<Vec<(PolicyType, String)>> {
            let n = r.u16().ok_or_else(t)?;
            let mut v = Vec::new();
            for _ in 0..n {
                let ty = match r.u8().ok_or_else(t)? {
                    0 => PolicyType::System,
                    1 => PolicyType::Custom,
                    _ => return Err(bad("unknown policy type")),
                };
                v.push((ty, r.str16().ok_or_else(t)?));
            }
            Ok(v)
        };
        for _ in 0..r.u32().ok_or_else(t)? {
            let u = UserRec {
                name: r.str16().ok_or_else(t)?,
                user_id: r.str16().ok_or_else(t)?,
                account_id: r.str16().ok_or_else(t)?,
                display_name: r.str16().ok_or_else(t)?,
                comments: r.str16().ok_or_else(t)?,
                create_ms: r.u64().ok_or_else(t)?,
                policies: attached(r)?,
            };
            iam.users.insert(u.name.clone(), u);
        }
        for _ in 0..r.u32().ok_or_else(t)? {
            let name = r.str16().ok_or_else(t)?;
            let role_id = r.str16().ok_or_else(t)?;
            let description = r.str16().ok_or_else(t)?;
            let trust = text(r.bytes32().ok_or_else(t)?)?;
            let trust_compiled =
                Arc::new(compile(&trust, PolicyKind::Trust).map_err(|_| bad("trust policy"))?);
            let rec = RoleRec {
                name,
                role_id,
                description,
                trust,
                trust_compiled,
                max_session_secs: r.u32().ok_or_else(t)?,
                create_ms: r.u64().ok_or_else(t)?,
                policies: attached(r)?,
            };
            iam.roles.insert(rec.name.clone(), rec);
        }
        for _ in 0..r.u32().ok_or_else(t)? {
            let k = AccessKeyRec {
                id: r.str16().ok_or_else(t)?,
                user: r.str16().ok_or_else(t)?,
                secret: SecretBytes::new(r.bytes8().ok_or_else(t)?.to_vec()),
                active: r.u8().ok_or_else(t)? != 0,
                create_ms: r.u64().ok_or_else(t)?,
            };
            iam.access_keys.insert(k.id.clone(), k);
        }
        for _ in 0..r.u32().ok_or_else(t)? {
            let name = r.str16().ok_or_else(t)?;
            let description = r.str16().ok_or_else(t)?;
            let document = text(r.bytes32().ok_or_else(t)?)?;
            let compiled = Arc::new(
                compile(&document, PolicyKind::Identity).map_err(|_| bad("custom policy"))?,
            );
            let p = PolicyRec {
                name,
                description,
                document,
                compiled,
                create_ms: r.u64().ok_or_else(t)?,
                update_ms: r.u64().ok_or_else(t)?,
            };
            iam.policies.insert(p.name.clone(), p);
        }
        for which in 0..2 {
            for _ in 0..r.u32().ok_or_else(t)? {
                let k = r.str16().ok_or_else(t)?;
                let document = text(r.bytes32().ok_or_else(t)?)?;
                let compiled = Arc::new(
                    compile(&document, PolicyKind::Resource).map_err(|_| bad("resource policy"))?,
                );
                let p = ResourcePolicy { document, compiled };
                if which == 0 {
                    iam.key_policies.insert(k, p);
                } else {
                    iam.secret_policies.insert(k, p);
                }
            }
        }
        let ak = r.bytes16().ok_or_else(t)?;
        iam.audit_key = (!ak.is_empty()).then(|| SecretBytes::new(ak.to_vec()));
        if version >= 2 {
            for _ in 0..r.u32().ok_or_else(t)? {
                let k = ClientKeyRec {
                    id: r.str16().ok_or_else(t)?,
                    user: r.str16().ok_or_else(t)?,
                    public_key: r.bytes16().ok_or_else(t)?.to_vec(),
                    create_ms: r.u64().ok_or_else(t)?,
                    not_after_ms: r.u64().ok_or_else(t)?,
                };
                iam.client_keys.insert(k.id.clone(), k);
            }
        }
        Ok(iam)
    }
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// What a call brings to the decision besides its caller, action and resource.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CallFacts<'a> {
    pub(crate) encryption_context: Option<&'a BTreeMap<String, String>>,
    /// CreateKey's KeySpec / KeyUsage / Origin / ProtectionLevel.
    pub(crate) key_attrs: [Option<&'a str>; 4],
}

/// The ARN a policy's Resource is matched against: the instance's region, the owning
/// account's id.
pub(crate) fn policy_arn(account: &str, action: Action, r: &Resource) -> String {
    match r {
        Resource::Instance => {
            let container = match action.family() {
                Family::Secrets => "secret",
                Family::Aliases => "alias",
                Family::Ram | Family::Sts | Family::Service | Family::Audit => {
                    return String::from("*");
                }
                _ => "key",
            };
            join(&["acs:kms:", REGION, ":", account, ":", container])
        }
        Resource::Key(id) => join(&["acs:kms:", REGION, ":", account, ":key/", id]),
        Resource::Alias(a) => join(&["acs:kms:", REGION, ":", account, ":", a]),
        Resource::Secret(n) => join(&["acs:kms:", REGION, ":", account, ":secret/", n]),
        Resource::User(n) => join(&["acs:ram::", account, ":user/", n]),
        Resource::Role(n) => join(&["acs:ram::", account, ":role/", n]),
        Resource::Policy(n) => join(&["acs:ram::", account, ":policy/", n]),
    }
}

/// The one decision: may `caller` do `action` on `resource`, given the state `st`
/// (locked by the dispatch) and the call's facts?
///
/// # Errors
/// `Forbidden.NoPermission` ([`Error::AccessDenied`]) when not;
/// `InvalidSecurityToken.Expired` when a role session's credentials have expired.
pub(crate) fn authorize(
    st: &State,
    caller: &Caller,
    action: Action,
    resource: &Resource,
    facts: &CallFacts<'_>,
    now_ms: u64,
) -> Result<()> {
    let deny = |arn: String| {
        Err(Error::AccessDenied {
            action: action.name(),
            resource: arn,
        })
    };
    // Using an alias to name a key is authorised on the key (as AWS does); the alias
    // itself is a resource of the alias actions only.
    if matches!(resource, Resource::Alias(_)) && action.family() != Family::Aliases {
        return Ok(());
    }
    let Some(iam) = st.iam.as_deref() else {
        // No principal but the owner exists yet.
        return if caller.principal == crate::api::OWNER {
            Ok(())
        } else {
            deny(resource.arn())
        };
    };
    if let Some(exp) = caller.expires_ms
        && now_ms >= exp
    {
        return Err(Error::CredentialsExpired);
    }
    let Some((named_account, principal)) = parse_principal(&caller.principal) else {
        return deny(resource.arn());
    };
    let acct = iam.account_id.as_str();
    // The identity's account, its identity policies, its ARN (and its role's ARN).
    let (account, identity, arn, role): (&str, Vec<&Arc<Policy>>, String, Option<String>) =
        match principal {
            // Another account itself: it has every right in its own account (no
            // identity policy to consult here), so the resource's policy decides.
            Principal::Root => match named_account {
                Some(a) if a != acct => (a, Vec::new(), root_arn(a), None),
                _ => (acct, Vec::new(), root_arn(acct), None),
            },
            Principal::User(name) => {
                let Some(u) = iam.users.get(name) else {
                    return deny(resource.arn());
                };
                if named_account.is_some_and(|a| a != u.account_id) {
                    return deny(resource.arn());
                }
                let pols = u
                    .policies
                    .iter()
                    .filter_map(|(t, n)| iam.attached(*t, n))
                    .collect();
                (&u.account_id, pols, user_arn(&u.account_id, name), None)
            }
            Principal::RoleSession { role, session } => {
                let Some(r) = iam.roles.get(role) else {
                    return deny(resource.arn());
                };
                if named_account.is_some_and(|a| a != acct) {
                    return deny(resource.arn());
                }
                let pols = r
                    .policies
                    .iter()
                    .filter_map(|(t, n)| iam.attached(*t, n))
                    .collect();
                (
                    acct,
                    pols,
                    session_arn(acct, role, session),
                    Some(role_arn(acct, role)),
                )
            }
        };
    let is_root = matches!(principal, Principal::Root) && account == acct;
    let foreign_root = matches!(principal, Principal::Root) && account != acct;
    // The store as a whole (its image, backups, passphrase, store key) is its owner's:
    // no policy grants it, `kms:*` included — a backup holds every key's material.
    if action.family() == Family::Store {
        return if is_root {
            Ok(())
        } else {
            deny(resource.arn())
        };
    }
    let resource_arn = policy_arn(acct, action, resource);
    // The resource's policy (keys and secrets have one: their own or the default) and
    // what its conditions may ask about it.
    let mut cx = policy::RequestContext {
        source_ip: caller.source_ip,
        now_ms,
        secure_transport: caller.secure_transport,
        tags: None,
        encryption_context: facts.encryption_context,
        key_attrs: facts.key_attrs,
        secret_type: None,
    };
    let resource_policy: Option<&Arc<Policy>> = match resource {
        Resource::Key(id) => {
            if let Some(k) = st.keys.get(id) {
                cx.tags = Some(&k.tags);
                cx.key_attrs = [
                    Some(k.spec.as_str()),
                    Some(k.usage.as_str()),
                    Some(k.origin.as_str()),
                    Some(k.protection.as_str()),
                ];
            }
            Some(
                iam.key_policies
                    .get(id)
                    .map_or(&iam.default_policy, |p| &p.compiled),
            )
        }
        // AssumeRole: the role's trust policy is its resource policy.
        Resource::Role(n) if action == Action::AssumeRole => {
            iam.roles.get(n).map(|r| &r.trust_compiled)
        }
        Resource::Secret(n) => {
            if let Some(s) = st.secrets.get(n) {
                cx.tags = Some(&s.tags);
                cx.secret_type = Some(s.secret_type.as_str());
            }
            Some(
                iam.secret_policies
                    .get(n)
                    .map_or(&iam.default_policy, |p| &p.compiled),
            )
        }
        _ => None,
    };
    // The owner with no policy of its own on this resource: nothing can deny it.
    if is_root && resource_policy.is_none_or(|p| Arc::ptr_eq(p, &iam.default_policy)) {
        return Ok(());
    }
    let action_name = policy_action(action);
    let q = policy::Question {
        principal: policy::PrincipalView {
            arn: &arn,
            role_arn: role.as_deref(),
        },
        action: &action_name,
        action_index: action_index(action),
        resource: &resource_arn,
        context: &cx,
    };
    let mut id_allow = foreign_root;
    for p in &identity {
        let v = p.evaluate(&q);
        if v.deny {
            return deny(resource_arn);
        }
        id_allow |= v.allow;
    }
    let rv = resource_policy.map(|p| p.evaluate(&q)).unwrap_or_default();
    if rv.deny {
        return deny(resource_arn);
    }
    if is_root {
        return Ok(());
    }
    let allowed = if account == acct {
        id_allow || rv.allow_specific
    } else {
        // Another account's identity: its own RAM policy and this resource's policy.
        id_allow && rv.allow
    };
    if allowed { Ok(()) } else { deny(resource_arn) }
}

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length.
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()));
    for p in parts {
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Temporary credentials from AssumeRole.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TemporaryCredentials {
    /// `STS.` followed by 24 characters.
    pub access_key_id: String,
    /// The secret that signs requests (sensitive).
    pub access_key_secret: SecretBytes,
    /// The token that names the role session and its expiry (sensitive: it is a bearer
    /// credential together with the secret).
    pub security_token: SecretBytes,
    /// When they stop working, ms since the epoch.
    pub expiration_ms: u64,
    /// The session's ARN (`acs:ram::<account>:assumed-role/<role>/<session>`).
    pub assumed_role_arn: String,
    /// `<RoleId>:<session>`.
    pub assumed_role_id: String,
}

impl core::fmt::Debug for TemporaryCredentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TemporaryCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field("security_token", &"<redacted>")
            .field("expiration_ms", &self.expiration_ms)
            .field("assumed_role_arn", &self.assumed_role_arn)
            .finish()
    }
}

const TOKEN_PREFIX: &str = "SRSTS1.";

/// Mints a role session's credentials: the token carries (AccessKeyId, account, role,
/// session, expiry) and a MAC under the store's STS key; the secret is derived from
/// the token, so nothing is stored per session.
pub(crate) fn mint_session(
    iam: &Iam,
    role: &RoleRec,
    session: &str,
    expires_ms: u64,
    id_random: [u8; 18],
) -> TemporaryCredentials {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let access_key_id = alloc::format!("STS.{}", Base64UrlUnpadded::encode_string(&id_random));
    let mut w = Writer::new();
    w.str16(&access_key_id);
    w.str16(&iam.account_id);
    w.str16(&role.name);
    w.str16(session);
    w.u64(expires_ms);
    let payload = core::mem::take(&mut w.buf);
    let tag = mac(iam.sts_key.expose(), &[b"token", &payload]);
    let mut token = payload.clone();
    token.extend_from_slice(&tag);
    let secret = mac(iam.sts_key.expose(), &[b"secret", &payload]);
    TemporaryCredentials {
        access_key_id,
        access_key_secret: SecretBytes::new(
            Base64UrlUnpadded::encode_string(&secret[..22]).into_bytes(),
        ),
        security_token: SecretBytes::new(
            alloc::format!("{TOKEN_PREFIX}{}", Base64UrlUnpadded::encode_string(&token))
                .into_bytes(),
        ),
        expiration_ms: expires_ms,
        assumed_role_arn: session_arn(&iam.account_id, &role.name, session),
        assumed_role_id: alloc::format!("{}:{session}", role.role_id),
    }
}

/// A verified credential: who it names, and the secret that signs its requests.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The principal's ARN.
    pub principal: String,
    /// The AccessKeyId.
    pub access_key_id: String,
    /// The secret (for signature checks).
    pub secret: SecretBytes,
    /// When it expires (role sessions), ms.
    pub expires_ms: Option<u64>,
}

/// Looks up an AccessKeyId (and, for `STS.` ids, checks its SecurityToken): the
/// principal it names and its secret.
pub(crate) fn credential(
    iam: &Iam,
    access_key_id: &str,
    security_token: Option<&str>,
    now_ms: u64,
) -> Result<Credential> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    if access_key_id.starts_with("STS.") {
        let token = security_token.ok_or(Error::InvalidSecurityToken("missing"))?;
        let raw = token
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|t| Base64UrlUnpadded::decode_vec(t).ok())
            .ok_or(Error::InvalidSecurityToken("malformed"))?;
        if raw.len() < 32 {
            return Err(Error::InvalidSecurityToken("malformed"));
        }
        let (payload, tag) = raw.split_at(raw.len() - 32);
        let want = mac(iam.sts_key.expose(), &[b"token", payload]);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&want[..], tag)) {
            return Err(Error::InvalidSecurityToken("not issued by this store"));
        }
        let mut r = Reader::new(payload);
        let m = || Error::InvalidSecurityToken("malformed");
        let id = r.str16().ok_or_else(m)?;
        let account = r.str16().ok_or_else(m)?;
        let role = r.str16().ok_or_else(m)?;
        let session = r.str16().ok_or_else(m)?;
        let expires = r.u64().ok_or_else(m)?;
        if id != access_key_id || account != iam.account_id {
            return Err(Error::InvalidSecurityToken(
                "issued for another AccessKeyId",
            ));
        }
        if now_ms >= expires {
            return Err(Error::CredentialsExpired);
        }
        if !iam.roles.contains_key(&role) {
            return Err(Error::InvalidAccessKeyId(String::from(access_key_id)));
        }
        let secret = mac(iam.sts_key.expose(), &[b"secret", payload]);
        return Ok(Credential {
            principal: session_arn(&account, &role, &session),
            access_key_id: id,
            secret: SecretBytes::new(Base64UrlUnpadded::encode_string(&secret[..22]).into_bytes()),
            expires_ms: Some(expires),
        });
    }
    let k = iam
        .access_keys
        .get(access_key_id)
        .filter(|k| k.active)
        .ok_or_else(|| Error::InvalidAccessKeyId(String::from(access_key_id)))?;
    let u = iam
        .users
        .get(&k.user)
        .ok_or_else(|| Error::InvalidAccessKeyId(String::from(access_key_id)))?;
    Ok(Credential {
        principal: user_arn(&u.account_id, &u.name),
        access_key_id: k.id.clone(),
        secret: k.secret.clone(),
        expires_ms: None,
    })
}

/// A client key's principal and public key (SubjectPublicKeyInfo DER), for checking a
/// dedicated-instance API request's RSA signature.
pub(crate) fn client_key(iam: &Iam, key_id: &str, now_ms: u64) -> Result<(String, Vec<u8>)> {
    let k = iam
        .client_keys
        .get(key_id)
        .ok_or_else(|| Error::InvalidAccessKeyId(String::from(key_id)))?;
    if now_ms >= k.not_after_ms {
        return Err(Error::CredentialsExpired);
    }
    let u = iam
        .users
        .get(&k.user)
        .ok_or_else(|| Error::InvalidAccessKeyId(String::from(key_id)))?;
    Ok((user_arn(&u.account_id, &u.name), k.public_key.clone()))
}

/// Whether `a` and `b` are equal, in constant time.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(subtle::ConstantTimeEq::ct_eq(a, b))
}

/// A fresh 16-digit account id.
pub(crate) fn new_account_id(random: [u8; 8]) -> String {
    let n = u64::from_be_bytes(random) % 9_000_000_000_000_000 + 1_000_000_000_000_000;
    n.to_string()
}
