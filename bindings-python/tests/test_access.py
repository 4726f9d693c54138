"""Who may do what, from Python: the shared decision table
(tests/vectors/access_decisions_v1.json) through SimulatePolicy, the seed's three roles
end to end with real AccessKeys, AssumeRole, and the audit trail beside the store —
verified with only the public key, tampering found, no secret in it."""

import json
import pathlib

import pytest

import strongroom
from strongroom import AccessDeniedError, Kms

ROOT = pathlib.Path(__file__).resolve().parents[2]
TABLE = json.loads((ROOT / "tests/vectors/access_decisions_v1.json").read_text())
SECRET_VALUE = "SRLEAK-py-access-s3cret"


def subst(v, vars):
    if isinstance(v, str):
        for k, x in vars.items():
            v = v.replace("${" + k + "}", x)
        return v
    if isinstance(v, dict):
        return {k: subst(x, vars) for k, x in v.items()}
    return v


def fixture(kms):
    vars = {}
    for step in TABLE["fixture"]:
        out = kms.call(step["action"], **subst(step["params"], vars))
        for name, path in step.get("save", {}).items():
            v = out
            for part in path.split("."):
                v = v[part]
            vars[name] = v
    return vars


def test_the_decision_table_holds():
    kms = Kms.memory()
    vars = fixture(kms)
    wrong = []
    for i, c in enumerate(TABLE["cases"]):
        p = {"PrincipalArn": subst(c["principal"], vars), "ActionName": c["action"]}
        if "resource" in c:
            p["ResourceArn"] = subst(c["resource"], vars)
        if "encryptionContext" in c:
            p["EncryptionContext"] = json.dumps(c["encryptionContext"])
        for a, b in [("sourceIp", "SourceIp"), ("currentTime", "CurrentTime"),
                     ("credentialExpiration", "CredentialExpiration"), ("secureTransport", "SecureTransport")]:
            if a in c:
                p[b] = c[a]
        out = kms.call("SimulatePolicy", **p)
        if out["Decision"] != c["expect"] or ("code" in c and out.get("ErrorCode") != c["code"]):
            wrong.append((i, c, out))
    assert len(TABLE["cases"]) >= 200
    assert not wrong, wrong[:5]


def make_user(kms, name, document=None, system=None):
    kms.call("CreateUser", UserName=name)
    if document:
        kms.call("CreatePolicy", PolicyName=name, PolicyDocument=json.dumps(document))
        kms.call("AttachPolicyToUser", PolicyType="Custom", PolicyName=name, UserName=name)
    if system:
        kms.call("AttachPolicyToUser", PolicyType="System", PolicyName=system, UserName=name)
    ak = kms.call("CreateAccessKey", UserName=name)["AccessKey"]
    return {"AccessKeyId": ak["AccessKeyId"], "AccessKeySecret": ak["AccessKeySecret"]}


def allow(action):
    return {"Version": "1", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}


def test_the_seed_roles_end_to_end(tmp_path):
    store = tmp_path / "store"
    with Kms.open(store, passphrase="pw") as admin:
        ingestion = make_user(admin, "ingestion", allow("kms:GenerateDataKey"))
        analytics = make_user(admin, "analytics", allow("kms:Decrypt"))
        security = make_user(admin, "security", system="StrongroomKeyAdministrator")
    with Kms.open(store, passphrase="pw", credentials=security) as sec:
        key = sec.create_key(description="ingest").key_id
        with pytest.raises(AccessDeniedError):
            sec.generate_data_key(key_id=key)
    with Kms.open(store, passphrase="pw", credentials=ingestion) as ing:
        dk = ing.generate_data_key(key_id=key)
        with pytest.raises(AccessDeniedError) as e:
            ing.decrypt(ciphertext_blob=dk.ciphertext_blob)
        assert e.value.code == "Forbidden.NoPermission"
        with pytest.raises(AccessDeniedError):
            ing.disable_key(key_id=key)
    with Kms.open(store, passphrase="pw", credentials=analytics) as ana:
        assert ana.decrypt(ciphertext_blob=dk.ciphertext_blob).plaintext == dk.plaintext
        with pytest.raises(AccessDeniedError):
            ana.generate_data_key(key_id=key)
    with Kms.open(store, passphrase="pw", credentials=security) as sec:
        sec.disable_key(key_id=key)
        sec.enable_key(key_id=key)
    # A wrong secret never opens as anyone.
    with pytest.raises(AccessDeniedError):
        Kms.open(store, passphrase="pw", credentials={**ingestion, "AccessKeySecret": "nope"})
    # Every denial is in the trail, with who tried.
    with Kms.open(store, passphrase="pw") as kms:
        pem = kms.audit_public_key()
    text = (tmp_path / "store.audit").read_text()
    report = strongroom.verify_audit(text, pem)
    assert report["intact"] and report["closed"], report
    denied = [json.loads(l) for l in text.splitlines() if '"errorCode":"Forbidden.NoPermission"' in l]
    assert {(d["eventName"], d["userIdentity"]["userName"]) for d in denied} >= {
        ("GenerateDataKey", "security"), ("Decrypt", "ingestion"), ("DisableKey", "ingestion"),
        ("GenerateDataKey", "analytics")}
    # No AccessKeySecret, data key or plaintext in the trail.
    for secret in (ingestion["AccessKeySecret"], analytics["AccessKeySecret"], security["AccessKeySecret"]):
        assert secret not in text
    import base64
    assert base64.b64encode(dk.plaintext).decode() not in text


def test_assume_role_credentials_act_and_expire_with_the_role(tmp_path):
    kms = Kms.memory()
    acct = kms.call("CreateUser", UserName="web")["User"]["AccountId"]
    trust = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                            "Principal": {"RAM": [f"acs:ram::{acct}:user/web"]}}]}
    role = kms.call("CreateRole", RoleName="browser", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    kms.create_policy(policy_name="dec", policy_document=allow(["kms:Decrypt", "kms:Encrypt"]))
    kms.call("AttachPolicyToRole", PolicyType="Custom", PolicyName="dec", RoleName="browser")
    key = kms.create_key().key_id
    blob = kms.encrypt(key_id=key, plaintext=b"for the browser").ciphertext_blob
    kms.act_as(f"acs:ram::{acct}:user/web")
    creds = kms.assume_role(role_arn=role["Arn"], role_session_name="tab-7", duration_seconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("STS.")
    principal = kms.authenticate(creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"])
    assert principal.endswith(":assumed-role/browser/tab-7")
    assert kms.decrypt(ciphertext_blob=blob).plaintext == b"for the browser"
    with pytest.raises(AccessDeniedError):
        kms.describe_key(key_id=key)


def test_a_callback_trail_and_tampering(tmp_path):
    kms = Kms.memory()
    lines = []
    kms.attach_audit(lines.append, level="all")
    key = kms.create_key().key_id
    kms.create_secret(secret_name="db/pw", secret_data=SECRET_VALUE)
    assert kms.get_secret_value(secret_name="db/pw").secret_data == SECRET_VALUE
    kms.encrypt(key_id=key, plaintext=b"SRLEAK-py-plaintext")
    pem = kms.audit_public_key()
    kms.close()
    text = "".join(lines)
    assert SECRET_VALUE not in text and "SRLEAK-py-plaintext" not in text
    names = [json.loads(l)["eventName"] for l in text.splitlines() if '"recordType":"Event"' in l]
    assert names == ["CreateKey", "CreateSecret", "GetSecretValue", "Encrypt"]
    ok = strongroom.verify_audit(text, pem)
    assert ok["intact"] and ok["closed"] and ok["events"] == 4
    edited = text.replace('"eventName":"Encrypt"', '"eventName":"Decrypt"')
    assert not strongroom.verify_audit(edited, pem)["intact"]
    rows = text.splitlines()
    rows.pop(1)
    assert not strongroom.verify_audit("\n".join(rows) + "\n", pem)["intact"]
