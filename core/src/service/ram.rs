//! RAM and STS inside a store: users, roles, AccessKeys, custom policies and their
//! attachments, AssumeRole, key and secret policies, and the audit level — the
//! service code behind the `Ram`, `Sts`, `Access` and `Audit` families of the table.

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::access::{
    self, AccessKeyRec, AuditLevel, Iam, PolicyKind, PolicyRec, PolicyType, ResourcePolicy,
    RoleRec, TemporaryCredentials, UserRec,
};
use crate::api::Caller;
use crate::error::{Error, Result};
use crate::kms::Kms;
use crate::secret::SecretBytes;

/// Most users, roles or custom policies a store holds.
pub const MAX_ENTITIES: usize = 1000;
/// Most AccessKeys one user holds (RAM's limit).
pub const MAX_ACCESS_KEYS_PER_USER: usize = 2;
/// Client keys a user may hold.
pub const MAX_CLIENT_KEYS_PER_USER: usize = 10;
/// Most policies attached to one user or role.
pub const MAX_ATTACHED: usize = 10;
/// Shortest and longest role session (AssumeRole's DurationSeconds), in seconds.
pub const SESSION_SECS: core::ops::RangeInclusive<u32> = 900..=43_200;

/// CreateUser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CreateUserRequest {
    /// UserName: 1–64 of letters, digits, `. _ - @`.
    pub user_name: String,
    /// DisplayName (defaults to UserName).
    pub display_name: Option<String>,
    /// Comments.
    pub comments: Option<String>,
    /// The account the user belongs to, when not the owning account (strongroom's: a
    /// principal of another account, for cross-account tests and sharing).
    pub account_id: Option<String>,
}

/// A request that names one user (GetUser, DeleteUser, CreateAccessKey,
/// ListAccessKeys, ListPoliciesForUser).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct UserNameRequest {
    /// UserName.
    pub user_name: String,
}

/// A request that names one role (GetRole, DeleteRole, ListPoliciesForRole).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RoleNameRequest {
    /// RoleName.
    pub role_name: String,
}

/// ListUsers, ListRoles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListEntitiesRequest;

/// CreateRole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CreateRoleRequest {
    /// RoleName.
    pub role_name: String,
    /// AssumeRolePolicyDocument: the trust policy (who may assume it).
    pub assume_role_policy_document: String,
    /// Description.
    pub description: Option<String>,
    /// MaxSessionDuration, seconds (3600–43200, default 3600).
    pub max_session_duration: Option<u32>,
}

/// UpdateAccessKey / DeleteAccessKey.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AccessKeyRequest {
    /// UserName.
    pub user_name: String,
    /// UserAccessKeyId.
    pub user_access_key_id: String,
    /// Status (`Active` / `Inactive`; UpdateAccessKey only).
    pub status: Option<String>,
}

/// CreatePolicy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CreatePolicyRequest {
    /// PolicyName.
    pub policy_name: String,
    /// PolicyDocument (JSON).
    pub policy_document: String,
    /// Description.
    pub description: Option<String>,
}

/// GetPolicy / DeletePolicy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PolicyNameRequest {
    /// PolicyName.
    pub policy_name: String,
    /// PolicyType (GetPolicy; default Custom).
    pub policy_type: PolicyType,
}

/// ListPolicies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListPoliciesRequest {
    /// PolicyType filter.
    pub policy_type: Option<PolicyType>,
}

/// AttachPolicyToUser / DetachPolicyFromUser / AttachPolicyToRole / DetachPolicyFromRole.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AttachPolicyRequest {
    /// PolicyType.
    pub policy_type: PolicyType,
    /// PolicyName.
    pub policy_name: String,
    /// UserName or RoleName.
    pub principal_name: String,
}

/// AssumeRole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AssumeRoleRequest {
    /// RoleArn (`acs:ram::<account>:role/<name>`).
    pub role_arn: String,
    /// RoleSessionName: 2–64 of letters, digits, `. @ - _`.
    pub role_session_name: String,
    /// DurationSeconds (900 to the role's MaxSessionDuration; default 3600).
    pub duration_seconds: Option<u32>,
}

/// SetKeyPolicy / GetKeyPolicy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyPolicyRequest {
    /// KeyId.
    pub key_id: String,
    /// PolicyName (only `default`).
    pub policy_name: Option<String>,
    /// Policy (SetKeyPolicy).
    pub policy: Option<String>,
}

/// SetSecretPolicy / GetSecretPolicy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SecretPolicyRequest {
    /// SecretName.
    pub secret_name: String,
    /// PolicyName (only `default`).
    pub policy_name: Option<String>,
    /// Policy (SetSecretPolicy).
    pub policy: Option<String>,
}

/// SimulatePolicy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SimulatePolicyRequest {
    /// PrincipalArn: `owner`, `acs:ram::<account>:root`, `…:user/<name>` or
    /// `…:assumed-role/<role>/<session>`.
    pub principal_arn: String,
    /// ActionName: `Encrypt` or `kms:Encrypt` (any action of the table).
    pub action_name: String,
    /// ResourceArn: a KeyId, alias, key or alias ARN; a secret ARN
    /// (`acs:kms:…:secret/<name>`); a role ARN (`acs:ram::…:role/<name>`); none for
    /// the instance.
    pub resource: Option<String>,
    /// The request's EncryptionContext.
    pub encryption_context: crate::EncryptionContext,
    /// `acs:SourceIp`.
    pub source_ip: Option<core::net::IpAddr>,
    /// `acs:SecureTransport` (default true).
    pub secure_transport: Option<bool>,
    /// `acs:CurrentTime` (ISO 8601; default now).
    pub current_time: Option<String>,
    /// For a role session: when its credentials expire (ISO 8601).
    pub credential_expiration: Option<String>,
}

/// SimulatePolicy's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SimulatePolicyResponse {
    /// `Allow` or `Deny`.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::api::serde_static::one")
    )]
    pub decision: crate::vocab::StaticStr,
    /// Why not: `Forbidden.NoPermission`, `InvalidSecurityToken.Expired`, ….
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::api::serde_static::opt")
    )]
    pub error_code: Option<crate::vocab::StaticStr>,
}

/// SetAuditLevel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SetAuditLevelRequest {
    /// The level.
    pub level: AuditLevel,
}

/// DescribeAuditConfig.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DescribeAuditConfigRequest;

/// DescribeAuditConfig's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AuditConfig {
    /// The store's level (its default until SetAuditLevel: see docs/AUDIT.md).
    pub level: AuditLevel,
    /// Whether the level was set on this store (else the runtime's default applies).
    pub level_set: bool,
    /// The owning account's id (None until a principal or policy exists).
    pub account_id: Option<String>,
}

/// A RAM user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct User {
    /// UserName.
    pub user_name: String,
    /// UserId.
    pub user_id: String,
    /// The account it belongs to.
    pub account_id: String,
    /// Its ARN (what policies' Principal names).
    pub arn: String,
    /// DisplayName.
    pub display_name: String,
    /// Comments.
    pub comments: String,
    /// CreateDate, ms.
    pub create_ms: u64,
}

/// A RAM role.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Role {
    /// RoleName.
    pub role_name: String,
    /// RoleId.
    pub role_id: String,
    /// Arn.
    pub arn: String,
    /// Description.
    pub description: String,
    /// AssumeRolePolicyDocument.
    pub assume_role_policy_document: String,
    /// MaxSessionDuration, seconds.
    pub max_session_duration: u32,
    /// CreateDate, ms.
    pub create_ms: u64,
}

/// An AccessKey.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AccessKey {
    /// AccessKeyId.
    pub access_key_id: String,
    /// AccessKeySecret: answered by CreateAccessKey only, once.
    pub access_key_secret: Option<SecretBytes>,
    /// `Active` or `Inactive`.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::api::serde_static::one")
    )]
    pub status: crate::vocab::StaticStr,
    /// CreateDate, ms.
    pub create_ms: u64,
}

/// CreateClientKey: registers a client key (the dedicated-instance API's credential)
/// for a RAM user. The key pair is made by the client (`strongroom ram
/// create-client-key` makes one and writes the private half to a PKCS#12 file): the
/// store keeps only the public key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CreateClientKeyRequest {
    /// UserName: the principal requests signed with the key act as.
    pub user_name: String,
    /// PublicKey: an RSA_2048 SubjectPublicKeyInfo, PEM.
    pub public_key: String,
    /// NotAfter: when the key stops working, ISO 8601 (default: 1 year).
    pub not_after: Option<String>,
}

/// A client key, as CreateClientKey answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ClientKey {
    /// KeyId (`KAAP.<uuid>`): what the client's key file names.
    pub key_id: String,
    /// UserName.
    pub user_name: String,
    /// CreateDate, ms.
    pub create_ms: u64,
    /// NotAfter, ms.
    pub not_after_ms: u64,
}

/// A policy's description.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PolicyInfo {
    /// PolicyName.
    pub policy_name: String,
    /// PolicyType.
    pub policy_type: PolicyType,
    /// Description.
    pub description: String,
    /// DefaultVersion (always `v1`: a policy has one version here).
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::api::serde_static::one")
    )]
    pub default_version: crate::vocab::StaticStr,
    /// AttachmentCount.
    pub attachment_count: u32,
    /// CreateDate, ms (0 for System policies).
    pub create_ms: u64,
    /// UpdateDate, ms.
    pub update_ms: u64,
    /// The document (GetPolicy only).
    pub policy_document: Option<String>,
}

/// A list of users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListUsersResponse {
    /// Users.
    pub users: Vec<User>,
}

/// A list of roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListRolesResponse {
    /// Roles.
    pub roles: Vec<Role>,
}

/// A list of AccessKeys (no secrets).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListAccessKeysResponse {
    /// AccessKeys.
    pub access_keys: Vec<AccessKey>,
}

/// A list of policies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListPoliciesResponse {
    /// Policies.
    pub policies: Vec<PolicyInfo>,
}

/// GetKeyPolicy / GetSecretPolicy's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PolicyText {
    /// Policy (JSON).
    pub policy: String,
}

fn check_name(field: &'static str, v: &str, max: usize, extra: &str) -> Result<()> {
    if v.is_empty() || v.len() > max {
        return Err(Error::param(field, alloc::format!("1 to {max} characters")));
    }
    if !v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    {
        return Err(Error::param(
            field,
            alloc::format!("letters, digits and {extra:?} only"),
        ));
    }
    Ok(())
}

/// A UserName (RAM: ≤ 64 of letters, digits, `. _ - @`).
pub(crate) fn check_user_name(v: &str) -> Result<()> {
    check_name("UserName", v, 64, "._-@")
}
/// A RoleName (RAM: ≤ 64 of letters, digits, `. -`).
pub(crate) fn check_role_name(v: &str) -> Result<()> {
    check_name("RoleName", v, 64, ".-_")
}
/// A PolicyName (RAM: ≤ 128 of letters, digits, `-`).
pub(crate) fn check_policy_name(v: &str) -> Result<()> {
    check_name("PolicyName", v, 128, "-_")
}

/// The role an AssumeRole's RoleArn names.
pub(crate) fn role_of_arn(arn: &str) -> Result<&str> {
    arn.strip_prefix("acs:ram::")
        .and_then(|r| r.split_once(":role/"))
        .map(|(_, n)| n)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Error::param("RoleArn", "must be acs:ram::<account>:role/<name>"))
}

fn user_view(u: &UserRec) -> User {
    User {
        user_name: u.name.clone(),
        user_id: u.user_id.clone(),
        account_id: u.account_id.clone(),
        arn: access::user_arn(&u.account_id, &u.name),
        display_name: u.display_name.clone(),
        comments: u.comments.clone(),
        create_ms: u.create_ms,
    }
}

fn role_view(iam: &Iam, r: &RoleRec) -> Role {
    Role {
        role_name: r.name.clone(),
        role_id: r.role_id.clone(),
        arn: access::role_arn(&iam.account_id, &r.name),
        description: r.description.clone(),
        assume_role_policy_document: r.trust.clone(),
        max_session_duration: r.max_session_secs,
        create_ms: r.create_ms,
    }
}

fn attachments(iam: &Iam, t: PolicyType, name: &str) -> u32 {
    let n = iam
        .users
        .values()
        .flat_map(|u| u.policies.iter())
        .chain(iam.roles.values().flat_map(|r| r.policies.iter()))
        .filter(|(pt, pn)| *pt == t && pn == name)
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn policy_view(iam: &Iam, t: PolicyType, name: &str, with_doc: bool) -> Option<PolicyInfo> {
    match t {
        PolicyType::System => access::SYSTEM_POLICIES
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(n, d, doc)| PolicyInfo {
                policy_name: String::from(*n),
                policy_type: t,
                description: String::from(*d),
                default_version: "v1",
                attachment_count: attachments(iam, t, n),
                create_ms: 0,
                update_ms: 0,
                policy_document: with_doc.then(|| String::from(*doc)),
            }),
        PolicyType::Custom => iam.policies.get(name).map(|p| PolicyInfo {
            policy_name: p.name.clone(),
            policy_type: t,
            description: p.description.clone(),
            default_version: "v1",
            attachment_count: attachments(iam, t, name),
            create_ms: p.create_ms,
            update_ms: p.update_ms,
            policy_document: with_doc.then(|| p.document.clone()),
        }),
    }
}

fn no_user(n: &str) -> Error {
    Error::EntityNotFound {
        kind: "User",
        name: String::from(n),
    }
}
fn no_role(n: &str) -> Error {
    Error::EntityNotFound {
        kind: "Role",
        name: String::from(n),
    }
}
fn no_policy(n: &str) -> Error {
    Error::EntityNotFound {
        kind: "Policy",
        name: String::from(n),
    }
}

fn check_policy_name_param(name: &Option<String>) -> Result<()> {
    match name.as_deref() {
        None | Some("default") => Ok(()),
        Some(_) => Err(Error::param(
            "PolicyName",
            "the only policy name is \"default\"",
        )),
    }
}

impl Kms {
    /// A fresh principals table: a new account id and STS key.
    pub(crate) fn new_iam_table(&self) -> Result<Iam> {
        self.new_iam()
    }

    fn new_iam(&self) -> Result<Iam> {
        let acct = access::new_account_id(self.env.random()?);
        Iam::new(acct, SecretBytes::new(self.env.random::<32>()?.to_vec()))
    }

    /// Reads the principals table (None until the first principal or policy).
    fn with_iam<T>(&self, f: impl FnOnce(Option<&Iam>) -> Result<T>) -> Result<T> {
        let st = self.state.lock();
        f(st.iam.as_deref())
    }

    /// The owning account's 16-digit id, made (and stored) on first use.
    ///
    /// # Errors
    /// Store errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let account = kms.account_id().await?;
    /// # });
    /// ```
    pub async fn account_id(&self) -> Result<String> {
        if let Some(a) = self.with_iam(|i| Ok(i.map(|i| i.account_id.clone())))? {
            return Ok(a);
        }
        self.mutate(|tx| Ok(tx.iam_mut(|| self.new_iam())?.account_id.clone()))
            .await
    }

    pub(crate) async fn create_user_impl(&self, r: CreateUserRequest) -> Result<User> {
        check_user_name(&r.user_name)?;
        if let Some(a) = &r.account_id
            && (a.len() != 16 || !a.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(Error::param("AccountId", "a 16-digit account id"));
        }
        let now = self.env.now();
        let user_id = alloc::format!(
            "2{:015}",
            u64::from_be_bytes(self.env.random()?) % 1_000_000_000_000_000
        );
        self.mutate(|tx| {
            let iam = tx.iam_mut(|| self.new_iam())?;
            if iam.users.contains_key(&r.user_name) {
                return Err(Error::EntityExists {
                    kind: "User",
                    name: r.user_name.clone(),
                });
            }
            if iam.users.len() >= MAX_ENTITIES {
                return Err(Error::LimitExceeded(String::from("at most 1000 users")));
            }
            let rec = UserRec {
                name: r.user_name.clone(),
                user_id: user_id.clone(),
                account_id: r
                    .account_id
                    .clone()
                    .unwrap_or_else(|| iam.account_id.clone()),
                display_name: r
                    .display_name
                    .clone()
                    .unwrap_or_else(|| r.user_name.clone()),
                comments: r.comments.clone().unwrap_or_default(),
                create_ms: now,
                policies: Vec::new(),
            };
            let v = user_view(&rec);
            iam.users.insert(rec.name.clone(), rec);
            Ok(v)
        })
        .await
    }

    pub(crate) fn get_user_impl(&self, r: &UserNameRequest) -> Result<User> {
        self.with_iam(|iam| {
            iam.and_then(|i| i.users.get(&r.user_name))
                .map(user_view)
                .ok_or_else(|| no_user(&r.user_name))
        })
    }

    pub(crate) fn list_users_impl(&self) -> Result<ListUsersResponse> {
        self.with_iam(|iam| {
            Ok(ListUsersResponse {
                users: iam
                    .map(|i| i.users.values().map(user_view).collect())
                    .unwrap_or_default(),
            })
        })
    }

    pub(crate) async fn delete_user_impl(&self, r: UserNameRequest) -> Result<()> {
        self.mutate(|tx| {
            let iam = tx.iam_mut(|| self.new_iam())?;
            let u = iam
                .users
                .get(&r.user_name)
                .ok_or_else(|| no_user(&r.user_name))?;
            if !u.policies.is_empty() {
                return Err(Error::DeleteConflict {
                    what: "User.Policy",
                    name: r.user_name.clone(),
                });
            }
            if iam.access_keys.values().any(|k| k.user == r.user_name)
                || iam.client_keys.values().any(|k| k.user == r.user_name)
            {
                return Err(Error::DeleteConflict {
                    what: "User.AccessKey",
                    name: r.user_name.clone(),
                });
            }
            iam.users.remove(&r.user_name);
            Ok(())
        })
        .await
    }

    pub(crate) async fn create_role_impl(&self, r: CreateRoleRequest) -> Result<Role> {
        check_role_name(&r.role_name)?;
        let trust = access::compile(&r.assume_role_policy_document, PolicyKind::Trust)?;
        let max = r.max_session_duration.unwrap_or(3600);
        if !(3600..=43_200).contains(&max) {
            return Err(Error::param("MaxSessionDuration", "3600 to 43200 seconds"));
        }
        let now = self.env.now();
        let role_id = alloc::format!(
            "3{:015}",
            u64::from_be_bytes(self.env.random()?) % 1_000_000_000_000_000
        );
        self.mutate(|tx| {
            let iam = tx.iam_mut(|| self.new_iam())?;
            if iam.roles.contains_key(&r.role_name) {
                return Err(Error::EntityExists {
                    kind: "Role",
                    name: r.role_name.clone(),
                });
            }
            if iam.roles.len() >= MAX_ENTITIES {
                return Err(Error::LimitExceeded(String::from("at most 1000 roles")));
            }
            let rec = RoleRec {
                name: r.role_name.clone(),
                role_id: role_id.clone(),
                description: r.description.clone().unwrap_or_default(),
                trust: r.assume_role_policy_document.clone(),
                trust_compiled: Arc::new(trust),
                max_session_secs: max,
                create_ms: now,
                policies: Vec::new(),
            };
            let v = role_view(iam, &rec);
            iam.roles.insert(rec.name.clone(), rec);
            Ok(v)
        })
        .await
    }

    pub(crate) fn get_role_impl(&self, r: &RoleNameRequest) -> Result<Role> {
        self.with_iam(|iam| {
            let i = iam.ok_or_else(|| no_role(&r.role_name))?;
            i.roles
                .get(&r.role_name)
                .map(|x| role_view(i, x))
                .ok_or_else(|| no_role(&r.role_name))
        })
    }

    pub(crate) fn list_roles_impl(&self) -> Result<ListRolesResponse> {
        self.with_iam(|iam| {
            Ok(ListRolesResponse {
                roles: iam
                    .map(|i| i.roles.values().map(|r| role_view(i, r)).collect())
                    .unwrap_or_default(),
            })
        })
    }

    pub(crate) async fn delete_role_impl(&self, r: RoleNameRequest) -> Result<()> {
        self.mutate(|tx| {
            let iam = tx.iam_mut(|| self.new_iam())?;
            let role = iam
                .roles
                .get(&r.role_name)
                .ok_or_else(|| no_role(&r.role_name))?;
            if !role.policies.is_empty() {
                return Err(Error::DeleteConflict {
                    what: "Role.Policy",
                    name: r.role_name.clone(),
                });
            }
            iam.roles.remove(&r.role_name);
            Ok(())
        })
        .await
    }

    pub(crate) async fn create_access_key_impl(&self, r: UserNameRequest) -> Result<AccessKey> {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let id_raw: [u8; 18] = self.env.random()?;
        let secret_raw: [u8; 22] = self.env.random()?;
        let id = alloc::format!(
            "LTAI{}",
            Base64UrlUnpadded::encode_string(&id_raw).replace(['-', '_'], "x")
        );
        let secret = SecretBytes::new(Base64UrlUnpadded::encode_string(&secret_raw).into_bytes());
        let now = self.env.now();
        self.mutate(|tx| {
            let iam = tx.iam_mut(|| self.new_iam())?;
            if !iam.users.contains_key(&r.user_name) {
                return Err(no_user(&r.user_name));
            }
            let n = iam
                .access_keys
                .values()
                .filter(|k| k.user == r.user_name)
                .count();
            if n >= MAX_ACCESS_KEYS_PER_USER {
                return Err(Error::LimitExceeded(String::from(
                    "a user holds at most 2 AccessKeys",
                )));
            }
            iam.access_keys.insert(
                id.clone(),
                AccessKeyRec {
                    id: id.clone(),
                    user: r.user_name.clone(),
                    secret: secret.clone(),
                    active: true,
                    create_ms: now,
                },
            );
            Ok(AccessKey {
                access_key_id: id.clone(),
                access_key_secret: Some(secret.clone()),
                status: "Active",
                create_ms: now,
            })
        })
        .await
    }

    pub(crate) async fn create_client_key_impl(
        &self,
        r: CreateClientKeyRequest,
    ) -> Result<ClientKey> {
        let spki = crate::asym::pem_spki(&r.public_key)?;
        // Only an RSA_2048 public key passes: a signature check on it cannot fail on
        // the key's size or type.
        if crate::asym::verify(
            crate::vocab::KeySpec::Rsa2048,
            &spki,
            crate::asym::SigningAlgorithm::RsaPkcs1Sha256,
            &[0u8; 32],
            &[0u8; 256],
        )
        .is_err()
        {
            return Err(Error::param("PublicKey", "must be an RSA_2048 public key"));
        }
        let now = self.env.now();
        let not_after_ms = match &r.not_after {
            None => now.saturating_add(365 * 86_400_000),
            Some(t) => {
                let ms = crate::access::policy::parse_date(t)
                    .and_then(|secs| u64::try_from(secs).ok())
                    .map(|secs| secs.saturating_mul(1000))
                    .ok_or_else(|| Error::param("NotAfter", "must be an ISO 8601 time"))?;
                if ms <= now {
                    return Err(Error::param("NotAfter", "must be in the future"));
                }
                ms
            }
        };
        let key_id = alloc::format!("KAAP.{}", crate::ids::uuid_v4(&self.env)?);
        self.mutate(|tx| {
            let iam = tx.iam_mut(|| self.new_iam())?;
            if !iam.users.contains_key(&r.user_name) {
                return Err(no_user(&r.user_name));
            }
            let n = iam
                .client_keys
                .values()
                .filter(|k| k.user == r.user_name)
                .count();
            if n >= MAX_CLIENT_KEYS_PER_USER {
                return Err(Error::LimitExceeded(String::from(
                    "a user holds at most 10 client keys",
                )));
            }
            iam.client_keys.insert(
                key_id.clone(),
                crate::access::ClientKeyRec {
                    id: key_id.clone(),
                    user: r.user_name.clone(),
                    public_key: spki.clone(),
                    create_ms: now,
                    not_after_ms,
                },
            );
            Ok(ClientKey {
                key_id: key_id.clone(),
                user_name: r.user_name.clone(),
                create_ms: now,
                not_after_ms,
            })
        })
        .await
    }

    /// The principal a client key names and its public key (SubjectPublicKeyInfo DER):
    /// what the gateway checks a dedicated-instance request's signature with.
    ///
    /// # Errors
    /// `InvalidAccessKeyId.NotFound`, `InvalidSecurityToken.Expired` (past NotAfter).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// let (principal, secret) = kms.client_key("client-key-id")?;
    /// # });
    /// ```
    pub fn client_key(&self, key_id: &str) -> Result<(String, Vec<u8>)> {
        let now = self.env.now();
        let st = self.state.lock();
        let iam = st
            .iam
            .as_deref()
            .ok_or_else(|| Error::InvalidAccessKeyId(key_id.to_string()))?;
        access::client_key(iam, key_id, now)
    }

    pub(crate) async fn update_access_key_impl(&self, r: AccessKeyRequest) -> Result<()> {
        let active = match r.status.as_deref() {
            Some("Active") => true,
            Some("Inactive") => false,
            _ => return Err(Error::param("Status", "must be Active or Inactive")),
        };
        self.mutate(|tx| {
            let iam = tx.iam_mut(|| self.new_iam())?;
            let k = iam
                .access_keys
                .get_mut(&r.user_access_key_id)
                .filter(|k| k.user == r.user_name)
                .ok_or_else(|| Error::EntityNotFound {
                    kind: "AccessKey",
                    name: r.user_access_key_id.clone(),
                })?;
            k.active = active;
            Ok(())
        })
        .await
    }

    pub(crate) async fn delete_access_key_impl(&self, r: AccessKeyRequest) -> Result<()> {
        self.mutate(|tx| {
            let iam = tx.iam_mut(|| self.new_iam())?;
            if iam
                .client_keys
                .get(&r.user_access_key_id)
                .is_some_and(|k| k.user == r.user_name)
            {
                iam.client_keys.remove(&r.user_access_key_id);
                return Ok(());
            }
            match iam.access_keys.get(&r.user_access_key_id) {
                Some(k) if k.user == r.user_name => {
                    iam.access_keys.remove(&r.user_access_key_id);
                    Ok(())
                }
                _ => Err(Error::EntityNotFound {
                    kind: "AccessKey",
                    name: r.user_access_key_id.clone(),
                }),
            }
        })
        .await
    }

    pub(crate) fn list_access_keys_impl(
        &self,
        r: &UserNameRequest,
    ) -> Result<ListAccessKeysResponse> {
        self.with_iam(|iam| {
            let i = iam.ok_or_else(|| no_user(&r.user_name))?;
            if !i.users.contains_key(&r.user_name) {
                return Err(no_user(&r.user_name));
            }
            Ok(ListAccessKeysResponse {
                access_keys: i
                    .access_keys
                    .values()
                    .filter(|k| k.user == r.user_name)
                    .map(|k| AccessKey {
                        access_key_id: k.id.clone(),
                        access_key_secret: None,
                        status: if k.active { "Active" } else { "Inactive" },
                        create_ms: k.create_ms,
                    })
                    // Client keys (KAAP.…) are listed too: DeleteAccessKey removes them.
                    .chain(
                        i.client_keys
                            .values()
                            .filter(|k| k.user == r.user_name)
                            .map(|k| AccessKey {
                                access_key_id: k.id.clone(),
                                access_key_secret: None,
                                status: "Active",
                                create_ms: k.create_ms,
                            }),
                    )
                    .collect(),
            })
        })
    }

    pub(crate) async fn create_policy_impl(&self, r: CreatePolicyRequest) -> Result<PolicyInfo> {
        check_policy_name(&r.policy_name)?;
        let compiled = access::compile(&r.policy_document, PolicyKind::Identity)?;
        if access::SYSTEM_POLICIES
            .iter()
            .any(|(n, _, _)| *n == r.policy_name)
        {
            return Err(Error::EntityExists {
                kind: "Policy",
                name: r.policy_name.clone(),
            });
        }
        let now = self.env.now();
        self.mutate(|tx| {
            let iam = tx.iam_mut(|| self.new_iam())?;
            if iam.policies.contains_key(&r.policy_name) {
                return Err(Error::EntityExists {
                    kind: "Policy",
                    name: r.policy_name.clone(),
                });
            }
            if iam.policies.len() >= MAX_ENTITIES {
                return Err(Error::LimitExceeded(String::from(
                    "at most 1000 custom policies",
                )));
            }
            iam.policies.insert(
                r.policy_name.clone(),
                PolicyRec {
                    name: r.policy_name.clone(),
                    description: r.description.clone().unwrap_or_default(),
                    document: r.policy_document.clone(),
                    compiled: Arc::new(compiled),
                    create_ms: now,
                    update_ms: now,
                },
            );
            policy_view(iam, PolicyType::Custom, &r.policy_name, false)
                .ok_or(Error::Internal("policy just made"))
        })
        .await
    }

    pub(crate) fn get_policy_impl(&self, r: &PolicyNameRequest) -> Result<PolicyInfo> {
        if r.policy_type == PolicyType::System {
            let view = self.with_iam(|iam| {
                Ok(match iam {
                    Some(i) => policy_view(i, PolicyType::System, &r.policy_name, true),
                    None => None,
                })
            })?;
            if let Some(v) = view {
                return Ok(v);
            }
            let tmp = self.new_iam()?;
            return policy_view(&tmp, PolicyType::System, &r.policy_name, true)
                .ok_or_else(|| no_policy(&r.policy_name));
        }
        self.with_iam(|iam| {
            iam.and_then(|i| policy_view(i, PolicyType::Custom, &r.policy_name, true))
                .ok_or_else(|| no_policy(&r.policy_name))
        })
    }

    pub(crate) fn list_policies_impl(
        &self,
        r: &ListPoliciesRequest,
    ) -> Result<ListPoliciesResponse> {
        let fresh;
        let st = self.state.lock();
        let iam = match st.iam.as_deref() {
            Some(i) => i,
            None => {
                fresh = self.new_iam()?;
                &fresh
            }
        };
        let mut out = Vec::new();
        if r.policy_type != Some(PolicyType::Custom) {
            for (n, _, _) in access::SYSTEM_POLICIES {
                out.extend(policy_view(iam, PolicyType::System, n, false));
            }
        }
        if r.policy_type != Some(PolicyType::System) {
            for n in iam.policies.keys() {
                out.extend(policy_view(iam, PolicyType::Custom, n, false));
            }
        }
        Ok(ListPoliciesResponse { policies: out })
    }

    pub(crate) async fn delete_policy_impl(&self, r: PolicyNameRequest) -> Result<()> {
        if r.policy_type == PolicyType::System {
            return Err(Error::param(
                "PolicyType",
                "System policies cannot be deleted",
            ));
        }
        self.mutate(|tx| {
            let iam = tx.iam_mut(|| self.new_iam())?;
            if !iam.policies.contains_key(&r.policy_name) {
                return Err(no_policy(&r.policy_name));
            }
            let t = PolicyType::Custom;
            if iam
                .users
                .values()
                .any(|u| u.policies.contains(&(t, r.policy_name.clone())))
            {
                return Err(Error::DeleteConflict {
                    what: "Policy.User",
                    name: r.policy_name.clone(),
                });
            }
            if iam
                .roles
                .values()
                .any(|u| u.policies.contains(&(t, r.policy_name.clone())))
            {
                return Err(Error::DeleteConflict {
                    what: "Policy.Role",
                    name: r.policy_name.clone(),
                });
            }
            iam.policies.remove(&r.policy_name);
            Ok(())
        })
        .await
    }

    pub(crate) async fn attach_policy_impl(
        &self,
        r: AttachPolicyRequest,
        to_role: bool,
        attach: bool,
    ) -> Result<()> {
        self.mutate(|tx| {
            let iam = tx.iam_mut(|| self.new_iam())?;
            if iam.attached(r.policy_type, &r.policy_name).is_none() {
                return Err(no_policy(&r.policy_name));
            }
            let list = if to_role {
                &mut iam
                    .roles
                    .get_mut(&r.principal_name)
                    .ok_or_else(|| no_role(&r.principal_name))?
                    .policies
            } else {
                &mut iam
                    .users
                    .get_mut(&r.principal_name)
                    .ok_or_else(|| no_user(&r.principal_name))?
                    .policies
            };
            let entry = (r.policy_type, r.policy_name.clone());
            let pos = list.iter().position(|p| *p == entry);
            match (attach, pos) {
                (true, Some(_)) => Err(Error::EntityExists {
                    kind: "Attachment",
                    name: r.policy_name.clone(),
                }),
                (true, None) => {
                    if list.len() >= MAX_ATTACHED {
                        return Err(Error::LimitExceeded(String::from(
                            "at most 10 policies per user or role",
                        )));
                    }
                    list.push(entry);
                    Ok(())
                }
                (false, Some(i)) => {
                    list.remove(i);
                    Ok(())
                }
                (false, None) => Err(Error::EntityNotFound {
                    kind: "Attachment",
                    name: r.policy_name.clone(),
                }),
            }
        })
        .await
    }

    pub(crate) fn list_policies_for_impl(
        &self,
        name: &str,
        role: bool,
    ) -> Result<ListPoliciesResponse> {
        self.with_iam(|iam| {
            let i = iam.ok_or_else(|| if role { no_role(name) } else { no_user(name) })?;
            let list = if role {
                &i.roles.get(name).ok_or_else(|| no_role(name))?.policies
            } else {
                &i.users.get(name).ok_or_else(|| no_user(name))?.policies
            };
            Ok(ListPoliciesResponse {
                policies: list
                    .iter()
                    .filter_map(|(t, n)| policy_view(i, *t, n, false))
                    .collect(),
            })
        })
    }

    /// AssumeRole: the trust policy must name the caller (or its account), and an
    /// identity of the owning account other than the owner needs `sts:AssumeRole`
    /// on the role from its own policies (checked by the dispatch as usual).
    pub(crate) fn assume_role_impl(
        &self,
        caller: &Caller,
        r: &AssumeRoleRequest,
    ) -> Result<TemporaryCredentials> {
        let role_name = role_of_arn(&r.role_arn)?;
        check_name("RoleSessionName", &r.role_session_name, 64, ".@-_")?;
        if r.role_session_name.len() < 2 {
            return Err(Error::param("RoleSessionName", "2 to 64 characters"));
        }
        let now = self.env.now();
        let id_random: [u8; 18] = self.env.random()?;
        let st = self.state.lock();
        let iam = st.iam.as_deref().ok_or_else(|| no_role(role_name))?;
        let role = iam.roles.get(role_name).ok_or_else(|| no_role(role_name))?;
        let secs = r.duration_seconds.unwrap_or(3600);
        if secs < *SESSION_SECS.start() || secs > role.max_session_secs {
            return Err(Error::param(
                "DurationSeconds",
                alloc::format!(
                    "900 to the role's MaxSessionDuration ({})",
                    role.max_session_secs
                ),
            ));
        }
        // Who is asking, as the trust policy sees them.
        let (arn, role_of_caller) = match access::parse_principal(&caller.principal) {
            Some((acct, access::Principal::Root)) => {
                (access::root_arn(acct.unwrap_or(&iam.account_id)), None)
            }
            Some((_, access::Principal::User(u))) => {
                let acct = iam
                    .users
                    .get(u)
                    .map_or(iam.account_id.as_str(), |x| x.account_id.as_str());
                (access::user_arn(acct, u), None)
            }
            Some((_, access::Principal::RoleSession { role, session })) => (
                access::session_arn(&iam.account_id, role, session),
                Some(access::role_arn(&iam.account_id, role)),
            ),
            None => {
                return Err(Error::AccessDenied {
                    action: "AssumeRole",
                    resource: r.role_arn.clone(),
                });
            }
        };
        let account_of = |a: &str| -> String {
            a.strip_prefix("acs:ram::")
                .and_then(|x| x.split_once(':'))
                .map(|(acct, _)| String::from(acct))
                .unwrap_or_default()
        };
        let cx = access::policy::RequestContext {
            source_ip: caller.source_ip,
            now_ms: now,
            secure_transport: caller.secure_transport,
            ..Default::default()
        };
        let q = access::policy::Question {
            principal: access::policy::PrincipalView {
                arn: &arn,
                role_arn: role_of_caller.as_deref(),
            },
            action: "sts:AssumeRole",
            action_index: access::action_index(crate::api::Action::AssumeRole),
            resource: &access::role_arn(&iam.account_id, role_name),
            context: &cx,
        };
        let mut v = role.trust_compiled.evaluate(&q);
        if !v.allow && !v.deny {
            // `acs:ram::<account>:root` in a trust policy means every identity of that
            // account (whose own policies then decide, at the dispatch).
            let root = access::root_arn(&account_of(&arn));
            let q2 = access::policy::Question {
                principal: access::policy::PrincipalView {
                    arn: &root,
                    role_arn: None,
                },
                ..q.clone()
            };
            v = role.trust_compiled.evaluate(&q2);
        }
        if v.deny || !v.allow {
            return Err(Error::AccessDenied {
                action: "AssumeRole",
                resource: r.role_arn.clone(),
            });
        }
        let expires = now.saturating_add(u64::from(secs) * 1000);
        Ok(access::mint_session(
            iam,
            role,
            &r.role_session_name,
            expires,
            id_random,
        ))
    }

    pub(crate) async fn set_key_policy_impl(&self, r: KeyPolicyRequest) -> Result<()> {
        check_policy_name_param(&r.policy_name)?;
        let doc = r
            .policy
            .clone()
            .ok_or_else(|| Error::param("Policy", "required"))?;
        let compiled = access::compile(&doc, PolicyKind::Resource)?;
        let id = r.key_id.clone();
        self.mutate(|tx| {
            if !tx.state().keys.contains_key(&id) {
                return Err(Error::KeyNotFound(id.clone()));
            }
            let iam = tx.iam_mut(|| self.new_iam())?;
            lockout_check(iam, &compiled, "key", &id)?;
            iam.key_policies.insert(
                id.clone(),
                ResourcePolicy {
                    document: doc.clone(),
                    compiled: Arc::new(compiled.clone()),
                },
            );
            Ok(())
        })
        .await
    }

    pub(crate) async fn get_key_policy_impl(&self, r: &KeyPolicyRequest) -> Result<PolicyText> {
        check_policy_name_param(&r.policy_name)?;
        let acct = self.account_id().await?;
        let st = self.state.lock();
        if !st.keys.contains_key(&r.key_id) {
            return Err(Error::KeyNotFound(r.key_id.clone()));
        }
        Ok(PolicyText {
            policy: st
                .iam
                .as_ref()
                .and_then(|i| i.key_policies.get(&r.key_id))
                .map_or_else(
                    || access::default_resource_policy(&acct),
                    |p| p.document.clone(),
                ),
        })
    }

    pub(crate) async fn set_secret_policy_impl(&self, r: SecretPolicyRequest) -> Result<()> {
        check_policy_name_param(&r.policy_name)?;
        let doc = r
            .policy
            .clone()
            .ok_or_else(|| Error::param("Policy", "required"))?;
        let compiled = access::compile(&doc, PolicyKind::Resource)?;
        let name = r.secret_name.clone();
        self.mutate(|tx| {
            if !tx.state().secrets.contains_key(&name) {
                return Err(Error::ResourceNotFound(alloc::format!("secret {name}")));
            }
            let iam = tx.iam_mut(|| self.new_iam())?;
            lockout_check(iam, &compiled, "secret", &name)?;
            iam.secret_policies.insert(
                name.clone(),
                ResourcePolicy {
                    document: doc.clone(),
                    compiled: Arc::new(compiled.clone()),
                },
            );
            Ok(())
        })
        .await
    }

    pub(crate) async fn get_secret_policy_impl(
        &self,
        r: &SecretPolicyRequest,
    ) -> Result<PolicyText> {
        check_policy_name_param(&r.policy_name)?;
        let acct = self.account_id().await?;
        let st = self.state.lock();
        if !st.secrets.contains_key(&r.secret_name) {
            return Err(Error::ResourceNotFound(alloc::format!(
                "secret {}",
                r.secret_name
            )));
        }
        Ok(PolicyText {
            policy: st
                .iam
                .as_ref()
                .and_then(|i| i.secret_policies.get(&r.secret_name))
                .map_or_else(
                    || access::default_resource_policy(&acct),
                    |p| p.document.clone(),
                ),
        })
    }

    pub(crate) fn simulate_policy_impl(
        &self,
        r: &SimulatePolicyRequest,
    ) -> Result<SimulatePolicyResponse> {
        let name = r
            .action_name
            .split_once(':')
            .map_or(r.action_name.as_str(), |(_, n)| n);
        let action: crate::api::Action = name.parse()?;
        let date = |s: &str, field: &'static str| -> Result<u64> {
            access::policy::parse_date(s)
                .and_then(|t| u64::try_from(t).ok())
                .map(|t| t * 1000)
                .ok_or_else(|| Error::param(field, "an ISO 8601 time"))
        };
        let now = match &r.current_time {
            Some(t) => date(t, "CurrentTime")?,
            None => self.env.now(),
        };
        let mut caller = Caller::new(r.principal_arn.clone());
        caller.source_ip = r.source_ip;
        caller.secure_transport = r.secure_transport.unwrap_or(true);
        caller.expires_ms = r
            .credential_expiration
            .as_deref()
            .map(|t| date(t, "CredentialExpiration"))
            .transpose()?;
        let st = self.state.lock();
        let mut resources = Vec::new();
        match r.resource.as_deref() {
            None | Some("*") => resources.push(crate::api::Resource::Instance),
            Some(x) if x.contains(":secret/") => resources.push(crate::api::Resource::Secret(
                String::from(crate::service::secrets::secret_name_of(x)),
            )),
            Some(x) if x.starts_with("acs:ram::") => {
                resources.push(crate::api::Resource::Role(String::from(role_of_arn(x)?)));
            }
            Some(x) => {
                let id = st.resolve_ref(x)?;
                if let Some(a) = crate::service::aliases::alias_named(x) {
                    resources.push(crate::api::Resource::Alias(a));
                }
                resources.push(crate::api::Resource::Key(String::from(id)));
            }
        }
        let ec = (!r.encryption_context.is_empty()).then(|| r.encryption_context.to_map());
        let facts = access::CallFacts {
            encryption_context: ec.as_ref(),
            key_attrs: [None; 4],
        };
        for res in &resources {
            if let Err(e) = access::authorize(&st, &caller, action, res, &facts, now) {
                return Ok(SimulatePolicyResponse {
                    decision: "Deny",
                    error_code: Some(e.code()),
                });
            }
        }
        Ok(SimulatePolicyResponse {
            decision: "Allow",
            error_code: None,
        })
    }

    pub(crate) async fn set_audit_level_impl(&self, r: SetAuditLevelRequest) -> Result<()> {
        self.mutate(|tx| {
            tx.iam_mut(|| self.new_iam())?.audit_level = Some(r.level);
            Ok(())
        })
        .await?;
        self.audit_level_changed();
        Ok(())
    }

    pub(crate) fn describe_audit_config_impl(&self) -> Result<AuditConfig> {
        self.with_iam(|iam| {
            let set = iam.and_then(|i| i.audit_level);
            Ok(AuditConfig {
                level: set.unwrap_or_else(|| self.default_audit_level()),
                level_set: set.is_some(),
                account_id: iam.map(|i| i.account_id.clone()),
            })
        })
    }

    /// Makes a [`Caller`] from an AccessKey pair (and, for temporary credentials, its
    /// SecurityToken): the principal it names. In-process faces use this for
    /// `open(…, {credentials})`; the gateway looks the secret up with
    /// [`Kms::credential`] to check a request's signature instead.
    ///
    /// # Errors
    /// `InvalidAccessKeyId.NotFound`, `InvalidSecurityToken.*`,
    /// `InvalidSecurityToken.Expired`, `Forbidden.NoPermission` (wrong secret).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// let caller = kms.authenticate("LTAI…", b"secret", None)?;
    /// # });
    /// ```
    pub fn authenticate(
        &self,
        access_key_id: &str,
        access_key_secret: &[u8],
        security_token: Option<&str>,
    ) -> Result<Caller> {
        self.local_only("a connected Kms acts as the credentials it was connected with")?;
        let c = self.credential(access_key_id, security_token)?;
        if !access::ct_eq(c.secret.expose(), access_key_secret) {
            return Err(Error::AccessDenied {
                action: "Authenticate",
                resource: String::from(access_key_id),
            });
        }
        let mut caller = Caller::new(c.principal);
        caller.access_key_id = Some(c.access_key_id);
        caller.expires_ms = c.expires_ms;
        Ok(caller)
    }

    /// The principal an AccessKeyId (and SecurityToken) names, with its secret: what a
    /// network face checks a request's signature with.
    ///
    /// # Errors
    /// As [`Kms::authenticate`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// let credential = kms.credential("LTAI…", None)?;
    /// # });
    /// ```
    pub fn credential(
        &self,
        access_key_id: &str,
        security_token: Option<&str>,
    ) -> Result<access::Credential> {
        let now = self.env.now();
        let st = self.state.lock();
        let iam = st
            .iam
            .as_deref()
            .ok_or_else(|| Error::InvalidAccessKeyId(access_key_id.to_string()))?;
        access::credential(iam, access_key_id, security_token, now)
    }
}

/// A resource policy must not deny the owning account the management of that policy.
fn lockout_check(iam: &Iam, p: &access::Policy, kind: &str, name: &str) -> Result<()> {
    let root = access::root_arn(&iam.account_id);
    let arn = alloc::format!(
        "acs:kms:{}:{}:{kind}/{name}",
        access::REGION,
        iam.account_id
    );
    let (set, get) = if kind == "key" {
        ("kms:SetKeyPolicy", "kms:GetKeyPolicy")
    } else {
        ("kms:SetSecretPolicy", "kms:GetSecretPolicy")
    };
    if p.may_deny(&root, set, &arn) || p.may_deny(&root, get, &arn) {
        return Err(Error::PolicyLockout(arn));
    }
    Ok(())
}
