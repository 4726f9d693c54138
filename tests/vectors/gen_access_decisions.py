#!/usr/bin/env python3
"""Writes access_decisions_v1.json: the policy decision table that core/tests/access.rs,
npm/test/access.test.mjs and bindings-python/tests/test_access.py all run.

The fixture is a list of wire calls (made as the owner); `${name}` in a string is
replaced by a value an earlier step saved. Each case asks SimulatePolicy whether a
principal may do an action on a resource under a request context, and says what the
answer must be. The expectations are written here by hand, from the rules in
docs/ACCESS.md — one small function per principal — never by running strongroom.

    python3 tests/vectors/gen_access_decisions.py > tests/vectors/access_decisions_v1.json
"""
import json

OTHER = "1111222233334444"
NOW = "2026-12-02T12:00:00Z"


def pol(*stmts):
    return json.dumps({"Version": "1", "Statement": list(stmts)})


def allow(action, resource="*", **kw):
    s = {"Effect": "Allow", "Action": action, "Resource": resource}
    s.update(kw)
    return s


def deny(action, resource="*", **kw):
    s = {"Effect": "Deny", "Action": action, "Resource": resource}
    s.update(kw)
    return s


OWNER_ALL = {"Sid": "owner", "Effect": "Allow", "Principal": {"RAM": ["acs:ram::${account}:*"]},
             "Action": "kms:*", "Resource": "*"}

fixture = [
    # The first principal makes the account: its id is saved for the ARNs below.
    {"action": "CreateUser", "params": {"UserName": "admin"}, "save": {"account": "User.AccountId"}},
    {"action": "CreateKey", "params": {"Description": "prod"}, "save": {"prod": "KeyMetadata.KeyId"}},
    {"action": "CreateKey", "params": {"Description": "dev"}, "save": {"dev": "KeyMetadata.KeyId"}},
    {"action": "CreateKey", "params": {"Description": "shared"}, "save": {"shared": "KeyMetadata.KeyId"}},
    {"action": "CreateAlias", "params": {"AliasName": "alias/prod", "KeyId": "${prod}"}},
    {"action": "CreateAlias", "params": {"AliasName": "alias/dev", "KeyId": "${dev}"}},
    {"action": "CreateAlias", "params": {"AliasName": "alias/shared", "KeyId": "${shared}"}},
    {"action": "TagResource", "params": {"KeyId": "${prod}", "Tags": json.dumps([{"TagKey": "env", "TagValue": "prod"}])}},
    {"action": "TagResource", "params": {"KeyId": "${dev}", "Tags": json.dumps([{"TagKey": "env", "TagValue": "dev"}])}},
    {"action": "CreateSecret", "params": {"SecretName": "db/prod", "VersionId": "v1", "SecretData": "p",
                                          "Tags": json.dumps([{"TagKey": "env", "TagValue": "prod"}])}},
    {"action": "CreateSecret", "params": {"SecretName": "db/dev", "VersionId": "v1", "SecretData": "d",
                                          "Tags": json.dumps([{"TagKey": "env", "TagValue": "dev"}])}},
    # prod: nobody, the owner included, may schedule its deletion.
    {"action": "SetKeyPolicy", "params": {"KeyId": "${prod}", "PolicyName": "default", "Policy": pol(
        OWNER_ALL,
        {"Sid": "keep", "Effect": "Deny", "Principal": "*", "Action": "kms:ScheduleKeyDeletion", "Resource": "*"},
    )}},
    # shared: another account may use it; bob may decrypt with it by name.
    {"action": "SetKeyPolicy", "params": {"KeyId": "${shared}", "PolicyName": "default", "Policy": pol(
        OWNER_ALL,
        {"Sid": "partner", "Effect": "Allow", "Principal": {"RAM": [f"acs:ram::{OTHER}:*"]},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*"},
        {"Sid": "bob", "Effect": "Allow", "Principal": {"RAM": ["acs:ram::${account}:user/bob"]},
         "Action": "kms:Decrypt", "Resource": "*"},
    )}},
    {"action": "AttachPolicyToUser", "params": {"PolicyType": "System", "PolicyName": "StrongroomKeyAdministrator", "UserName": "admin"}},
]


def user(name, policy=None, system=None, account=None):
    steps = [{"action": "CreateUser", "params": {"UserName": name, **({"AccountId": account} if account else {})}}]
    if policy:
        steps.append({"action": "CreatePolicy", "params": {"PolicyName": f"p-{name}", "PolicyDocument": policy}})
        steps.append({"action": "AttachPolicyToUser", "params": {"PolicyType": "Custom", "PolicyName": f"p-{name}", "UserName": name}})
    if system:
        steps.append({"action": "AttachPolicyToUser", "params": {"PolicyType": "System", "PolicyName": system, "UserName": name}})
    fixture.extend(steps)


user("ingest", pol(allow("kms:GenerateDataKey")))
user("analytics", pol(allow("kms:Decrypt")))
user("alice", pol(allow(["kms:Describe*", "kms:List*"]),
                  deny("kms:*", Condition={"StringEquals": {"kms:tag/env": "prod"}})))
user("bob")
user("carol", pol(allow(["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"])), account=OTHER)
user("frank", pol(deny("kms:GetSecretValue", "acs:kms:*:*:secret/db/prod*")), system="StrongroomSecretsReader")
user("dave", pol(
    allow("kms:Encrypt", Condition={"IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "192.168.7.7"]}}),
    allow("kms:Decrypt", Condition={"Bool": {"acs:SecureTransport": "true"}}),
    allow("kms:GenerateDataKey", Condition={"StringEquals": {"kms:EncryptionContext/purpose": "billing"}}),
    allow("kms:DescribeKey", Condition={"DateLessThan": {"acs:CurrentTime": "2030-01-01T00:00:00Z"}}),
    allow("kms:GenerateDataKeyWithoutPlaintext", Condition={"NumericLessThanEquals": {"kms:EncryptionContext/size": 100}}),
    allow("kms:DisableKey", Condition={"StringEquals": {"kms:tag/env": "dev"}}),
))
user("erin", pol(
    allow("kms:Encrypt", Condition={"StringLike": {"kms:EncryptionContext/tenant": "acme-*"}}),
    deny("kms:Encrypt", Condition={"NotIpAddress": {"acs:SourceIp": "10.0.0.0/8"}}),
    allow("kms:Decrypt", Condition={"StringEqualsIgnoreCase": {"kms:EncryptionContext/env": "PROD"}}),
    allow("kms:DescribeKey", Condition={"DateGreaterThan": {"acs:CurrentTime": "2026-01-01"}}),
    allow("kms:GenerateDataKey", Condition={"StringNotEquals": {"kms:EncryptionContext/env": "prod"}}),
    allow("kms:EnableKey", Condition={"NumericGreaterThan": {"kms:EncryptionContext/n": "5"}}),
))
user("getter", pol(allow("kms:Get*")))
user("star", pol(allow("kms:*Key", "acs:kms:*:*:key/*")))
user("qmark", pol(allow("kms:DescribeSecret", "acs:kms:*:*:secret/db/?ev")))
user("everything", pol(allow("*")))
fixture.append({"action": "CreateRole", "params": {
    "RoleName": "reader-role",
    "AssumeRolePolicyDocument": json.dumps({"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": ["acs:ram::${account}:root"]}}]})}})
fixture.append({"action": "AttachPolicyToRole", "params": {"PolicyType": "System", "PolicyName": "AliyunKMSReadOnlyAccess", "RoleName": "reader-role"}})

KEYS = ["alias/prod", "alias/dev", "alias/shared"]
SECRETS = ["acs:kms:strongroom:${account}:secret/db/prod", "acs:kms:strongroom:${account}:secret/db/dev"]
KEY_ACTIONS = ["Encrypt", "Decrypt", "GenerateDataKey", "DescribeKey", "ScheduleKeyDeletion", "DisableKey"]
SECRET_ACTIONS = ["GetSecretValue", "DescribeSecret"]
INSTANCE_ACTIONS = ["CreateKey", "ListKeys"]


def combos():
    for a in KEY_ACTIONS:
        for k in KEYS:
            yield a, k
    for a in SECRET_ACTIONS:
        for s in SECRETS:
            yield a, s
    for a in INSTANCE_ACTIONS:
        yield a, None


def tag(res):
    if res is None:
        return None
    if "prod" in res:
        return "prod"
    if "dev" in res:
        return "dev"
    return None


PROD_DENIES = lambda a, r: a == "ScheduleKeyDeletion" and r == "alias/prod"  # noqa: E731


def owner(a, r):
    return not PROD_DENIES(a, r)


ADMIN = {"CreateKey", "DescribeKey", "ListKeys", "ScheduleKeyDeletion", "DisableKey", "DescribeSecret"}
READONLY = {"DescribeKey", "ListKeys", "DescribeSecret"}

rules = {
    "owner": owner,
    "acs:ram::${account}:root": owner,
    "user/admin": lambda a, r: a in ADMIN and not PROD_DENIES(a, r),
    "user/ingest": lambda a, r: a == "GenerateDataKey",
    "user/analytics": lambda a, r: a == "Decrypt",
    "user/alice": lambda a, r: a in {"DescribeKey", "ListKeys", "DescribeSecret"} and tag(r) != "prod",
    "user/bob": lambda a, r: a == "Decrypt" and r == "alias/shared",
    "user/carol": lambda a, r: a in {"Encrypt", "Decrypt", "DescribeKey"} and r == "alias/shared",
    "user/frank": lambda a, r: (a == "DescribeSecret") or (a == "GetSecretValue" and tag(r) == "dev"),
    "user/getter": lambda a, r: a == "GetSecretValue",
    "user/star": lambda a, r: a in {"DescribeKey", "DisableKey", "GenerateDataKey"} and r in KEYS,
    "user/qmark": lambda a, r: a == "DescribeSecret" and tag(r) == "dev",
    "user/everything": lambda a, r: not PROD_DENIES(a, r),
    "user/ghost": lambda a, r: False,
    "session": lambda a, r: a in READONLY,
    "expired-session": lambda a, r: False,
}

cases = []


def principal_arn(p):
    if p in ("owner", "acs:ram::${account}:root"):
        return p
    if p == "user/carol":
        return f"acs:ram::{OTHER}:user/carol"
    if p == "session":
        return "acs:ram::${account}:assumed-role/reader-role/s1"
    if p == "expired-session":
        return "acs:ram::${account}:assumed-role/reader-role/s2"
    return "acs:ram::${account}:" + p


for p, rule in rules.items():
    for a, r in combos():
        c = {"principal": principal_arn(p), "action": a, "expect": "Allow" if rule(a, r) else "Deny",
             "currentTime": NOW}
        if r is not None:
            c["resource"] = r
        if p == "session":
            c["credentialExpiration"] = "2026-12-02T13:00:00Z"
        if p == "expired-session":
            c["credentialExpiration"] = "2026-12-02T11:00:00Z"
            c["code"] = "InvalidSecurityToken.Expired"
        cases.append(c)

# Conditions.
D = "acs:ram::${account}:user/dave"
E = "acs:ram::${account}:user/erin"


def cond(p, a, r, expect, **ctx):
    c = {"principal": p, "action": a, "resource": r, "expect": expect, "currentTime": ctx.pop("currentTime", NOW)}
    c.update(ctx)
    cases.append(c)


cond(D, "Encrypt", "alias/dev", "Allow", sourceIp="10.1.2.3")
cond(D, "Encrypt", "alias/dev", "Allow", sourceIp="192.168.7.7")
cond(D, "Encrypt", "alias/dev", "Deny", sourceIp="192.168.7.8")
cond(D, "Encrypt", "alias/dev", "Deny", sourceIp="11.0.0.1")
cond(D, "Encrypt", "alias/dev", "Deny")
cond(D, "Encrypt", "alias/dev", "Allow", sourceIp="::ffff:10.9.9.9")
cond(D, "Decrypt", "alias/dev", "Allow", secureTransport=True)
cond(D, "Decrypt", "alias/dev", "Deny", secureTransport=False)
cond(D, "GenerateDataKey", "alias/dev", "Allow", encryptionContext={"purpose": "billing"})
cond(D, "GenerateDataKey", "alias/dev", "Allow", encryptionContext={"purpose": "billing", "x": "y"})
cond(D, "GenerateDataKey", "alias/dev", "Deny", encryptionContext={"purpose": "Billing"})
cond(D, "GenerateDataKey", "alias/dev", "Deny")
cond(D, "DescribeKey", "alias/dev", "Allow", currentTime="2029-12-31T23:59:59Z")
cond(D, "DescribeKey", "alias/dev", "Deny", currentTime="2030-01-01T00:00:00Z")
cond(D, "DescribeKey", "alias/dev", "Deny", currentTime="2031-05-01T00:00:00Z")
cond(D, "GenerateDataKeyWithoutPlaintext", "alias/dev", "Allow", encryptionContext={"size": "100"})
cond(D, "GenerateDataKeyWithoutPlaintext", "alias/dev", "Allow", encryptionContext={"size": "7.5"})
cond(D, "GenerateDataKeyWithoutPlaintext", "alias/dev", "Deny", encryptionContext={"size": "101"})
cond(D, "GenerateDataKeyWithoutPlaintext", "alias/dev", "Deny", encryptionContext={"size": "many"})
cond(D, "DisableKey", "alias/dev", "Allow")
cond(D, "DisableKey", "alias/prod", "Deny")
cond(D, "DisableKey", "alias/shared", "Deny")
cond(E, "Encrypt", "alias/dev", "Allow", sourceIp="10.0.0.5", encryptionContext={"tenant": "acme-1"})
cond(E, "Encrypt", "alias/dev", "Allow", sourceIp="10.0.0.5", encryptionContext={"tenant": "acme-"})
cond(E, "Encrypt", "alias/dev", "Deny", sourceIp="8.8.8.8", encryptionContext={"tenant": "acme-1"})
cond(E, "Encrypt", "alias/dev", "Deny", encryptionContext={"tenant": "acme-1"})
cond(E, "Encrypt", "alias/dev", "Deny", sourceIp="10.0.0.5", encryptionContext={"tenant": "umbrella"})
cond(E, "Encrypt", "alias/dev", "Deny", sourceIp="10.0.0.5")
cond(E, "Decrypt", "alias/dev", "Allow", encryptionContext={"env": "prod"})
cond(E, "Decrypt", "alias/dev", "Allow", encryptionContext={"env": "PrOd"})
cond(E, "Decrypt", "alias/dev", "Deny", encryptionContext={"env": "dev"})
cond(E, "DescribeKey", "alias/dev", "Allow", currentTime="2026-06-01T00:00:00Z")
cond(E, "DescribeKey", "alias/dev", "Deny", currentTime="2025-06-01T00:00:00Z")
cond(E, "DescribeKey", "alias/dev", "Deny", currentTime="2026-01-01T00:00:00Z")
cond(E, "GenerateDataKey", "alias/dev", "Allow", encryptionContext={"env": "dev"})
cond(E, "GenerateDataKey", "alias/dev", "Allow")
cond(E, "GenerateDataKey", "alias/dev", "Deny", encryptionContext={"env": "prod"})
cond(E, "EnableKey", "alias/dev", "Allow", encryptionContext={"n": "6"})
cond(E, "EnableKey", "alias/dev", "Deny", encryptionContext={"n": "5"})
cond(E, "EnableKey", "alias/dev", "Deny")
# A key named by its ARN or KeyId decides as by alias.
cond("acs:ram::${account}:user/alice", "DescribeKey", "${prod}", "Deny")
cond("acs:ram::${account}:user/alice", "DescribeKey", "${dev}", "Allow")
cond("acs:ram::${account}:user/alice", "DescribeKey", "acs:kms:strongroom:local:key/${dev}", "Allow")
cond(f"acs:ram::{OTHER}:user/carol", "Encrypt", "${shared}", "Allow")
# A principal ARN naming the wrong account is nobody.
cond("acs:ram::9999888877776666:user/alice", "DescribeKey", "alias/dev", "Deny")
cond(f"acs:ram::{OTHER}:user/ingest", "GenerateDataKey", "alias/dev", "Deny")
# Another account itself (its root): the resource policy decides alone — the shared key
# names the account; nothing else does.
for a, r, exp in [("Encrypt", "alias/shared", "Allow"), ("DescribeKey", "alias/shared", "Allow"),
                  ("GenerateDataKey", "alias/shared", "Deny"), ("Encrypt", "alias/dev", "Deny"),
                  ("Decrypt", "alias/prod", "Deny")]:
    cond(f"acs:ram::{OTHER}:root", a, r, exp)
cond(f"acs:ram::{OTHER}:root", "ListKeys", None, "Deny")
cases[-1].pop("resource")
cond("acs:ram::9999888877776666:root", "Encrypt", "alias/shared", "Deny")
# AssumeRole: the trust policy trusts the account; its identities need sts:AssumeRole.
for who, exp in [("owner", "Allow"), ("acs:ram::${account}:user/everything", "Allow"),
                 ("acs:ram::${account}:user/bob", "Deny"), (f"acs:ram::{OTHER}:user/carol", "Deny")]:
    cond(who, "AssumeRole", "acs:ram::${account}:role/reader-role", exp)
# RAM administration.
for who, exp in [("owner", "Allow"), ("acs:ram::${account}:user/admin", "Deny"),
                 ("acs:ram::${account}:user/everything", "Allow")]:
    cond(who, "CreateUser", None, exp)
    cases[-1].pop("resource")

json.dump({"version": 1, "fixture": fixture, "cases": cases}, __import__("sys").stdout, indent=1)
print()
