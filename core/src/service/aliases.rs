//! Aliases and tags (family Aliases): CreateAlias, UpdateAlias, DeleteAlias,
//! ListAliases, ListAliasesByKeyId, and TagResource / UntagResource / ListResourceTags on
//! keys (secrets' tags are in `secrets`).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::kms::*;
use crate::service::keys::*;
use crate::state::State;

pub(crate) fn alias_arn(alias: &str) -> String {
    alloc::format!("acs:kms:strongroom:local:{alias}")
}

/// The alias a KeyId parameter names (`alias/…` or an alias ARN), if it names one.
pub(crate) fn alias_named(input: &str) -> Option<String> {
    match key_ref(input) {
        Ok(KeyRef::Alias(a)) => Some(a.to_string()),
        _ => None,
    }
}

/// Most aliases one key may have.
pub const MAX_ALIASES_PER_KEY: usize = 50;
/// Most tags one key may carry.
pub const MAX_TAGS_PER_KEY: usize = 20;

pub(crate) fn check_alias_name(a: &str) -> Result<()> {
    let ok = a.len() <= 255
        && a.strip_prefix("alias/").is_some_and(|n| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/' | b':'))
        })
        && !a.starts_with("alias/acs");
    if ok {
        Ok(())
    } else {
        Err(Error::param(
            "AliasName",
            "must be alias/<name>: 1-249 of [A-Za-z0-9_/:-], not starting with alias/acs",
        ))
    }
}

/// One alias (ListAliases, ListAliasesByKeyId).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AliasEntry {
    /// AliasName (`alias/…`).
    pub alias_name: String,
    /// AliasArn.
    pub alias_arn: String,
    /// KeyId.
    pub key_id: String,
}

/// ListAliases' answer (Alibaba's `Aliases.Alias[]` → `aliases`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListAliasesResponse {
    /// The page of aliases, by name.
    pub aliases: Vec<AliasEntry>,
    /// TotalCount.
    pub total_count: u64,
    /// PageNumber.
    pub page_number: u32,
    /// PageSize.
    pub page_size: u32,
}

/// A tag on a key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Tag {
    /// TagKey.
    pub tag_key: String,
    /// TagValue.
    pub tag_value: String,
}

/// Alibaba's tag rules (keys and secrets alike): at least one tag; TagKey 1–128
/// characters, not `acs:`- or `aliyun`-prefixed; TagValue at most 256.
pub(crate) fn check_tags(tags: &[Tag]) -> Result<()> {
    if tags.is_empty() {
        return Err(Error::param("Tags", "at least one tag"));
    }
    for t in tags {
        let n = t.tag_key.chars().count();
        if n == 0
            || n > 128
            || t.tag_key.starts_with("acs:")
            || t.tag_key.starts_with("aliyun")
            || t.tag_value.chars().count() > 256
        {
            return Err(Error::param(
                "Tags",
                "TagKey is 1-128 characters, not acs:/aliyun-prefixed; TagValue at most 256",
            ));
        }
    }
    Ok(())
}

impl Kms {
    /// CreateAlias: `alias/<name>` for a key, usable wherever a KeyId is.
    ///
    /// # Errors
    /// `InvalidParameter.AliasName`, `Rejected.AliasExists`, `Forbidden.KeyNotFound`,
    /// `Rejected.QuotaExceeded` (50 per key); store failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.create_alias("alias/orders", &key_id).await?;
    /// # });
    /// ```
    pub async fn create_alias(&self, alias_name: &str, key_id: &str) -> Result<()> {
        crate::api::as_owner!(
            self,
            CreateAlias,
            crate::api::AliasRequest {
                alias_name: alias_name.into(),
                key_id: key_id.into(),
            }
        )
        .map(|_| ())
    }

    pub(crate) async fn create_alias_impl(&self, alias_name: &str, key_id: &str) -> Result<()> {
        self.set_alias(alias_name, key_id, false).await
    }

    /// UpdateAlias: points an existing alias at another key.
    ///
    /// # Errors
    /// `Forbidden.AliasNotFound`, `Forbidden.KeyNotFound`, `Rejected.QuotaExceeded`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_alias("alias/orders", &key_id).await?;
    /// # let other = kms.create_key(CreateKeyRequest::default()).await?.key_id;
    /// kms.update_alias("alias/orders", &other).await?;
    /// # });
    /// ```
    pub async fn update_alias(&self, alias_name: &str, key_id: &str) -> Result<()> {
        crate::api::as_owner!(
            self,
            UpdateAlias,
            crate::api::AliasRequest {
                alias_name: alias_name.into(),
                key_id: key_id.into(),
            }
        )
        .map(|_| ())
    }

    pub(crate) async fn update_alias_impl(&self, alias_name: &str, key_id: &str) -> Result<()> {
        self.set_alias(alias_name, key_id, true).await
    }

    pub(crate) async fn set_alias(
        &self,
        alias_name: &str,
        key_id: &str,
        update: bool,
    ) -> Result<()> {
        check_alias_name(alias_name)?;
        self.mutate(|tx| {
            let st = tx.state();
            let id = st.resolve(key_id)?;
            match (update, st.aliases.get(alias_name)) {
                (false, Some(_)) => return Err(Error::AliasExists(alias_name.to_string())),
                (true, None) => return Err(Error::AliasNotFound(alias_name.to_string())),
                _ => {}
            }
            if st.aliases.values().filter(|v| **v == id).count() >= MAX_ALIASES_PER_KEY {
                return Err(Error::QuotaExceeded("a key has at most 50 aliases"));
            }
            tx.set_alias(alias_name, id);
            Ok(())
        })
        .await
    }

    /// DeleteAlias (the key is untouched).
    ///
    /// # Errors
    /// `Forbidden.AliasNotFound`; store failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_alias("alias/orders", &key_id).await?;
    /// kms.delete_alias("alias/orders").await?;
    /// # });
    /// ```
    pub async fn delete_alias(&self, alias_name: &str) -> Result<()> {
        crate::api::as_owner!(
            self,
            DeleteAlias,
            crate::api::DeleteAliasRequest {
                alias_name: alias_name.into(),
            }
        )
        .map(|_| ())
    }

    pub(crate) async fn delete_alias_impl(&self, alias_name: &str) -> Result<()> {
        self.mutate(|tx| {
            tx.remove_alias(alias_name)
                .map(|_| ())
                .ok_or_else(|| Error::AliasNotFound(alias_name.to_string()))
        })
        .await
    }

    pub(crate) fn alias_entries(st: &State, key: Option<&str>) -> Vec<AliasEntry> {
        st.aliases
            .iter()
            .filter(|(_, id)| key.is_none_or(|k| k == id.as_str()))
            .map(|(a, id)| AliasEntry {
                alias_name: a.clone(),
                alias_arn: alias_arn(a),
                key_id: id.clone(),
            })
            .collect()
    }

    /// ListAliases, by name.
    ///
    /// # Errors
    /// `InvalidParameter.Limit`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let page = kms.list_aliases(None, Some(100)).await?;
    /// # });
    /// ```
    pub async fn list_aliases(
        &self,
        page_number: Option<u32>,
        page_size: Option<u32>,
    ) -> Result<ListAliasesResponse> {
        crate::api::as_owner!(
            self,
            ListAliases,
            crate::api::ListAliasesRequest {
                page_number,
                page_size,
            }
        )
    }

    pub(crate) async fn list_aliases_impl(
        &self,
        page_number: Option<u32>,
        page_size: Option<u32>,
    ) -> Result<ListAliasesResponse> {
        let all = Self::alias_entries(&self.state.lock(), None);
        let (aliases, page_number, page_size) = page(&all, page_number, page_size)?;
        let aliases = aliases.to_vec();
        Ok(ListAliasesResponse {
            aliases,
            total_count: all.len() as u64,
            page_number,
            page_size,
        })
    }

    /// ListAliasesByKeyId.
    ///
    /// # Errors
    /// `Forbidden.KeyNotFound`, `InvalidParameter.Limit`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let page = kms.list_aliases_by_key_id(&key_id, None, None).await?;
    /// # });
    /// ```
    pub async fn list_aliases_by_key_id(
        &self,
        key_id: &str,
        page_number: Option<u32>,
        page_size: Option<u32>,
    ) -> Result<ListAliasesResponse> {
        crate::api::as_owner!(
            self,
            ListAliasesByKeyId,
            crate::api::ListAliasesByKeyIdRequest {
                key_id: key_id.into(),
                page_number,
                page_size,
            }
        )
    }

    pub(crate) async fn list_aliases_by_key_id_impl(
        &self,
        key_id: &str,
        page_number: Option<u32>,
        page_size: Option<u32>,
    ) -> Result<ListAliasesResponse> {
        let all = {
            let st = self.state.lock();
            let id = st.resolve(key_id)?;
            Self::alias_entries(&st, Some(&id))
        };
        let (aliases, page_number, page_size) = page(&all, page_number, page_size)?;
        let aliases = aliases.to_vec();
        Ok(ListAliasesResponse {
            aliases,
            total_count: all.len() as u64,
            page_number,
            page_size,
        })
    }

    /// TagResource: adds or overwrites tags (keys 1–128 characters, not starting with
    /// `acs:` or `aliyun`; values up to 256; at most 20 per key).
    ///
    /// # Errors
    /// `InvalidParameter.Tags`, `Forbidden.KeyNotFound`; store failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.tag_resource(&key_id, &[Tag { tag_key: "team".into(), tag_value: "payments".into() }]).await?;
    /// # });
    /// ```
    pub async fn tag_resource(&self, key_id: &str, tags: &[Tag]) -> Result<()> {
        crate::api::as_owner!(
            self,
            TagResource,
            crate::api::TagResourceRequest {
                key_id: key_id.into(),
                tags: tags.to_vec(),
            }
        )
        .map(|_| ())
    }

    pub(crate) async fn tag_resource_impl(&self, key_id: &str, tags: &[Tag]) -> Result<()> {
        check_tags(tags)?;
        self.mutate_key(key_id, |k| {
            for t in tags {
                k.tags.insert(t.tag_key.clone(), t.tag_value.clone());
            }
            if k.tags.len() > MAX_TAGS_PER_KEY {
                return Err(Error::param("Tags", "a key carries at most 20 tags"));
            }
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// UntagResource: removes the named tags (absent ones are ignored).
    ///
    /// # Errors
    /// `Forbidden.KeyNotFound`; store failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.untag_resource(&key_id, &["team".to_string()]).await?;
    /// # });
    /// ```
    pub async fn untag_resource(&self, key_id: &str, tag_keys: &[String]) -> Result<()> {
        crate::api::as_owner!(
            self,
            UntagResource,
            crate::api::UntagResourceRequest {
                key_id: key_id.into(),
                tag_keys: tag_keys.to_vec(),
            }
        )
        .map(|_| ())
    }

    pub(crate) async fn untag_resource_impl(
        &self,
        key_id: &str,
        tag_keys: &[String],
    ) -> Result<()> {
        self.mutate_key(key_id, |k| {
            for t in tag_keys {
                k.tags.remove(t);
            }
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// ListResourceTags, by TagKey.
    ///
    /// # Errors
    /// `Forbidden.KeyNotFound`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let tags = kms.list_resource_tags(&key_id).await?;
    /// # });
    /// ```
    pub async fn list_resource_tags(&self, key_id: &str) -> Result<Vec<Tag>> {
        crate::api::as_owner!(
            self,
            ListResourceTags,
            crate::api::ListResourceTagsRequest {
                key_id: key_id.into(),
            }
        )
        .map(|r| r.tags)
    }

    pub(crate) async fn list_resource_tags_impl(&self, key_id: &str) -> Result<Vec<Tag>> {
        self.with_key(key_id, |k| {
            Ok(k.tags
                .iter()
                .map(|(a, b)| Tag {
                    tag_key: a.clone(),
                    tag_value: b.clone(),
                })
                .collect())
        })
    }
}
