//! `Kms::call`: the one dispatch. Resolution of each target, authorisation, and the
//! record of every call happen here, never in a face.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::{Action, CallHook, CallRecord, Caller, OpenedEnvelopeKey, Request, Resource, Response};
use crate::error::{Error, Result};
use crate::kms::Kms;
use crate::state::State;

/// One call in progress: who, what, and the resources resolved so far.
pub(crate) struct Cx<'a> {
    pub(crate) caller: &'a Caller,
    pub(crate) action: Action,
    hook: Option<&'a dyn CallHook>,
    /// Whether policies are evaluated (the store has principals, or the caller is not
    /// the owner).
    enforce: bool,
    /// Whether resolved resources are kept (for the hook or the audit trail).
    track: bool,
    now_ms: u64,
    resources: spin::Mutex<Vec<Resource>>,
    /// What conditions may ask about the request (set before its resources are admitted).
    facts: spin::Mutex<Facts>,
    /// A resource was refused (the call ends Forbidden).
    pub(crate) denied: core::sync::atomic::AtomicBool,
}

/// The request's EncryptionContext and CreateKey's attributes, for conditions.
#[derive(Default)]
pub(crate) struct Facts {
    pub(crate) encryption_context: Option<alloc::collections::BTreeMap<String, String>>,
    pub(crate) key_attrs: [Option<&'static str>; 4],
}

impl Cx<'_> {
    /// Authorises `resource` for this call (and remembers it for the record): the
    /// store's policies first, then the hook. `st` is the state, locked by the caller.
    pub(crate) fn allow(&self, st: &State, resource: Resource) -> Result<()> {
        self.allow_as(st, self.action, resource)
    }

    /// As [`Cx::allow`], for another action on the resource (a signed envelope's
    /// signing key is authorised as AsymmetricSign).
    pub(crate) fn allow_as(&self, st: &State, action: Action, resource: Resource) -> Result<()> {
        if !self.enforce && !self.track {
            return Ok(());
        }
        let mut verdict = Ok(());
        if self.enforce {
            let f = self.facts.lock();
            let facts = crate::access::CallFacts {
                encryption_context: f.encryption_context.as_ref(),
                key_attrs: f.key_attrs,
            };
            verdict =
                crate::access::authorize(st, self.caller, action, &resource, &facts, self.now_ms);
        }
        if verdict.is_ok()
            && let Some(hook) = self.hook
        {
            verdict = hook.authorize(self.caller, action, &resource);
        }
        if verdict.is_err() {
            self.denied
                .store(true, core::sync::atomic::Ordering::Relaxed);
        }
        self.resources.lock().push(resource);
        verdict
    }

    /// Sets the EncryptionContext conditions see (an envelope header's, once parsed).
    pub(crate) fn set_context(&self, ec: &crate::EncryptionContext) {
        if self.enforce {
            self.facts.lock().encryption_context = Some(ec.to_map());
        }
    }

    /// Resolves a KeyId parameter (KeyId, alias, key ARN or alias ARN) in `st` — the
    /// state, locked by the caller — and authorises the key. Returns the KeyId.
    pub(crate) fn admit_key(&self, st: &State, input: &str) -> Result<String> {
        self.admit_key_ref(st, input).map(String::from)
    }

    /// As [`Cx::admit_key`], borrowing the KeyId from the state.
    pub(crate) fn admit_key_ref<'s>(&self, st: &'s State, input: &str) -> Result<&'s str> {
        let id = st.resolve_ref(input)?;
        if self.track || self.enforce {
            if let Some(alias) = crate::service::aliases::alias_named(input) {
                self.allow(st, Resource::Alias(alias))?;
            }
            self.allow(st, Resource::Key(String::from(id)))?;
        }
        Ok(id)
    }
}

/// The KeyId a blob names (what Decrypt resolves), or `InvalidCiphertext`.
fn blob_key(blob: &[u8]) -> Result<String> {
    Ok(crate::blob::parse(blob)?.key_id)
}

impl Kms {
    /// Installs (or, with `None`, removes) the hook that authorises every resolved
    /// resource and records every call (see [`CallHook`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.set_call_hook(None); // or Some(Arc::new(hook)): every (caller, action, resource, outcome)
    /// # });
    /// ```
    pub fn set_call_hook(&self, hook: Option<Arc<dyn CallHook>>) {
        *self.call_hook.lock() = hook;
    }

    /// A fresh request id for faces that answer with a RequestId: a random UUID, or —
    /// if the random source fails — `strongroom-<n>` from this instance's call counter,
    /// so that every answer and every hook record still carries a distinct id.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let id = kms.new_request_id();
    /// # });
    /// ```
    #[must_use]
    pub fn new_request_id(&self) -> String {
        crate::ids::uuid_v4(&self.env).unwrap_or_else(|_| {
            let n = self
                .request_seq
                .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            alloc::format!("strongroom-{n:016x}")
        })
    }

    /// Carries out one action for `caller`: resolves and authorises its target under
    /// the state lock, runs it, and tells the hook the outcome. Every face reaches every
    /// action through here.
    ///
    /// # Errors
    /// The action's own errors (see each method of [`Kms`]); `Forbidden.NoPermission`
    /// when the hook refuses a resource.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let answer = kms.call(&Caller::owner(), Request::ListKeys(ListKeysRequest::default())).await?;
    /// # });
    /// ```
    pub async fn call(&self, caller: &Caller, request: Request) -> Result<Response> {
        #[cfg(feature = "wire")]
        if let Some(c) = &self.remote {
            // Authorisation and audit happen in the gateway; a hook here is told each
            // call's outcome as the client saw it (no resources: the gateway resolved
            // them). Boxed: the connected path's future stays out of every embedded
            // call's.
            let action = request.action();
            let out = Box::pin(self.call_remote(c, request)).await;
            if let Some(h) = self.call_hook.lock().clone() {
                let request_id = match &out {
                    Err(Error::Remote(r)) => r.request_id.clone().unwrap_or_default(),
                    _ => String::new(),
                };
                h.record(&CallRecord {
                    caller,
                    request_id: &request_id,
                    action,
                    resources: &[],
                    outcome: out.as_ref().map(|_| ()),
                });
            }
            return out;
        }
        let hook = self.call_hook.lock().clone();
        let trail = self.audit.lock().clone();
        let action = request.action();
        let level = self.current_audit_level();
        let now_ms = self.env.now();
        let enforce = !caller.is_owner() || self.state.lock().iam.is_some();
        let cx = Cx {
            caller,
            action,
            hook: hook.as_deref(),
            enforce,
            track: hook.is_some() || trail.is_some(),
            now_ms,
            resources: spin::Mutex::new(Vec::new()),
            facts: spin::Mutex::new(Facts::default()),
            denied: core::sync::atomic::AtomicBool::new(false),
        };
        // The audit trail refuses new events while earlier ones cannot be written.
        if let Some(t) = &trail
            && level != crate::access::AuditLevel::Off
        {
            t.check()?;
        }
        // Parameters are kept for the event only when it will surely be written.
        let params = match &trail {
            Some(_) if crate::audit::recorded(level, action, false) => request.audit_params(),
            _ => Vec::new(),
        };
        let out = self.dispatch(&cx, request).await;
        let denied = cx.denied.load(core::sync::atomic::Ordering::Relaxed)
            || matches!(out, Err(Error::AccessDenied { .. }));
        let needs_id =
            hook.is_some() || (trail.is_some() && crate::audit::recorded(level, action, denied));
        if !needs_id {
            return out;
        }
        // A hook is told a request id now; an audit event without one gets it drawn
        // when it is written (off the call's path).
        let drawn = (hook.is_some() && caller.request_id.is_none()).then(|| self.new_request_id());
        let request_id: Option<&str> = caller.request_id.as_deref().or(drawn.as_deref());
        let mut resources = core::mem::take(&mut *cx.resources.lock());
        if let Ok(Response::CreateKey(m)) = &out {
            resources.push(Resource::Key(m.key_id.clone()));
        }
        if let Some(h) = &hook {
            h.record(&CallRecord {
                caller,
                request_id: request_id.unwrap_or_default(),
                action,
                resources: &resources,
                outcome: out.as_ref().map(|_| ()),
            });
        }
        if let Some(t) = trail.filter(|_| crate::audit::recorded(level, action, denied)) {
            let event = crate::audit::PendingEvent {
                time_ms: now_ms,
                request_id: request_id.map(String::from),
                caller: self.caller_arc(caller),
                account_id: self.state.lock().iam.as_ref().map(|i| i.account_id.clone()),
                action,
                resources,
                params,
                error: out.as_ref().err().map(|e| (e.code(), e.to_string())),
            };
            let durable = crate::audit::is_management(action);
            // A digest is due but the trail has no key yet: make it (one store write).
            if t.digest_blocked(now_ms) && out.is_ok() {
                Box::pin(self.give_audit_key(&t)).await?;
            }
            // A call that failed reports its own error; one that succeeded but whose
            // event cannot be made durable reports that (the trail keeps the event
            // and refuses further calls once too many wait).
            let recorded = t.record(event, durable, now_ms);
            if out.is_ok() {
                recorded?;
            }
        }
        out
    }

    /// Resolves the request's targets under the state lock, authorises each, and
    /// rewrites every KeyId parameter to the KeyId it resolved to.
    fn admit(&self, cx: &Cx<'_>, req: &mut Request) -> Result<()> {
        let st = self.state.lock();
        if cx.enforce {
            let mut f = cx.facts.lock();
            f.encryption_context = req
                .encryption_context()
                .map(crate::EncryptionContext::to_map);
            if let Request::CreateKey(r) = &*req {
                f.key_attrs = [
                    Some(r.key_spec.map_or("Aliyun_AES_256", |v| v.as_str())),
                    Some(r.key_usage.map_or("ENCRYPT/DECRYPT", |v| v.as_str())),
                    Some(r.origin.map_or("Aliyun_KMS", |v| v.as_str())),
                    Some(r.protection_level.map_or("SOFTWARE", |v| v.as_str())),
                ];
            }
        }
        // Rewritten only when it named the key another way (an alias or an ARN).
        let key = |input: &mut String| -> Result<()> {
            let id = cx.admit_key_ref(&st, input)?;
            if id != input.as_str() {
                *input = String::from(id);
            }
            Ok(())
        };
        match req {
            Request::CreateKey(_)
            | Request::ListKeys(_)
            | Request::ListSecrets(_)
            | Request::ListAliases(_)
            | Request::GetRandomPassword(_)
            | Request::GenerateRandom(_)
            | Request::Hash(_)
            | Request::DescribeService(_)
            | Request::ExportImage(_)
            | Request::CreateBackup(_)
            | Request::ChangePassphrase(_)
            | Request::RekeyStore(_)
            | Request::CompactStore(_)
            | Request::VerifyStore(_) => cx.allow(&st, Resource::Instance),
            Request::DescribeKey(r) => key(&mut r.key_id),
            Request::UpdateKeyDescription(r) => key(&mut r.key_id),
            Request::EnableKey(r) => key(&mut r.key_id),
            Request::DisableKey(r) => key(&mut r.key_id),
            Request::ScheduleKeyDeletion(r) => key(&mut r.key_id),
            Request::CancelKeyDeletion(r) => key(&mut r.key_id),
            Request::SetDeletionProtection(r) => {
                if r.protected_resource_arn.trim().is_empty() {
                    return Err(Error::param("ProtectedResourceArn", "required"));
                }
                key(&mut r.protected_resource_arn)
            }
            Request::CreateKeyVersion(r) => key(&mut r.key_id),
            Request::DescribeKeyVersion(r) => key(&mut r.key_id),
            Request::ListKeyVersions(r) => key(&mut r.key_id),
            Request::UpdateRotationPolicy(r) => key(&mut r.key_id),
            Request::CreateAlias(r) | Request::UpdateAlias(r) => {
                crate::service::aliases::check_alias_name(&r.alias_name)?;
                if r.key_id.trim().starts_with("alias/") || r.key_id.contains(":alias/") {
                    // An alias of an alias names the key the second alias names now.
                    key(&mut r.key_id)?;
                } else {
                    key(&mut r.key_id)?;
                }
                cx.allow(&st, Resource::Alias(r.alias_name.clone()))
            }
            Request::DeleteAlias(r) => {
                cx.allow(&st, Resource::Alias(r.alias_name.clone()))?;
                match st.aliases.get(&r.alias_name) {
                    Some(id) => cx.allow(&st, Resource::Key(id.clone())),
                    None => Err(Error::AliasNotFound(r.alias_name.clone())),
                }
            }
            Request::ListAliasesByKeyId(r) => key(&mut r.key_id),
            Request::TagResource(r) => key(&mut r.key_id),
            Request::UntagResource(r) => key(&mut r.key_id),
            Request::ListResourceTags(r) => key(&mut r.key_id),
            Request::GetParametersForImport(r) => key(&mut r.key_id),
            Request::ImportKeyMaterial(r) => key(&mut r.key_id),
            Request::DeleteKeyMaterial(r) => key(&mut r.key_id),
            Request::Encrypt(r) => key(&mut r.key_id),
            Request::Decrypt(r) => cx
                .admit_key_ref(&st, &blob_key(&r.ciphertext_blob)?)
                .map(|_| ()),
            Request::ReEncrypt(r) => {
                cx.admit_key(&st, &blob_key(&r.ciphertext_blob)?)?;
                key(&mut r.destination_key_id)
            }
            Request::GenerateDataKey(r) | Request::GenerateDataKeyWithoutPlaintext(r) => {
                key(&mut r.key_id)
            }
            Request::GenerateDataKeyPair(r) | Request::GenerateDataKeyPairWithoutPlaintext(r) => {
                key(&mut r.key_id)
            }
            Request::ExportDataKey(r) => cx
                .admit_key(&st, &blob_key(&r.ciphertext_blob)?)
                .map(|_| ()),
            Request::GenerateAndExportDataKey(r) => key(&mut r.data_key.key_id),
            Request::GetPublicKey(r) => key(&mut r.key_id),
            Request::AsymmetricSign(r) => key(&mut r.key_id),
            Request::AsymmetricSignMessage(r) => key(&mut r.key_id),
            Request::AsymmetricVerify(r) => key(&mut r.key_id),
            Request::AsymmetricEncrypt(r) => key(&mut r.key_id),
            Request::AsymmetricDecrypt(r) => key(&mut r.key_id),
            Request::EncryptEnvelope(r) => {
                admit_recipients(&st, cx, &mut r.key_ids)?;
                admit_signer(&st, cx, &mut r.signing_key_id)
            }
            Request::BeginEnvelope(r) => {
                admit_recipients(&st, cx, &mut r.key_ids)?;
                admit_signer(&st, cx, &mut r.signing_key_id)
            }
            Request::CreateSecret(r) => {
                if let Some(k) = &mut r.encryption_key_id {
                    key(k)?;
                }
                cx.allow(&st, Resource::Secret(r.secret_name.clone()))
            }
            Request::GetSecretValue(r) => secret(&st, cx, &mut r.secret_name),
            Request::PutSecretValue(r) => secret(&st, cx, &mut r.secret_name),
            Request::UpdateSecretVersionStage(r) => secret(&st, cx, &mut r.secret_name),
            Request::ListSecretVersionIds(r) => secret(&st, cx, &mut r.secret_name),
            Request::DescribeSecret(r) => secret(&st, cx, &mut r.secret_name),
            Request::UpdateSecret(r) => secret(&st, cx, &mut r.secret_name),
            Request::DeleteSecret(r) => secret(&st, cx, &mut r.secret_name),
            Request::RestoreSecret(r) => secret(&st, cx, &mut r.secret_name),
            Request::RotateSecret(r) => secret(&st, cx, &mut r.secret_name),
            Request::UpdateSecretRotationPolicy(r) => secret(&st, cx, &mut r.secret_name),
            Request::TagSecret(r) => secret(&st, cx, &mut r.secret_name),
            Request::UntagSecret(r) => secret(&st, cx, &mut r.secret_name),
            Request::ListSecretTags(r) => secret(&st, cx, &mut r.secret_name),
            Request::ListUsers(_)
            | Request::ListRoles(_)
            | Request::ListPolicies(_)
            | Request::SetAuditLevel(_)
            | Request::SimulatePolicy(_)
            | Request::DescribeAuditConfig(_) => cx.allow(&st, Resource::Instance),
            Request::CreateUser(r) => cx.allow(&st, Resource::User(r.user_name.clone())),
            Request::GetUser(r)
            | Request::DeleteUser(r)
            | Request::CreateAccessKey(r)
            | Request::ListAccessKeys(r)
            | Request::ListPoliciesForUser(r) => cx.allow(&st, Resource::User(r.user_name.clone())),
            Request::UpdateAccessKey(r) | Request::DeleteAccessKey(r) => {
                cx.allow(&st, Resource::User(r.user_name.clone()))
            }
            Request::CreateClientKey(r) => cx.allow(&st, Resource::User(r.user_name.clone())),
            Request::CreateRole(r) => cx.allow(&st, Resource::Role(r.role_name.clone())),
            Request::GetRole(r) | Request::DeleteRole(r) | Request::ListPoliciesForRole(r) => {
                cx.allow(&st, Resource::Role(r.role_name.clone()))
            }
            Request::CreatePolicy(r) => cx.allow(&st, Resource::Policy(r.policy_name.clone())),
            Request::GetPolicy(r) | Request::DeletePolicy(r) => {
                cx.allow(&st, Resource::Policy(r.policy_name.clone()))
            }
            Request::AttachPolicyToUser(r) | Request::DetachPolicyFromUser(r) => {
                cx.allow(&st, Resource::Policy(r.policy_name.clone()))?;
                cx.allow(&st, Resource::User(r.principal_name.clone()))
            }
            Request::AttachPolicyToRole(r) | Request::DetachPolicyFromRole(r) => {
                cx.allow(&st, Resource::Policy(r.policy_name.clone()))?;
                cx.allow(&st, Resource::Role(r.principal_name.clone()))
            }
            Request::AssumeRole(r) => {
                let role = crate::service::ram::role_of_arn(&r.role_arn)?;
                cx.allow(&st, Resource::Role(String::from(role)))
            }
            Request::SetKeyPolicy(r) | Request::GetKeyPolicy(r) => key(&mut r.key_id),
            Request::SetSecretPolicy(r) | Request::GetSecretPolicy(r) => {
                secret(&st, cx, &mut r.secret_name)
            }
            // Each stanza's key is admitted where the stanzas are tried
            // (`Kms::open_envelope_key_in`): a key the caller may not use is skipped.
            Request::DecryptEnvelope(_) | Request::OpenEnvelope(_) => Ok(()),
            // The stanzas' keys as for DecryptEnvelope (and, re-wrapping under the same
            // keys, where each is wrapped under again); named destinations here.
            Request::ReEncryptEnvelope(r) => admit_recipients(&st, cx, &mut r.destination_key_ids),
        }
    }

    async fn dispatch(&self, cx: &Cx<'_>, req: Request) -> Result<Response> {
        // After a failed flush nothing this instance holds is known to be durable: it
        // refuses every action, reads and crypto included, until the store is reopened.
        self.check_poisoned()?;
        let rollbacks = self.rollback_count();
        let out = self.dispatch_inner(cx, req).await?;
        // Nothing is answered from state that is not yet durable: a call that saw a
        // mutation still waiting for its flush waits for it (and fails with it).
        if let Some(seen) = self.pending_durability() {
            // Boxed: the rare path's future stays out of every call's future.
            Box::pin(self.await_durable(seen, rollbacks)).await?;
        }
        Ok(out)
    }

    async fn dispatch_inner(&self, cx: &Cx<'_>, mut req: Request) -> Result<Response> {
        if !matches!(
            req,
            Request::GetRandomPassword(_)
                | Request::GenerateRandom(_)
                | Request::Hash(_)
                | Request::DescribeService(_)
        ) {
            self.sweep().await?;
        }
        validate(&req)?;
        self.admit(cx, &mut req)?;
        // The small hot paths run in place (no allocation for their future, which stays
        // small); every other action's service code, the envelope's too, is its own
        // boxed future (`exec`), so this future is not as large as the largest action's.
        Ok(match req {
            Request::Encrypt(r) => Response::Encrypt(self.encrypt_impl(r).await?),
            Request::Decrypt(r) => Response::Decrypt(self.decrypt_impl(r).await?),
            Request::GenerateDataKey(r) => {
                Response::GenerateDataKey(self.generate_data_key_impl(r).await?)
            }
            other => self.exec(cx, other).await?,
        })
    }

    /// The service code of one action, as its own boxed future: each action's state
    /// machine is compiled on its own instead of all of them into one (which tripled
    /// the size of the dispatch in the wasm build).
    fn exec<'a>(
        &'a self,
        cx: &'a Cx<'a>,
        req: Request,
    ) -> crate::backend::BoxFuture<'a, Result<Response>> {
        macro_rules! arm {
            ($($body:tt)*) => {
                Box::pin(async move { Ok::<Response, Error>({ $($body)* }) })
            };
        }
        match req {
            Request::CreateKey(r) => arm!(Response::CreateKey(Box::new(
                self.create_key_impl(r).await?
            ))),
            Request::DescribeKey(r) => arm!(Response::DescribeKey(Box::new(
                self.describe_key_impl(&r.key_id).await?
            ))),
            Request::ListKeys(r) => arm!(Response::ListKeys(self.list_keys_impl(r).await?)),
            Request::UpdateKeyDescription(r) => arm!(Response::UpdateKeyDescription(Box::new(
                self.update_key_description_impl(&r.key_id, &r.description)
                    .await?,
            ))),
            Request::EnableKey(r) => {
                arm!(Response::EnableKey(Box::new(
                    self.enable_key_impl(&r.key_id).await?
                )))
            }
            Request::DisableKey(r) => arm!(Response::DisableKey(Box::new(
                self.disable_key_impl(&r.key_id).await?
            ))),
            Request::ScheduleKeyDeletion(r) => arm!(Response::ScheduleKeyDeletion(Box::new(
                self.schedule_key_deletion_impl(&r.key_id, r.pending_window_in_days)
                    .await?,
            ))),
            Request::CancelKeyDeletion(r) => arm!(Response::CancelKeyDeletion(Box::new(
                self.cancel_key_deletion_impl(&r.key_id).await?
            ))),
            Request::SetDeletionProtection(r) => arm!(Response::SetDeletionProtection(Box::new(
                self.set_deletion_protection_impl(
                    &r.protected_resource_arn,
                    r.enable_deletion_protection,
                    r.deletion_protection_description.as_deref(),
                )
                .await?,
            ))),
            Request::CreateKeyVersion(r) => arm!(Response::CreateKeyVersion(
                self.create_key_version_impl(&r.key_id).await?
            )),
            Request::DescribeKeyVersion(r) => arm!(Response::DescribeKeyVersion(
                self.describe_key_version_impl(&r.key_id, &r.key_version_id)
                    .await?,
            )),
            Request::ListKeyVersions(r) => arm!(Response::ListKeyVersions(
                self.list_key_versions_impl(&r.key_id, r.page_number, r.page_size)
                    .await?,
            )),
            Request::UpdateRotationPolicy(r) => arm!(Response::UpdateRotationPolicy(Box::new(
                self.update_rotation_policy_impl(r).await?
            ))),
            Request::CreateAlias(r) => {
                arm!(self.create_alias_impl(&r.alias_name, &r.key_id).await?;
                Response::CreateAlias(super::Done))
            }
            Request::UpdateAlias(r) => {
                arm!(self.update_alias_impl(&r.alias_name, &r.key_id).await?;
                Response::UpdateAlias(super::Done))
            }
            Request::DeleteAlias(r) => arm!(self.delete_alias_impl(&r.alias_name).await?;
                Response::DeleteAlias(super::Done)),
            Request::ListAliases(r) => arm!(Response::ListAliases(
                self.list_aliases_impl(r.page_number, r.page_size).await?
            )),
            Request::ListAliasesByKeyId(r) => arm!(Response::ListAliasesByKeyId(
                self.list_aliases_by_key_id_impl(&r.key_id, r.page_number, r.page_size)
                    .await?,
            )),
            Request::TagResource(r) => arm!(self.tag_resource_impl(&r.key_id, &r.tags).await?;
                Response::TagResource(super::Done)),
            Request::UntagResource(r) => {
                arm!(self.untag_resource_impl(&r.key_id, &r.tag_keys).await?;
                Response::UntagResource(super::Done))
            }
            Request::ListResourceTags(r) => arm!(Response::ListResourceTags(
                super::ListResourceTagsResponse {
                    tags: self.list_resource_tags_impl(&r.key_id).await?,
                }
            )),
            Request::GetParametersForImport(r) => arm!(Response::GetParametersForImport(
                self.get_parameters_for_import_impl(
                    &r.key_id,
                    r.wrapping_algorithm,
                    r.wrapping_key_spec,
                )
                .await?,
            )),
            Request::ImportKeyMaterial(r) => arm!(Response::ImportKeyMaterial(Box::new(
                self.import_key_material_impl(r).await?
            ))),
            Request::DeleteKeyMaterial(r) => arm!(Response::DeleteKeyMaterial(Box::new(
                self.delete_key_material_impl(&r.key_id).await?
            ))),
            Request::Encrypt(r) => arm!(Response::Encrypt(self.encrypt_impl(r).await?)),
            Request::Decrypt(r) => arm!(Response::Decrypt(self.decrypt_impl(r).await?)),
            Request::ReEncrypt(r) => arm!(Response::ReEncrypt(self.re_encrypt_impl(r).await?)),
            Request::GenerateDataKey(r) => arm!(Response::GenerateDataKey(
                self.generate_data_key_impl(r).await?
            )),
            Request::GenerateDataKeyWithoutPlaintext(r) => {
                arm!(Response::GenerateDataKeyWithoutPlaintext(
                    self.generate_data_key_without_plaintext_impl(r).await?,
                ))
            }
            Request::GenerateDataKeyPair(r) => arm!(Response::GenerateDataKeyPair(
                self.generate_data_key_pair_impl(r).await?
            )),
            Request::GenerateDataKeyPairWithoutPlaintext(r) => {
                arm!(Response::GenerateDataKeyPairWithoutPlaintext(
                    self.generate_data_key_pair_without_plaintext_impl(r)
                        .await?,
                ))
            }
            Request::ExportDataKey(r) => {
                arm!(Response::ExportDataKey(self.export_data_key_impl(r).await?))
            }
            Request::GenerateAndExportDataKey(r) => arm!(Response::GenerateAndExportDataKey(
                self.generate_and_export_data_key_impl(r).await?
            )),
            Request::GetRandomPassword(r) => arm!(Response::GetRandomPassword(
                super::GetRandomPasswordResponse {
                    random_password: self.get_random_password_impl(&r)?,
                }
            )),
            Request::GetPublicKey(r) => arm!(Response::GetPublicKey(
                self.get_public_key_impl(&r.key_id, r.key_version_id.as_deref())
                    .await?,
            )),
            Request::AsymmetricSign(r) => arm!(Response::AsymmetricSign(
                self.asymmetric_sign_impl(
                    &r.key_id,
                    r.key_version_id.as_deref(),
                    r.algorithm,
                    crate::SignInput::Digest(&r.digest),
                )
                .await?,
            )),
            Request::AsymmetricSignMessage(r) => arm!(Response::AsymmetricSignMessage(
                self.asymmetric_sign_impl(
                    &r.key_id,
                    r.key_version_id.as_deref(),
                    r.algorithm,
                    crate::SignInput::Message(&r.message),
                )
                .await?,
            )),
            Request::AsymmetricVerify(r) => arm!(Response::AsymmetricVerify(
                self.asymmetric_verify_impl(r).await?
            )),
            Request::AsymmetricEncrypt(r) => arm!(Response::AsymmetricEncrypt(
                self.asymmetric_encrypt_impl(r).await?
            )),
            Request::AsymmetricDecrypt(r) => arm!(Response::AsymmetricDecrypt(
                self.asymmetric_decrypt_impl(r).await?
            )),
            Request::EncryptEnvelope(r) => {
                arm!(Response::EncryptEnvelope(super::EncryptEnvelopeResponse {
                    ciphertext: self.encrypt_envelope_impl(r).await?,
                }))
            }
            Request::DecryptEnvelope(r) => arm!(Response::DecryptEnvelope(
                self.decrypt_envelope_in(cx, r).await?
            )),
            Request::BeginEnvelope(r) => {
                arm!(Response::BeginEnvelope(self.envelope_begin_impl(r).await?))
            }
            Request::ReEncryptEnvelope(r) => arm!(Response::ReEncryptEnvelope(
                self.re_encrypt_envelope_in(cx, r).await?
            )),
            Request::OpenEnvelope(r) => arm!(let (message_key, info) = self
                    .open_envelope_key_in(
                        cx,
                        &r.header,
                        crate::envelope::ContextCheck {
                            exact: r.expected.as_ref(),
                            required: r.required.as_ref(),
                            required_signer: r.required_signer.as_deref(),
                        },
                    )
                    .await?;
                Response::OpenEnvelope(OpenedEnvelopeKey { message_key, info })),
            Request::CreateSecret(r) => {
                arm!(Response::CreateSecret(self.create_secret_impl(r).await?))
            }
            Request::GetSecretValue(r) => arm!(Response::GetSecretValue(
                self.get_secret_value_impl(r).await?
            )),
            Request::PutSecretValue(r) => arm!(Response::PutSecretValue(
                self.put_secret_value_impl(r).await?
            )),
            Request::UpdateSecretVersionStage(r) => arm!(Response::UpdateSecretVersionStage(
                self.update_secret_version_stage_impl(r).await?
            )),
            Request::ListSecretVersionIds(r) => arm!(Response::ListSecretVersionIds(
                self.list_secret_version_ids_impl(r).await?
            )),
            Request::DescribeSecret(r) => arm!(Response::DescribeSecret(Box::new(
                self.describe_secret_impl(&r)?
            ))),
            Request::ListSecrets(r) => arm!(Response::ListSecrets(self.list_secrets_impl(&r)?)),
            Request::UpdateSecret(r) => {
                arm!(Response::UpdateSecret(self.update_secret_impl(r).await?))
            }
            Request::DeleteSecret(r) => {
                arm!(Response::DeleteSecret(self.delete_secret_impl(r).await?))
            }
            Request::RestoreSecret(r) => {
                arm!(Response::RestoreSecret(self.restore_secret_impl(r).await?))
            }
            Request::RotateSecret(r) => {
                arm!(Response::RotateSecret(self.rotate_secret_impl(r).await?))
            }
            Request::UpdateSecretRotationPolicy(r) => arm!(Response::UpdateSecretRotationPolicy(
                self.update_secret_rotation_policy_impl(r).await?
            )),
            Request::TagSecret(r) => arm!(self.tag_secret_impl(r).await?;
                Response::TagSecret(super::Done)),
            Request::UntagSecret(r) => arm!(self.untag_secret_impl(r).await?;
                Response::UntagSecret(super::Done)),
            Request::ListSecretTags(r) => {
                arm!(Response::ListSecretTags(super::ListResourceTagsResponse {
                    tags: self.list_secret_tags_impl(&r)?,
                }))
            }
            Request::GenerateRandom(r) => {
                arm!(Response::GenerateRandom(super::GenerateRandomResponse {
                    random: self.generate_random_impl(r.length)?,
                }))
            }
            Request::Hash(r) => arm!(Response::Hash(Kms::hash_impl(&r))),
            Request::DescribeService(_) => arm!(Response::DescribeService(self.describe_service())),
            Request::ExportImage(r) => arm!(Response::ExportImage(super::StoreImage {
                bytes: self.export_image_impl(r.reseal).await?,
            })),
            Request::CreateBackup(r) => arm!(Response::CreateBackup(super::StoreImage {
                bytes: self.create_backup_impl(r).await?,
            })),
            Request::ChangePassphrase(r) => arm!(self.change_root_impl(r.root, r.kdf).await?;
                Response::ChangePassphrase(super::Done)),
            Request::RekeyStore(_) => arm!(self.rekey_store_impl().await?;
                Response::RekeyStore(super::Done)),
            Request::CompactStore(_) => arm!(self.compact_store_impl().await?;
                Response::CompactStore(super::Done)),
            Request::VerifyStore(_) => {
                arm!(Response::VerifyStore(self.verify_store_impl().await?))
            }
            Request::CreateUser(r) => arm!(Response::CreateUser(self.create_user_impl(r).await?)),
            Request::GetUser(r) => arm!(Response::GetUser(self.get_user_impl(&r)?)),
            Request::ListUsers(_) => arm!(Response::ListUsers(self.list_users_impl()?)),
            Request::DeleteUser(r) => arm!(self.delete_user_impl(r).await?;
                Response::DeleteUser(super::Done)),
            Request::CreateRole(r) => arm!(Response::CreateRole(self.create_role_impl(r).await?)),
            Request::GetRole(r) => arm!(Response::GetRole(self.get_role_impl(&r)?)),
            Request::ListRoles(_) => arm!(Response::ListRoles(self.list_roles_impl()?)),
            Request::DeleteRole(r) => arm!(self.delete_role_impl(r).await?;
                Response::DeleteRole(super::Done)),
            Request::CreateAccessKey(r) => arm!(Response::CreateAccessKey(
                self.create_access_key_impl(r).await?
            )),
            Request::UpdateAccessKey(r) => arm!(self.update_access_key_impl(r).await?;
                Response::UpdateAccessKey(super::Done)),
            Request::DeleteAccessKey(r) => arm!(self.delete_access_key_impl(r).await?;
                Response::DeleteAccessKey(super::Done)),
            Request::CreateClientKey(r) => arm!(Response::CreateClientKey(
                self.create_client_key_impl(r).await?
            )),
            Request::ListAccessKeys(r) => {
                arm!(Response::ListAccessKeys(self.list_access_keys_impl(&r)?))
            }
            Request::CreatePolicy(r) => {
                arm!(Response::CreatePolicy(self.create_policy_impl(r).await?))
            }
            Request::GetPolicy(r) => arm!(Response::GetPolicy(self.get_policy_impl(&r)?)),
            Request::ListPolicies(r) => arm!(Response::ListPolicies(self.list_policies_impl(&r)?)),
            Request::DeletePolicy(r) => arm!(self.delete_policy_impl(r).await?;
                Response::DeletePolicy(super::Done)),
            Request::AttachPolicyToUser(r) => arm!(self.attach_policy_impl(r, false, true).await?;
                Response::AttachPolicyToUser(super::Done)),
            Request::DetachPolicyFromUser(r) => {
                arm!(self.attach_policy_impl(r, false, false).await?;
                Response::DetachPolicyFromUser(super::Done))
            }
            Request::AttachPolicyToRole(r) => arm!(self.attach_policy_impl(r, true, true).await?;
                Response::AttachPolicyToRole(super::Done)),
            Request::DetachPolicyFromRole(r) => {
                arm!(self.attach_policy_impl(r, true, false).await?;
                Response::DetachPolicyFromRole(super::Done))
            }
            Request::ListPoliciesForUser(r) => arm!(Response::ListPoliciesForUser(
                self.list_policies_for_impl(&r.user_name, false)?
            )),
            Request::ListPoliciesForRole(r) => arm!(Response::ListPoliciesForRole(
                self.list_policies_for_impl(&r.role_name, true)?
            )),
            Request::AssumeRole(r) => {
                arm!(Response::AssumeRole(self.assume_role_impl(cx.caller, &r)?))
            }
            Request::SetKeyPolicy(r) => arm!(self.set_key_policy_impl(r).await?;
                Response::SetKeyPolicy(super::Done)),
            Request::GetKeyPolicy(r) => {
                arm!(Response::GetKeyPolicy(self.get_key_policy_impl(&r).await?))
            }
            Request::SetSecretPolicy(r) => arm!(self.set_secret_policy_impl(r).await?;
                Response::SetSecretPolicy(super::Done)),
            Request::GetSecretPolicy(r) => arm!(Response::GetSecretPolicy(
                self.get_secret_policy_impl(&r).await?
            )),
            Request::SimulatePolicy(r) => {
                arm!(Response::SimulatePolicy(self.simulate_policy_impl(&r)?))
            }
            Request::SetAuditLevel(r) => arm!(self.set_audit_level_impl(r).await?;
                Response::SetAuditLevel(super::Done)),
            Request::DescribeAuditConfig(_) => arm!(Response::DescribeAuditConfig(
                self.describe_audit_config_impl()?
            )),
        }
    }

    /// DescribeService: the protection levels, key specs and usages this build and its
    /// key backend offer, and every action it serves.
    fn describe_service(&self) -> super::DescribeServiceResponse {
        use crate::vocab::KeyUsage;
        use crate::vocab::ProtectionLevel;
        // The levels this instance holds: the configured backend's, and SOFTWARE beside
        // an HSM (the in-process backend); each spec with the levels that make it.
        let mut levels = alloc::vec![self.backend.protection_level()];
        if self.backend.protection_level() == ProtectionLevel::Hsm {
            levels.insert(0, ProtectionLevel::Software);
        }
        let mut key_specs: Vec<super::KeySpecInfo> = Vec::new();
        for level in &levels {
            let Some(b) = self.backend_for(*level) else {
                continue;
            };
            for s in b.key_specs() {
                if let Some(k) = key_specs.iter_mut().find(|k| k.name == s) {
                    k.supported_protection_levels.push(*level);
                    continue;
                }
                key_specs.push(super::KeySpecInfo {
                    name: s,
                    supported_protection_levels: alloc::vec![*level],
                    usages: if s.symmetric_key_len().is_some() {
                        alloc::vec![KeyUsage::EncryptDecrypt]
                    } else if s.is_ec() {
                        alloc::vec![KeyUsage::SignVerify]
                    } else {
                        alloc::vec![KeyUsage::EncryptDecrypt, KeyUsage::SignVerify]
                    },
                });
            }
        }
        let key_usages = if key_specs
            .iter()
            .any(|k| k.name.symmetric_key_len().is_none())
        {
            alloc::vec![KeyUsage::EncryptDecrypt, KeyUsage::SignVerify]
        } else {
            alloc::vec![KeyUsage::EncryptDecrypt]
        };
        let supports_import = levels
            .iter()
            .filter_map(|l| self.backend_for(*l))
            .any(|b| b.unwraps_imports() || (b.supports_import() && crate::asym::AVAILABLE));
        super::DescribeServiceResponse {
            protection_levels: levels,
            key_specs,
            key_usages,
            supports_import,
            actions: Action::ALL.iter().map(|a| a.name()).collect(),
        }
    }
}

/// The checks that need no state, made before any resource is resolved: a malformed
/// request is `InvalidParameter.*` whatever key it names, as Alibaba orders them. (The
/// service code checks again; these are the cheap ones a caller meets first.)
fn validate(req: &Request) -> Result<()> {
    match req {
        Request::Encrypt(r) => crate::service::crypto::check_encrypt_plaintext(&r.plaintext),
        Request::GenerateDataKey(r) | Request::GenerateDataKeyWithoutPlaintext(r) => {
            Kms::data_key_len(r).map(|_| ())
        }
        Request::GenerateAndExportDataKey(r) => Kms::data_key_len(&r.data_key).map(|_| ()),
        Request::GenerateDataKeyPair(r) | Request::GenerateDataKeyPairWithoutPlaintext(r) => {
            crate::service::crypto::check_key_pair_spec(r.key_pair_spec).map(|_| ())
        }
        Request::ScheduleKeyDeletion(r) => {
            crate::service::keys::check_pending_window(r.pending_window_in_days)
        }
        Request::GenerateRandom(r) => crate::service::crypto::check_random_length(r.length),
        Request::Hash(r) => crate::service::crypto::check_hash_message(r.message.expose()),
        Request::AsymmetricSign(r) => crate::asym::check_digest(&r.digest),
        Request::AsymmetricVerify(r) => crate::asym::check_digest(&r.digest),
        Request::CreateAlias(r) | Request::UpdateAlias(r) => {
            crate::service::aliases::check_alias_name(&r.alias_name)
        }
        Request::CreateSecret(r) => crate::service::secrets::validate_create(r),
        Request::PutSecretValue(r) => crate::service::secrets::validate_put(r),
        Request::DeleteSecret(r) => crate::service::secrets::validate_delete(r),
        Request::UpdateSecretVersionStage(r) => crate::service::secrets::validate_stage_update(r),
        Request::EncryptEnvelope(r) => check_recipients(&r.key_ids, r.frame_length),
        Request::BeginEnvelope(r) => check_recipients(&r.key_ids, r.frame_length),
        Request::ReEncryptEnvelope(r) if !r.destination_key_ids.is_empty() => {
            check_recipients(&r.destination_key_ids, None)
        }
        _ => Ok(()),
    }
}

/// A new envelope's recipients and frame length, as the envelope service code checks
/// them (frame length first).
fn check_recipients(key_ids: &[String], frame_length: Option<u32>) -> Result<()> {
    if let Some(f) = frame_length {
        crate::envelope::check_frame_length(f)?;
    }
    if key_ids.is_empty() {
        return Err(Error::param("KeyIds", "at least one key is required"));
    }
    if key_ids.len() > crate::envelope::MAX_RECIPIENTS {
        return Err(Error::param(
            "KeyIds",
            alloc::format!(
                "at most {} keys per message",
                crate::envelope::MAX_RECIPIENTS
            ),
        ));
    }
    Ok(())
}

/// A SecretName parameter (a name or a secret ARN) becomes the name, and the secret is
/// authorised.
fn secret(st: &State, cx: &Cx<'_>, name: &mut String) -> Result<()> {
    let n = crate::service::secrets::secret_name_of(name);
    if n.is_empty() {
        return Err(Error::param("SecretName", "required"));
    }
    if n != name.as_str() {
        *name = String::from(n);
    }
    cx.allow(st, Resource::Secret(name.clone()))
}

/// Resolves and authorises every recipient of a new envelope message.
/// The signing key of a signed envelope: resolved, and authorised as AsymmetricSign on
/// it (the signature is made when the message ends).
fn admit_signer(st: &State, cx: &Cx<'_>, signing_key_id: &mut Option<String>) -> Result<()> {
    let Some(k) = signing_key_id else {
        return Ok(());
    };
    let id = String::from(st.resolve_ref(k)?);
    if cx.track || cx.enforce {
        if let Some(alias) = crate::service::aliases::alias_named(k) {
            cx.allow_as(st, Action::AsymmetricSign, Resource::Alias(alias))?;
        }
        cx.allow_as(st, Action::AsymmetricSign, Resource::Key(id.clone()))?;
    }
    *k = id;
    Ok(())
}

fn admit_recipients(st: &State, cx: &Cx<'_>, key_ids: &mut [String]) -> Result<()> {
    for k in key_ids.iter_mut() {
        let id = cx.admit_key_ref(st, k)?;
        if id != k.as_str() {
            *k = String::from(id);
        }
    }
    Ok(())
}
