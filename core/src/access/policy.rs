//! RAM's policy grammar, checked and compiled once, evaluated on every call.
//!
//! A document is `{"Version": "1", "Statement": [ … ]}`; each statement has `Effect`
//! (`Allow` / `Deny`), `Action` (`kms:Encrypt`, `kms:Describe*`, `kms:*`, `ram:…`,
//! `sts:AssumeRole`, `*`), `Resource` (ARNs with `*` / `?` wildcards), in key, secret
//! and trust policies a `Principal` (`{"RAM": [ARN, …]}` or `"*"`), and an optional
//! `Condition` (`{Operator: {Key: value | [values]}}`). Unknown fields, actions that
//! name nothing, unknown operators and unknown condition keys are refused when the
//! policy is set, never silently ignored when it is evaluated.

use alloc::borrow::ToOwned;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::IpAddr;

use serde_json::Value;

use crate::error::{Error, Result};

/// Largest key or secret policy document, in bytes (Alibaba's limit).
pub const MAX_RESOURCE_POLICY_BYTES: usize = 32_768;
/// Largest RAM identity (custom) policy document, in bytes.
pub const MAX_IDENTITY_POLICY_BYTES: usize = 32_768;
/// Most statements one document may hold.
pub const MAX_STATEMENTS: usize = 512;

/// Which place a document is written for: identity policies have no `Principal`;
/// key, secret and trust (AssumeRolePolicyDocument) policies must have one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// A RAM policy attached to a user or role.
    Identity,
    /// A key or secret policy.
    Resource,
    /// A role's trust policy (who may assume it).
    Trust,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Refuses, whatever else grants.
    Deny,
}

/// A compiled policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    statements: Vec<Statement>,
}

/// Words of the compiled action set (one bit per action of the table).
const ACTION_WORDS: usize = 4;

#[derive(Debug, Clone)]
struct Statement {
    effect: Effect,
    actions: Vec<Glob>,
    /// The table's actions the patterns match, one bit each (compiled once).
    action_bits: [u64; ACTION_WORDS],
    resources: Vec<Glob>,
    principals: Option<Vec<PrincipalPattern>>,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone)]
struct PrincipalPattern {
    glob: Glob,
    /// `*`, `acs:ram::<account>:*` and `acs:ram::<account>:root` name an account, not
    /// one identity: in the owning account they delegate to identity policies.
    names_account: bool,
}

/// A pattern with `*` (any run) and `?` (any one character).
#[derive(Debug, Clone)]
struct Glob {
    pat: String,
    /// Compared without regard to ASCII case (actions).
    fold: bool,
}

impl Glob {
    fn new(pat: &str, fold: bool) -> Glob {
        Glob {
            pat: if fold {
                pat.to_ascii_lowercase()
            } else {
                pat.to_owned()
            },
            fold,
        }
    }

    fn matches(&self, s: &str) -> bool {
        glob_match(self.pat.as_bytes(), s.as_bytes(), self.fold)
    }
}

/// Wildcard match with backtracking over the last `*` (linear in practice).
pub(crate) fn glob_match(p: &[u8], s: &[u8], fold: bool) -> bool {
    let eq = |a: u8, b: u8| {
        if fold {
            a == b.to_ascii_lowercase()
        } else {
            a == b
        }
    };
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while let Some(&sc) = s.get(si) {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == b'?' || eq(c, sc) => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).unwrap_or_default().iter().all(|&c| c == b'*')
}

/// The condition operators RAM documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    IpAddress,
    NotIpAddress,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "StringEquals" => Op::StringEquals,
            "StringNotEquals" => Op::StringNotEquals,
            "StringEqualsIgnoreCase" => Op::StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => Op::StringNotEqualsIgnoreCase,
            "StringLike" => Op::StringLike,
            "StringNotLike" => Op::StringNotLike,
            "NumericEquals" => Op::NumericEquals,
            "NumericNotEquals" => Op::NumericNotEquals,
            "NumericLessThan" => Op::NumericLessThan,
            "NumericLessThanEquals" => Op::NumericLessThanEquals,
            "NumericGreaterThan" => Op::NumericGreaterThan,
            "NumericGreaterThanEquals" => Op::NumericGreaterThanEquals,
            "DateEquals" => Op::DateEquals,
            "DateNotEquals" => Op::DateNotEquals,
            "DateLessThan" => Op::DateLessThan,
            "DateLessThanEquals" => Op::DateLessThanEquals,
            "DateGreaterThan" => Op::DateGreaterThan,
            "DateGreaterThanEquals" => Op::DateGreaterThanEquals,
            "Bool" => Op::Bool,
            "IpAddress" => Op::IpAddress,
            "NotIpAddress" => Op::NotIpAddress,
            _ => return None,
        })
    }

    /// Negated operators hold when no value matches (and when the key is absent).
    fn negated(self) -> bool {
        matches!(
            self,
            Op::StringNotEquals
                | Op::StringNotEqualsIgnoreCase
                | Op::StringNotLike
                | Op::NumericNotEquals
                | Op::DateNotEquals
                | Op::NotIpAddress
        )
    }
}

/// A condition key: one of RAM's common keys, or KMS's per-request keys.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CondKey {
    SourceIp,
    CurrentTime,
    SecureTransport,
    MfaPresent,
    /// `kms:tag/<TagKey>`: the resource's tag.
    Tag(String),
    /// `kms:EncryptionContext/<Key>`: the request's EncryptionContext entry.
    EncryptionContext(String),
    /// `kms:KeySpec`, `kms:KeyUsage`, `kms:KeyOrigin`, `kms:ProtectionLevel`
    /// (the resolved key's; or CreateKey's parameters).
    KeyAttr(&'static str),
    /// `kms:SecretType`.
    SecretType,
}

impl CondKey {
    fn parse(k: &str) -> Option<CondKey> {
        let lower = k.to_ascii_lowercase();
        Some(match lower.as_str() {
            "acs:sourceip" => CondKey::SourceIp,
            "acs:currenttime" => CondKey::CurrentTime,
            "acs:securetransport" => CondKey::SecureTransport,
            "acs:mfapresent" => CondKey::MfaPresent,
            "kms:keyspec" => CondKey::KeyAttr("KeySpec"),
            "kms:keyusage" => CondKey::KeyAttr("KeyUsage"),
            "kms:keyorigin" => CondKey::KeyAttr("Origin"),
            "kms:protectionlevel" => CondKey::KeyAttr("ProtectionLevel"),
            "kms:secrettype" => CondKey::SecretType,
            _ => {
                if lower.starts_with("kms:tag/") && k.len() > 8 {
                    CondKey::Tag(k[8..].to_string())
                } else if lower.starts_with("kms:encryptioncontext/") && k.len() > 22 {
                    CondKey::EncryptionContext(k[22..].to_string())
                } else {
                    return None;
                }
            }
        })
    }
}

#[derive(Debug, Clone)]
struct Condition {
    op: Op,
    key: CondKey,
    values: Vec<String>,
    /// IpAddress / NotIpAddress: the blocks, parsed once.
    cidrs: Vec<(IpAddr, u32)>,
}

/// What a condition can be asked about one request.
#[derive(Debug, Clone, Default)]
pub struct RequestContext<'a> {
    /// The caller's address (`acs:SourceIp`), when known.
    pub source_ip: Option<IpAddr>,
    /// Now, ms since the epoch (`acs:CurrentTime`).
    pub now_ms: u64,
    /// Whether the request came over TLS (`acs:SecureTransport`); in-process calls
    /// count as secure.
    pub secure_transport: bool,
    /// The resource's tags (`kms:tag/<TagKey>`).
    pub tags: Option<&'a BTreeMap<String, String>>,
    /// The request's EncryptionContext (`kms:EncryptionContext/<Key>`).
    pub encryption_context: Option<&'a BTreeMap<String, String>>,
    /// The key's or request's KeySpec / KeyUsage / Origin / ProtectionLevel.
    pub key_attrs: [Option<&'a str>; 4],
    /// The secret's SecretType.
    pub secret_type: Option<&'a str>,
}

impl RequestContext<'_> {
    fn lookup(&self, key: &CondKey) -> Option<Vec<String>> {
        match key {
            CondKey::SourceIp => self.source_ip.map(|ip| alloc::vec![ip.to_string()]),
            CondKey::CurrentTime => Some(alloc::vec![crate::time::iso8601(self.now_ms)]),
            CondKey::SecureTransport => Some(alloc::vec![self.secure_transport.to_string()]),
            CondKey::MfaPresent => Some(alloc::vec![String::from("false")]),
            CondKey::Tag(t) => self.tags?.get(t).map(|v| alloc::vec![v.clone()]),
            CondKey::EncryptionContext(k) => self
                .encryption_context?
                .get(k)
                .map(|v| alloc::vec![v.clone()]),
            CondKey::KeyAttr(a) => {
                let i = match *a {
                    "KeySpec" => 0,
                    "KeyUsage" => 1,
                    "Origin" => 2,
                    _ => 3,
                };
                self.key_attrs
                    .get(i)
                    .copied()
                    .flatten()
                    .map(|v| alloc::vec![String::from(v)])
            }
            CondKey::SecretType => self.secret_type.map(|v| alloc::vec![String::from(v)]),
        }
    }
}

/// Who is asking, as policies see them.
#[derive(Debug, Clone, Copy)]
pub struct PrincipalView<'a> {
    /// Its ARN (`acs:ram::<account>:root`, `…:user/<name>`,
    /// `…:assumed-role/<role>/<session>`).
    pub arn: &'a str,
    /// For a role session, the role's ARN (`acs:ram::<account>:role/<name>`), which
    /// a `Principal` naming the role matches.
    pub role_arn: Option<&'a str>,
}

/// One question: may `principal` do `action` on `resource` under `context`?
#[derive(Debug, Clone)]
pub struct Question<'a> {
    /// Who.
    pub principal: PrincipalView<'a>,
    /// `kms:Encrypt`, `ram:CreateUser`, …
    pub action: &'a str,
    /// The action's place in the table (`Action::ALL`), when it is one: then the
    /// statement's compiled action set answers instead of its patterns.
    pub action_index: Option<usize>,
    /// The resource's ARN (`*` for actions on the instance).
    pub resource: &'a str,
    /// What conditions may test.
    pub context: &'a RequestContext<'a>,
}

/// What one policy says about one question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verdict {
    /// A matching Deny statement.
    pub deny: bool,
    /// A matching Allow statement (for resource policies: one whose Principal names the
    /// account or anyone).
    pub allow: bool,
    /// A matching Allow statement whose Principal names this identity itself (a user,
    /// role or session), which in the owning account grants without an identity policy.
    pub allow_specific: bool,
}

impl Policy {
    /// Checks and compiles a document. `owner_account` replaces `local` in resource
    /// ARNs and is what `${account}`-less patterns are compared with.
    ///
    /// # Errors
    /// `InvalidParameter.PolicyDocument` (malformed, or fields RAM does not know),
    /// `InvalidParameter.PolicyAction`, `InvalidParameter.PolicyCondition`,
    /// `InvalidParameter.PolicyTooLarge`.
    pub fn parse(
        doc: &str,
        kind: PolicyKind,
        known_actions: &dyn Fn(&str) -> bool,
    ) -> Result<Policy> {
        let limit = match kind {
            PolicyKind::Identity => MAX_IDENTITY_POLICY_BYTES,
            _ => MAX_RESOURCE_POLICY_BYTES,
        };
        if doc.len() > limit {
            return Err(Error::param(
                "PolicyTooLarge",
                alloc::format!("the document is {} bytes; at most {limit}", doc.len()),
            ));
        }
        let v: Value = serde_json::from_str(doc)
            .map_err(|e| Error::param("PolicyDocument", alloc::format!("not JSON: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| bad_doc("the document must be a JSON object"))?;
        for k in obj.keys() {
            if k != "Version" && k != "Statement" {
                return Err(bad_doc(alloc::format!("unknown field {k:?}")));
            }
        }
        match obj.get("Version") {
            Some(Value::String(s)) if s == "1" => {}
            _ => return Err(bad_doc("Version must be \"1\"")),
        }
        let stmts = match obj.get("Statement") {
            Some(Value::Array(a)) => a.as_slice(),
            Some(o @ Value::Object(_)) => core::slice::from_ref(o),
            _ => return Err(bad_doc("Statement must be a list of statements")),
        };
        if stmts.len() > MAX_STATEMENTS {
            return Err(Error::param(
                "PolicyTooLarge",
                alloc::format!("{} statements; at most {MAX_STATEMENTS}", stmts.len()),
            ));
        }
        let mut statements = Vec::with_capacity(stmts.len());
        for (i, s) in stmts.iter().enumerate() {
            statements.push(parse_statement(s, i, kind, known_actions)?);
        }
        Ok(Policy { statements })
    }

    /// What this policy says about `q`.
    #[must_use]
    pub fn evaluate(&self, q: &Question<'_>) -> Verdict {
        let mut v = Verdict::default();
        for s in &self.statements {
            let hit = match q.action_index {
                Some(i) => s
                    .action_bits
                    .get(i / 64)
                    .is_some_and(|w| w & (1u64 << (i % 64)) != 0),
                None => s.actions.iter().any(|g| g.matches(q.action)),
            };
            if !hit {
                continue;
            }
            if !s.resources.is_empty() && !s.resources.iter().any(|g| g.matches(q.resource)) {
                continue;
            }
            let mut specific = false;
            if let Some(ps) = &s.principals {
                let mut hit = false;
                for p in ps {
                    let m = p.glob.matches(q.principal.arn)
                        || q.principal.role_arn.is_some_and(|r| p.glob.matches(r));
                    if m {
                        hit = true;
                        specific |= !p.names_account;
                    }
                }
                if !hit {
                    continue;
                }
            }
            if !s.conditions.iter().all(|c| c.holds(q.context)) {
                continue;
            }
            match s.effect {
                Effect::Deny => {
                    v.deny = true;
                    return v;
                }
                Effect::Allow => {
                    v.allow = true;
                    v.allow_specific |= specific || s.principals.is_none();
                }
            }
        }
        v
    }

    /// Whether some Deny statement could apply to `principal_arn` doing `action` on
    /// `resource`, whatever the request's conditions (used to refuse policies that
    /// would lock the owner out).
    #[must_use]
    pub fn may_deny(&self, principal_arn: &str, action: &str, resource: &str) -> bool {
        self.statements.iter().any(|s| {
            s.effect == Effect::Deny
                && s.actions.iter().any(|g| g.matches(action))
                && (s.resources.is_empty() || s.resources.iter().any(|g| g.matches(resource)))
                && s.principals
                    .as_ref()
                    .is_none_or(|ps| ps.iter().any(|p| p.glob.matches(principal_arn)))
        })
    }

    /// The number of statements.
    #[must_use]
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// Whether it has no statement.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }
}

fn bad_doc(reason: impl Into<String>) -> Error {
    Error::param("PolicyDocument", reason)
}

fn strings(v: &Value, what: &str, i: usize) -> Result<Vec<String>> {
    let one = |x: &Value| -> Result<String> {
        match x {
            Value::String(s) if !s.is_empty() => Ok(s.clone()),
            _ => Err(bad_doc(alloc::format!(
                "Statement[{i}].{what} must be a non-empty string or a list of them"
            ))),
        }
    };
    match v {
        Value::Array(a) if !a.is_empty() => a.iter().map(one).collect(),
        other => Ok(alloc::vec![one(other)?]),
    }
}

fn parse_statement(
    s: &Value,
    i: usize,
    kind: PolicyKind,
    known_actions: &dyn Fn(&str) -> bool,
) -> Result<Statement> {
    let o = s
        .as_object()
        .ok_or_else(|| bad_doc(alloc::format!("Statement[{i}] must be an object")))?;
    for k in o.keys() {
        if !matches!(
            k.as_str(),
            "Sid" | "Effect" | "Action" | "Resource" | "Condition" | "Principal"
        ) {
            return Err(bad_doc(alloc::format!(
                "Statement[{i}] has unknown field {k:?}"
            )));
        }
    }
    let effect = match o.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        _ => {
            return Err(bad_doc(alloc::format!(
                "Statement[{i}].Effect must be \"Allow\" or \"Deny\""
            )));
        }
    };
    let actions = strings(
        o.get("Action")
            .ok_or_else(|| bad_doc(alloc::format!("Statement[{i}] has no Action")))?,
        "Action",
        i,
    )?;
    let mut globs = Vec::with_capacity(actions.len());
    for a in &actions {
        if !known_actions(a) {
            return Err(Error::param(
                "PolicyAction",
                alloc::format!("Statement[{i}]: {a:?} names no action strongroom knows"),
            ));
        }
        globs.push(Glob::new(a, true));
    }
    let resources = match (o.get("Resource"), kind) {
        (Some(r), _) => strings(r, "Resource", i)?
            .iter()
            .map(|r| Glob::new(r, false))
            .collect(),
        (None, PolicyKind::Trust) => Vec::new(),
        (None, _) => return Err(bad_doc(alloc::format!("Statement[{i}] has no Resource"))),
    };
    let principals = match (o.get("Principal"), kind) {
        (None, PolicyKind::Identity) => None,
        (Some(_), PolicyKind::Identity) => {
            return Err(bad_doc(alloc::format!(
                "Statement[{i}]: a RAM policy has no Principal (key, secret and trust policies do)"
            )));
        }
        (None, _) => {
            return Err(bad_doc(alloc::format!("Statement[{i}] has no Principal")));
        }
        (Some(p), _) => Some(parse_principal(p, i)?),
    };
    let mut conditions = Vec::new();
    if let Some(c) = o.get("Condition") {
        let c = c
            .as_object()
            .ok_or_else(|| bad_doc(alloc::format!("Statement[{i}].Condition must be an object")))?;
        for (op_name, block) in c {
            let op = Op::parse(op_name).ok_or_else(|| {
                Error::param(
                    "PolicyCondition",
                    alloc::format!("Statement[{i}]: unknown condition operator {op_name:?}"),
                )
            })?;
            let block = block.as_object().ok_or_else(|| {
                bad_doc(alloc::format!(
                    "Statement[{i}].Condition.{op_name} must be an object"
                ))
            })?;
            for (k, vals) in block {
                let key = CondKey::parse(k).ok_or_else(|| {
                    Error::param(
                        "PolicyCondition",
                        alloc::format!("Statement[{i}]: unknown condition key {k:?}"),
                    )
                })?;
                let values = condition_values(vals, i, op_name)?;
                let cidrs = if matches!(op, Op::IpAddress | Op::NotIpAddress) {
                    values.iter().filter_map(|v| parse_cidr(v)).collect()
                } else {
                    Vec::new()
                };
                let cond = Condition {
                    op,
                    key,
                    values,
                    cidrs,
                };
                cond.check(i)?;
                conditions.push(cond);
            }
        }
    }
    let mut action_bits = [0u64; ACTION_WORDS];
    for (n, a) in crate::api::Action::ALL.iter().enumerate() {
        let name = crate::access::policy_action(*a);
        if globs.iter().any(|g| g.matches(&name))
            && let Some(w) = action_bits.get_mut(n / 64)
        {
            *w |= 1u64 << (n % 64);
        }
    }
    Ok(Statement {
        effect,
        action_bits,
        actions: globs,
        resources,
        principals,
        conditions,
    })
}

fn parse_principal(p: &Value, i: usize) -> Result<Vec<PrincipalPattern>> {
    let list = match p {
        Value::String(s) if s == "*" => alloc::vec![String::from("*")],
        Value::Object(o) => {
            let mut out = Vec::new();
            for (k, v) in o {
                if k != "RAM" {
                    return Err(bad_doc(alloc::format!(
                        "Statement[{i}].Principal: unknown principal type {k:?} (RAM only)"
                    )));
                }
                out.extend(strings(v, "Principal.RAM", i)?);
            }
            out
        }
        _ => {
            return Err(bad_doc(alloc::format!(
                "Statement[{i}].Principal must be \"*\" or {{\"RAM\": [ARN, …]}}"
            )));
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for s in list {
        // A bare 16-digit account id names that account.
        let pat = if s.len() == 16 && s.bytes().all(|b| b.is_ascii_digit()) {
            alloc::format!("acs:ram::{s}:root")
        } else {
            s
        };
        if pat != "*" && !pat.starts_with("acs:ram::") {
            return Err(bad_doc(alloc::format!(
                "Statement[{i}].Principal: {pat:?} is not an acs:ram:: ARN"
            )));
        }
        let names_account = pat == "*" || pat.ends_with(":*") || pat.ends_with(":root");
        out.push(PrincipalPattern {
            glob: Glob::new(&pat, false),
            names_account,
        });
    }
    Ok(out)
}

fn condition_values(v: &Value, i: usize, op: &str) -> Result<Vec<String>> {
    let one = |x: &Value| -> Result<String> {
        match x {
            Value::String(s) => Ok(s.clone()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(bad_doc(alloc::format!(
                "Statement[{i}].Condition.{op}: values are strings, numbers or booleans"
            ))),
        }
    };
    match v {
        Value::Array(a) if !a.is_empty() => a.iter().map(one).collect(),
        Value::Array(_) => Err(bad_doc(alloc::format!(
            "Statement[{i}].Condition.{op}: an empty list of values"
        ))),
        other => Ok(alloc::vec![one(other)?]),
    }
}

impl Condition {
    /// Values must parse for their operator (checked when the policy is set).
    fn check(&self, i: usize) -> Result<()> {
        let bad = |v: &str, what: &str| {
            Err(Error::param(
                "PolicyCondition",
                alloc::format!("Statement[{i}]: {v:?} is not {what}"),
            ))
        };
        for v in &self.values {
            match self.op {
                Op::NumericEquals
                | Op::NumericNotEquals
                | Op::NumericLessThan
                | Op::NumericLessThanEquals
                | Op::NumericGreaterThan
                | Op::NumericGreaterThanEquals
                    if v.parse::<f64>().is_err() =>
                {
                    return bad(v, "a number");
                }
                Op::DateEquals
                | Op::DateNotEquals
                | Op::DateLessThan
                | Op::DateLessThanEquals
                | Op::DateGreaterThan
                | Op::DateGreaterThanEquals
                    if parse_date(v).is_none() =>
                {
                    return bad(v, "an ISO 8601 date (2026-12-02T10:00:00Z)");
                }
                Op::Bool if v != "true" && v != "false" => {
                    return bad(v, "true or false");
                }
                Op::IpAddress | Op::NotIpAddress if parse_cidr(v).is_none() => {
                    return bad(v, "an IP address or CIDR block");
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn holds(&self, cx: &RequestContext<'_>) -> bool {
        // The address against parsed blocks, without text on the way.
        if self.key == CondKey::SourceIp && matches!(self.op, Op::IpAddress | Op::NotIpAddress) {
            let Some(ip) = cx.source_ip else {
                return self.op.negated();
            };
            let any = self.cidrs.iter().any(|(n, b)| ip_matches(ip, *n, *b));
            return (self.op == Op::IpAddress) == any;
        }
        let Some(actual) = cx.lookup(&self.key) else {
            return self.op.negated();
        };
        let any = |f: &dyn Fn(&str, &str) -> bool| {
            actual
                .iter()
                .any(|a| self.values.iter().any(|v| f(a.as_str(), v.as_str())))
        };
        match self.op {
            Op::StringEquals => any(&|a, v| a == v),
            Op::StringNotEquals => !any(&|a, v| a == v),
            Op::StringEqualsIgnoreCase => any(&|a, v| a.eq_ignore_ascii_case(v)),
            Op::StringNotEqualsIgnoreCase => !any(&|a, v| a.eq_ignore_ascii_case(v)),
            Op::StringLike => any(&|a, v| glob_match(v.as_bytes(), a.as_bytes(), false)),
            Op::StringNotLike => !any(&|a, v| glob_match(v.as_bytes(), a.as_bytes(), false)),
            Op::NumericEquals => any(&|a, v| num(a, v, |x, y| x == y)),
            Op::NumericNotEquals => !any(&|a, v| num(a, v, |x, y| x == y)),
            Op::NumericLessThan => any(&|a, v| num(a, v, |x, y| x < y)),
            Op::NumericLessThanEquals => any(&|a, v| num(a, v, |x, y| x <= y)),
            Op::NumericGreaterThan => any(&|a, v| num(a, v, |x, y| x > y)),
            Op::NumericGreaterThanEquals => any(&|a, v| num(a, v, |x, y| x >= y)),
            Op::DateEquals => any(&|a, v| date(a, v, |x, y| x == y)),
            Op::DateNotEquals => !any(&|a, v| date(a, v, |x, y| x == y)),
            Op::DateLessThan => any(&|a, v| date(a, v, |x, y| x < y)),
            Op::DateLessThanEquals => any(&|a, v| date(a, v, |x, y| x <= y)),
            Op::DateGreaterThan => any(&|a, v| date(a, v, |x, y| x > y)),
            Op::DateGreaterThanEquals => any(&|a, v| date(a, v, |x, y| x >= y)),
            Op::Bool => any(&|a, v| a.eq_ignore_ascii_case(v)),
            Op::IpAddress => any(&ip_in),
            Op::NotIpAddress => !any(&ip_in),
        }
    }
}

fn num(a: &str, v: &str, f: impl Fn(f64, f64) -> bool) -> bool {
    match (a.parse::<f64>(), v.parse::<f64>()) {
        (Ok(x), Ok(y)) => f(x, y),
        _ => false,
    }
}

fn date(a: &str, v: &str, f: impl Fn(i64, i64) -> bool) -> bool {
    match (parse_date(a), parse_date(v)) {
        (Some(x), Some(y)) => f(x, y),
        _ => false,
    }
}

fn ip_in(a: &str, cidr: &str) -> bool {
    let (Ok(ip), Some((net, bits))) = (a.parse::<IpAddr>(), parse_cidr(cidr)) else {
        return false;
    };
    ip_matches(ip, net, bits)
}

fn ip_matches(ip: IpAddr, net: IpAddr, bits: u32) -> bool {
    match (ip, net) {
        (IpAddr::V4(x), IpAddr::V4(n)) => prefix_eq(&x.octets(), &n.octets(), bits),
        (IpAddr::V6(x), IpAddr::V6(n)) => prefix_eq(&x.octets(), &n.octets(), bits),
        (IpAddr::V6(x), IpAddr::V4(n)) => x
            .to_ipv4_mapped()
            .is_some_and(|x| prefix_eq(&x.octets(), &n.octets(), bits)),
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u32) -> bool {
    let full = (bits / 8) as usize;
    if a.get(..full) != b.get(..full) {
        return false;
    }
    let rest = bits % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    match (a.get(full), b.get(full)) {
        (Some(x), Some(y)) => x & mask == y & mask,
        _ => false,
    }
}

/// `a.b.c.d`, `a.b.c.d/n`, IPv6 likewise.
fn parse_cidr(s: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u32>().ok()?)),
        None => (s, None),
    };
    let ip: IpAddr = addr.trim().parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((ip, bits))
}

/// ISO 8601 → seconds since the epoch ([`crate::time::parse_iso8601`]).
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    crate::time::parse_iso8601(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(b"kms:describe*", b"kms:DescribeKey", true));
        assert!(!glob_match(b"kms:describe*", b"kms:ListKeys", true));
        assert!(glob_match(b"a*b*c", b"aXXbYYc", false));
        assert!(!glob_match(b"a*b*c", b"aXXbYY", false));
        assert!(glob_match(b"k?y", b"key", false));
        assert!(glob_match(b"*", b"", false));
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_date("2026-11-23"), Some(1_795_392_000));
        assert_eq!(parse_date("2026-11-23T01:00:00+01:00"), Some(1_795_392_000));
        assert_eq!(parse_date("2026-11-23T00:00:00.250Z"), Some(1_795_392_000));
        assert_eq!(parse_date("2026-13-23"), None);
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn cidrs() {
        assert!(ip_in("10.1.2.3", "10.0.0.0/8"));
        assert!(!ip_in("11.1.2.3", "10.0.0.0/8"));
        assert!(ip_in("192.168.1.77", "192.168.1.64/26"));
        assert!(!ip_in("192.168.1.200", "192.168.1.64/26"));
        assert!(ip_in("2001:db8::1", "2001:db8::/32"));
        assert!(ip_in("::ffff:10.0.0.1", "10.0.0.0/8"));
        assert!(ip_in("203.0.113.9", "203.0.113.9"));
        assert!(parse_cidr("10.0.0.0/33").is_none());
    }
}
