//! `strongroom kms ACTION --Param value …`: every action of the table, in the style of
//! Alibaba's own CLI (`aliyun kms Encrypt --KeyId … --Plaintext …`), answering exactly
//! Alibaba's response JSON. Parameters and answers are the core's wire forms
//! (`strongroom::api::wire`); this file only reads argv.

use serde_json::{Map, Value};
use strongroom::api::Action;
use strongroom::{Error, Kms};

/// The list actions and the path of their list in the answer (for `--pager`).
fn list_path(action: Action) -> Option<(&'static str, &'static str)> {
    match action {
        Action::ListKeys => Some(("Keys", "Key")),
        Action::ListKeyVersions => Some(("KeyVersions", "KeyVersion")),
        Action::ListAliases | Action::ListAliasesByKeyId => Some(("Aliases", "Alias")),
        Action::ListSecrets => Some(("SecretList", "Secret")),
        Action::ListSecretVersionIds => Some(("VersionIds", "VersionId")),
        _ => None,
    }
}

/// `--Name value` / `--Name=value` pairs; `--pager` alone.
pub(crate) fn parse_args(args: &[String]) -> Result<(Map<String, Value>, bool), Error> {
    let usage = |why: String| Error::InvalidParameter {
        name: "Request",
        reason: why,
    };
    let mut map = Map::new();
    let mut pager = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--pager" {
            pager = true;
            continue;
        }
        let Some(name) = a.strip_prefix("--") else {
            return Err(usage(format!("expected --Name value pairs, got {a:?}")));
        };
        let (name, value) = match name.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => {
                let v = it
                    .next()
                    .ok_or_else(|| usage(format!("--{name} needs a value")))?;
                (name.to_string(), v.clone())
            }
        };
        if name.is_empty() {
            return Err(usage("an empty parameter name".into()));
        }
        if map.insert(name.clone(), Value::String(value)).is_some() {
            return Err(usage(format!("--{name} is given twice")));
        }
    }
    Ok((map, pager))
}

/// Runs one action; the answer (or Alibaba's error body) and whether it succeeded.
pub(crate) fn run(kms: &Kms, action: &str, args: &[String]) -> (Value, bool) {
    let request_id = kms.new_request_id();
    match run_inner(kms, action, args, &request_id) {
        Ok(v) => (v, true),
        Err(e) => (strongroom::api::wire::error_body(&e, &request_id), false),
    }
}

fn run_inner(kms: &Kms, action: &str, args: &[String], request_id: &str) -> Result<Value, Error> {
    let action: Action = action.parse()?;
    let (mut params, pager) = parse_args(args)?;
    let caller = (*kms.default_caller()).clone().with_request_id(request_id);
    let one = |params: &Map<String, Value>| -> Result<Value, Error> {
        pollster::block_on(kms.call_wire(&caller, action, params))
    };
    let Some((outer, inner)) = list_path(action).filter(|_| pager) else {
        if pager {
            return Err(Error::InvalidParameter {
                name: "Request",
                reason: format!("--pager is for list actions; {action} is not one"),
            });
        }
        return one(&params);
    };
    // Every page, merged: Alibaba CLI's --pager.
    if params.contains_key("PageNumber") {
        return Err(Error::InvalidParameter {
            name: "Request",
            reason: "--pager reads every page: leave out --PageNumber".into(),
        });
    }
    params
        .entry("PageSize")
        .or_insert_with(|| Value::String("100".into()));
    let mut all: Vec<Value> = Vec::new();
    let mut page = 1u64;
    loop {
        params.insert("PageNumber".into(), Value::String(page.to_string()));
        let mut v = one(&params)?;
        let items = v
            .get_mut(outer)
            .and_then(|o| o.get_mut(inner))
            .and_then(Value::as_array_mut)
            .map(std::mem::take)
            .unwrap_or_default();
        let total = v.get("TotalCount").and_then(Value::as_u64).unwrap_or(0);
        let got = items.len();
        all.extend(items);
        if got == 0 || all.len() as u64 >= total {
            let mut wrap = Map::new();
            wrap.insert(inner.into(), Value::Array(all));
            let mut out = Map::new();
            out.insert(outer.into(), Value::Object(wrap));
            out.insert("TotalCount".into(), Value::from(total));
            out.insert("RequestId".into(), Value::String(request_id.into()));
            return Ok(Value::Object(out));
        }
        page += 1;
    }
}
