//! `strongroom ram …`: principals, AccessKeys, roles, policies, key and secret
//! policies, as RAM's own actions (each subcommand is one wire call through the
//! dispatch, so it is authorised and audited like any other). Secrets it makes — an
//! AccessKeySecret, a role session's credentials — go to a new 0600 file, never to
//! the terminal.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};
use strongroom::api::Action;
use strongroom::{Error, Kms};

#[derive(Subcommand, Debug)]
pub(crate) enum RamCmd {
    /// CreateUser.
    CreateUser {
        /// UserName.
        name: String,
        /// DisplayName.
        #[arg(long)]
        display_name: Option<String>,
        /// Comments.
        #[arg(long)]
        comments: Option<String>,
        /// A user of another account (16 digits): for cross-account sharing.
        #[arg(long)]
        account_id: Option<String>,
    },
    /// GetUser.
    GetUser {
        /// UserName.
        name: String,
    },
    /// ListUsers.
    ListUsers,
    /// DeleteUser (its AccessKeys and policies must be gone first).
    DeleteUser {
        /// UserName.
        name: String,
    },
    /// CreateAccessKey: prints the AccessKeyId; the pair goes to --out (0600), once.
    CreateAccessKey {
        /// UserName.
        user: String,
        /// Where to write {"AccessKeyId", "AccessKeySecret"} (a new 0600 file).
        #[arg(long)]
        out: PathBuf,
    },
    /// CreateClientKey: a client key for the dedicated-instance API (what
    /// alibabacloud-dkms-gcs signs with). The RSA_2048 key pair is made here; the store
    /// keeps the public key; the private key goes to --out as Alibaba's client key file
    /// ({"KeyId", "PrivateKeyData": PKCS#12}, 0600) sealed under the password from
    /// STRONGROOM_CLIENT_KEY_PASSWORD (or a prompt, twice). Delete it with
    /// delete-access-key.
    CreateClientKey {
        /// UserName: the principal requests signed with it act as.
        user: String,
        /// Where to write the client key file (a new 0600 file).
        #[arg(long)]
        out: PathBuf,
        /// When it stops working, ISO 8601 (default: in one year).
        #[arg(long)]
        not_after: Option<String>,
    },
    /// ListAccessKeys (no secrets).
    ListAccessKeys {
        /// UserName.
        user: String,
    },
    /// UpdateAccessKey: Active or Inactive.
    UpdateAccessKey {
        /// UserName.
        user: String,
        /// AccessKeyId.
        id: String,
        /// Active or Inactive.
        #[arg(long)]
        status: String,
    },
    /// DeleteAccessKey.
    DeleteAccessKey {
        /// UserName.
        user: String,
        /// AccessKeyId.
        id: String,
    },
    /// CreateRole with its trust policy (who may assume it).
    CreateRole {
        /// RoleName.
        name: String,
        /// The trust policy: a file, `-` for stdin, or the JSON itself.
        #[arg(long)]
        trust_policy: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// MaxSessionDuration, seconds (3600-43200).
        #[arg(long)]
        max_session_duration: Option<u32>,
    },
    /// GetRole.
    GetRole {
        /// RoleName.
        name: String,
    },
    /// ListRoles.
    ListRoles,
    /// DeleteRole.
    DeleteRole {
        /// RoleName.
        name: String,
    },
    /// CreatePolicy (a RAM identity policy).
    CreatePolicy {
        /// PolicyName.
        name: String,
        /// The document: a file, `-` for stdin, or the JSON itself.
        #[arg(long)]
        document: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
    },
    /// GetPolicy (with its document).
    GetPolicy {
        /// PolicyName.
        name: String,
        /// A built-in (System) policy.
        #[arg(long)]
        system: bool,
    },
    /// ListPolicies.
    ListPolicies {
        /// System or Custom.
        #[arg(long = "type")]
        policy_type: Option<String>,
    },
    /// DeletePolicy (detach it first).
    DeletePolicy {
        /// PolicyName.
        name: String,
    },
    /// AttachPolicyToUser / AttachPolicyToRole.
    Attach(AttachArgs),
    /// DetachPolicyFromUser / DetachPolicyFromRole.
    Detach(AttachArgs),
    /// ListPoliciesForUser / ListPoliciesForRole.
    ListPoliciesFor(WhoArgs),
    /// AssumeRole: the session's credentials go to --out (0600).
    AssumeRole {
        /// RoleArn (acs:ram::<account>:role/<name>).
        role_arn: String,
        /// RoleSessionName.
        #[arg(long)]
        session: String,
        /// DurationSeconds (900 to the role's maximum; default 3600).
        #[arg(long)]
        duration: Option<u32>,
        /// Where to write the credentials JSON (a new 0600 file).
        #[arg(long)]
        out: PathBuf,
    },
    /// GetKeyPolicy / SetKeyPolicy (with --document).
    KeyPolicy {
        /// KeyId or alias.
        key: String,
        /// Set it to this document (a file, `-`, or the JSON itself).
        #[arg(long)]
        document: Option<String>,
    },
    /// GetSecretPolicy / SetSecretPolicy (with --document).
    SecretPolicy {
        /// SecretName.
        name: String,
        /// Set it to this document (a file, `-`, or the JSON itself).
        #[arg(long)]
        document: Option<String>,
    },
    /// SimulatePolicy: what the store's policies decide, without acting.
    Simulate {
        /// PrincipalArn (owner, acs:ram::<account>:user/<name>, …).
        #[arg(long)]
        principal: String,
        /// The action (Encrypt or kms:Encrypt).
        #[arg(long)]
        action: String,
        /// KeyId, alias, ARN, secret ARN or role ARN.
        #[arg(long)]
        resource: Option<String>,
        /// EncryptionContext JSON.
        #[arg(long)]
        context: Option<String>,
        /// acs:SourceIp.
        #[arg(long)]
        source_ip: Option<String>,
    },
    /// Prints a key policy that shares a key with another account (keeps the owner's
    /// rights); set it with `ram key-policy KEY --document -`.
    CrossAccountTemplate {
        /// The other account's 16-digit id.
        #[arg(long)]
        account_id: String,
    },
}

#[derive(Args, Debug)]
pub(crate) struct WhoArgs {
    /// A user.
    #[arg(long, conflicts_with = "role", required_unless_present = "role")]
    user: Option<String>,
    /// A role.
    #[arg(long)]
    role: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct AttachArgs {
    /// PolicyName.
    policy: String,
    /// A System (built-in) policy.
    #[arg(long)]
    system: bool,
    #[command(flatten)]
    who: WhoArgs,
}

/// A policy document argument: a file, `-` (stdin), or the JSON itself.
fn document(arg: &str) -> Result<String, Error> {
    if arg.trim_start().starts_with('{') {
        return Ok(arg.to_string());
    }
    if arg == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Error::Io(format!("cannot read stdin: {e}")))?;
        return Ok(s);
    }
    std::fs::read_to_string(arg).map_err(|e| Error::Io(format!("cannot read {arg}: {e}")))
}

fn write_secret_json(path: &Path, v: &Value) -> Result<(), Error> {
    let mut f = strongroom::storage::create_private(path)
        .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display())))?;
    f.write_all(
        serde_json::to_string_pretty(v)
            .unwrap_or_default()
            .as_bytes(),
    )
    .and_then(|()| f.write_all(b"\n"))
    .and_then(|()| f.sync_all())
    .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display())))
}

fn call(kms: &Kms, action: Action, params: Value) -> Result<Value, Error> {
    let Value::Object(m) = params else {
        return Err(Error::Internal("parameters"));
    };
    let caller = (*kms.default_caller()).clone();
    pollster::block_on(kms.call_wire(&caller, action, &m))
}

/// The value at a JSON pointer (null when absent).
fn at(v: &Value, pointer: &str) -> Value {
    v.pointer(pointer).cloned().unwrap_or(Value::Null)
}

fn opt(m: &mut Map<String, Value>, k: &str, v: Option<String>) {
    if let Some(v) = v {
        m.insert(k.into(), Value::String(v));
    }
}

pub(crate) fn run(kms: &Kms, cmd: RamCmd, json_mode: bool) -> Result<(), Error> {
    let out = match cmd {
        RamCmd::CreateUser {
            name,
            display_name,
            comments,
            account_id,
        } => {
            let mut m = Map::new();
            m.insert("UserName".into(), name.into());
            opt(&mut m, "DisplayName", display_name);
            opt(&mut m, "Comments", comments);
            opt(&mut m, "AccountId", account_id);
            call(kms, Action::CreateUser, Value::Object(m))?
        }
        RamCmd::GetUser { name } => call(kms, Action::GetUser, json!({"UserName": name}))?,
        RamCmd::ListUsers => call(kms, Action::ListUsers, json!({}))?,
        RamCmd::DeleteUser { name } => call(kms, Action::DeleteUser, json!({"UserName": name}))?,
        RamCmd::CreateAccessKey { user, out } => {
            let v = call(kms, Action::CreateAccessKey, json!({"UserName": user}))?;
            write_secret_json(
                &out,
                &json!({
                    "AccessKeyId": at(&v, "/AccessKey/AccessKeyId"),
                    "AccessKeySecret": at(&v, "/AccessKey/AccessKeySecret"),
                }),
            )?;
            json!({
                "AccessKeyId": at(&v, "/AccessKey/AccessKeyId"),
                "Status": at(&v, "/AccessKey/Status"),
                "CreateDate": at(&v, "/AccessKey/CreateDate"),
                "SecretWrittenTo": out.display().to_string(),
            })
        }
        RamCmd::CreateClientKey {
            user,
            out,
            not_after,
        } => {
            let password =
                crate::other_secret("STRONGROOM_CLIENT_KEY_PASSWORD", "client key password")?;
            // The file first (it must be new: it is removed again if anything fails,
            // and an existing file is never overwritten): a key registered with
            // nowhere to put its private half would be useless.
            if out.symlink_metadata().is_ok() {
                return Err(Error::InvalidParameter {
                    name: "Out",
                    reason: format!("{} exists: choose a new path", out.display()),
                });
            }
            let mut f = strongroom::storage::create_private(&out)
                .map_err(|e| Error::Io(format!("cannot write {}: {e}", out.display())))?;
            let made = (|| {
                let pending = strongroom_gateway::client_key::generate()?;
                let mut p = Map::new();
                p.insert("UserName".into(), json!(user));
                p.insert("PublicKey".into(), json!(pending.public_key_pem));
                opt(&mut p, "NotAfter", not_after.clone());
                let p = Value::Object(p);
                let v = call(kms, Action::CreateClientKey, p)?;
                let id = at(&v, "/KeyId").as_str().unwrap_or_default().to_string();
                let file = pending.into_file(&id, &password)?;
                f.write_all(file.as_bytes())
                    .and_then(|()| f.write_all(b"\n"))
                    .and_then(|()| f.sync_all())
                    .map_err(|e| Error::Io(format!("cannot write {}: {e}", out.display())))?;
                Ok::<_, Error>(v)
            })();
            match made {
                Ok(mut v) => {
                    if let Value::Object(o) = &mut v {
                        o.insert(
                            "ClientKeyWrittenTo".into(),
                            json!(out.display().to_string()),
                        );
                    }
                    v
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&out);
                    return Err(e);
                }
            }
        }
        RamCmd::ListAccessKeys { user } => {
            call(kms, Action::ListAccessKeys, json!({"UserName": user}))?
        }
        RamCmd::UpdateAccessKey { user, id, status } => call(
            kms,
            Action::UpdateAccessKey,
            json!({"UserName": user, "UserAccessKeyId": id, "Status": status}),
        )?,
        RamCmd::DeleteAccessKey { user, id } => call(
            kms,
            Action::DeleteAccessKey,
            json!({"UserName": user, "UserAccessKeyId": id}),
        )?,
        RamCmd::CreateRole {
            name,
            trust_policy,
            description,
            max_session_duration,
        } => {
            let mut m = Map::new();
            m.insert("RoleName".into(), name.into());
            m.insert(
                "AssumeRolePolicyDocument".into(),
                document(&trust_policy)?.into(),
            );
            opt(&mut m, "Description", description);
            opt(
                &mut m,
                "MaxSessionDuration",
                max_session_duration.map(|d| d.to_string()),
            );
            call(kms, Action::CreateRole, Value::Object(m))?
        }
        RamCmd::GetRole { name } => call(kms, Action::GetRole, json!({"RoleName": name}))?,
        RamCmd::ListRoles => call(kms, Action::ListRoles, json!({}))?,
        RamCmd::DeleteRole { name } => call(kms, Action::DeleteRole, json!({"RoleName": name}))?,
        RamCmd::CreatePolicy {
            name,
            document: doc,
            description,
        } => {
            let mut m = Map::new();
            m.insert("PolicyName".into(), name.into());
            m.insert("PolicyDocument".into(), document(&doc)?.into());
            opt(&mut m, "Description", description);
            call(kms, Action::CreatePolicy, Value::Object(m))?
        }
        RamCmd::GetPolicy { name, system } => call(
            kms,
            Action::GetPolicy,
            json!({"PolicyName": name, "PolicyType": if system { "System" } else { "Custom" }}),
        )?,
        RamCmd::ListPolicies { policy_type } => {
            let mut m = Map::new();
            opt(&mut m, "PolicyType", policy_type);
            call(kms, Action::ListPolicies, Value::Object(m))?
        }
        RamCmd::DeletePolicy { name } => {
            call(kms, Action::DeletePolicy, json!({"PolicyName": name}))?
        }
        RamCmd::Attach(a) => attach(kms, a, true)?,
        RamCmd::Detach(a) => attach(kms, a, false)?,
        RamCmd::ListPoliciesFor(w) => match (w.user, w.role) {
            (Some(u), _) => call(kms, Action::ListPoliciesForUser, json!({"UserName": u}))?,
            (None, Some(r)) => call(kms, Action::ListPoliciesForRole, json!({"RoleName": r}))?,
            _ => {
                return Err(Error::InvalidParameter {
                    name: "Request",
                    reason: "give --user or --role".into(),
                });
            }
        },
        RamCmd::AssumeRole {
            role_arn,
            session,
            duration,
            out,
        } => {
            let mut m = Map::new();
            m.insert("RoleArn".into(), role_arn.into());
            m.insert("RoleSessionName".into(), session.into());
            opt(&mut m, "DurationSeconds", duration.map(|d| d.to_string()));
            let v = call(kms, Action::AssumeRole, Value::Object(m))?;
            write_secret_json(&out, &at(&v, "/Credentials"))?;
            json!({
                "AccessKeyId": at(&v, "/Credentials/AccessKeyId"),
                "Expiration": at(&v, "/Credentials/Expiration"),
                "AssumedRoleUser": at(&v, "/AssumedRoleUser"),
                "CredentialsWrittenTo": out.display().to_string(),
            })
        }
        RamCmd::KeyPolicy { key, document: doc } => match doc {
            Some(d) => call(
                kms,
                Action::SetKeyPolicy,
                json!({"KeyId": key, "PolicyName": "default", "Policy": document(&d)?}),
            )?,
            None => call(
                kms,
                Action::GetKeyPolicy,
                json!({"KeyId": key, "PolicyName": "default"}),
            )?,
        },
        RamCmd::SecretPolicy {
            name,
            document: doc,
        } => match doc {
            Some(d) => call(
                kms,
                Action::SetSecretPolicy,
                json!({"SecretName": name, "PolicyName": "default", "Policy": document(&d)?}),
            )?,
            None => call(
                kms,
                Action::GetSecretPolicy,
                json!({"SecretName": name, "PolicyName": "default"}),
            )?,
        },
        RamCmd::Simulate {
            principal,
            action,
            resource,
            context,
            source_ip,
        } => {
            let mut m = Map::new();
            m.insert("PrincipalArn".into(), principal.into());
            m.insert("ActionName".into(), action.into());
            opt(&mut m, "ResourceArn", resource);
            opt(&mut m, "EncryptionContext", context);
            opt(&mut m, "SourceIp", source_ip);
            call(kms, Action::SimulatePolicy, Value::Object(m))?
        }
        RamCmd::CrossAccountTemplate { account_id } => {
            let owner = pollster::block_on(kms.account_id())?;
            let doc = strongroom::access::cross_account_key_user_policy(&owner, &account_id);
            println!("{doc}");
            return Ok(());
        }
    };
    crate::print(json_mode, &out);
    Ok(())
}

fn attach(kms: &Kms, a: AttachArgs, on: bool) -> Result<Value, Error> {
    let t = if a.system { "System" } else { "Custom" };
    match (a.who.user, a.who.role) {
        (Some(u), _) => call(
            kms,
            if on {
                Action::AttachPolicyToUser
            } else {
                Action::DetachPolicyFromUser
            },
            json!({"PolicyType": t, "PolicyName": a.policy, "UserName": u}),
        ),
        (None, Some(r)) => call(
            kms,
            if on {
                Action::AttachPolicyToRole
            } else {
                Action::DetachPolicyFromRole
            },
            json!({"PolicyType": t, "PolicyName": a.policy, "RoleName": r}),
        ),
        _ => Err(Error::InvalidParameter {
            name: "Request",
            reason: "give --user or --role".into(),
        }),
    }
}
