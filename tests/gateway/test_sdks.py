"""Alibaba's own SDKs, unmodified, against `strongroom serve`:
alibabacloud_kms20160120 (Tea, ACS3-HMAC-SHA256), aliyun-python-sdk-kms (RPC,
HMAC-SHA1) and alibabacloud_sts20150401 (AssumeRole), over HTTP and HTTPS."""
import base64
import hashlib
import json
import os

import pytest
from alibabacloud_kms20160120 import models as km
from alibabacloud_kms20160120.client import Client as TeaKms
from alibabacloud_sts20150401 import models as sm
from alibabacloud_sts20150401.client import Client as TeaSts
from alibabacloud_tea_openapi import models as om
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.http import protocol_type as PT
from aliyunsdkkms.request.v20160120 import (
    CreateAliasRequest, DecryptRequest, DescribeKeyRequest, EncryptRequest,
    GenerateDataKeyRequest, ListKeysRequest)

b64 = lambda b: base64.b64encode(b).decode()


def tea(server, cred, token=None, cls=TeaKms):
    cfg = om.Config(access_key_id=cred["AccessKeyId"], access_key_secret=cred["AccessKeySecret"],
                    security_token=token, endpoint=server.endpoint, protocol=server.scheme,
                    region_id="cn-hangzhou")
    if server.ca:
        cfg.ca = server.ca
    return cls(cfg)


def rpc(server, cred):
    return AcsClient(cred["AccessKeyId"], cred["AccessKeySecret"], "cn-hangzhou",
                     verify=server.ca, auto_retry=False)


def rpc_do(client, server, req):
    req.set_endpoint(server.endpoint)
    # The SDK tests the protocol by identity (`is PT.HTTPS`): its constants, not strings.
    req.set_protocol_type(PT.HTTPS if server.scheme == "https" else PT.HTTP)
    return json.loads(client.do_action_with_exception(req))


def tea_error(fn):
    with pytest.raises(Exception) as e:
        fn()
    return e.value.code, e.value.status_code


def test_tea_symmetric_round_trips(world):
    s, app = world["server"], world["keys"]["app"]
    c = tea(s, app)
    key = c.create_key(km.CreateKeyRequest(description="tea symmetric")).body.key_metadata
    assert key.key_spec == "Aliyun_AES_256" and key.key_state == "Enabled"
    assert c.describe_key(km.DescribeKeyRequest(key_id=key.key_id)).body.key_metadata.arn == key.arn
    # Without and with an EncryptionContext.
    e = c.encrypt(km.EncryptRequest(key_id=key.key_id, plaintext=b64(b"plain tea"))).body
    assert c.decrypt(km.DecryptRequest(ciphertext_blob=e.ciphertext_blob)).body.plaintext == b64(b"plain tea")
    ctx = {"tenant": "acme", "purpose": "a b*~é"}
    e = c.encrypt(km.EncryptRequest(key_id=key.key_id, plaintext=b64(b"ctx"), encryption_context=ctx)).body
    d = c.decrypt(km.DecryptRequest(ciphertext_blob=e.ciphertext_blob, encryption_context=ctx)).body
    assert d.plaintext == b64(b"ctx") and d.key_id == key.key_id
    assert tea_error(lambda: c.decrypt(km.DecryptRequest(ciphertext_blob=e.ciphertext_blob,
                                                          encryption_context={"tenant": "other"}))) \
        == ("InvalidCiphertext", 400)
    # Data keys: the plaintext key decrypts from its blob.
    g = c.generate_data_key(km.GenerateDataKeyRequest(key_id=key.key_id, number_of_bytes=32,
                                                      encryption_context=ctx)).body
    assert len(base64.b64decode(g.plaintext)) == 32
    d = c.decrypt(km.DecryptRequest(ciphertext_blob=g.ciphertext_blob, encryption_context=ctx)).body
    assert d.plaintext == g.plaintext
    w = c.generate_data_key_without_plaintext(km.GenerateDataKeyWithoutPlaintextRequest(
        key_id=key.key_id, key_spec="AES_128")).body
    assert len(base64.b64decode(c.decrypt(km.DecryptRequest(ciphertext_blob=w.ciphertext_blob)).body.plaintext)) == 16
    keys = c.list_keys(km.ListKeysRequest(page_size=100)).body
    assert key.key_id in [k.key_id for k in keys.keys.key]


def test_tea_asymmetric(world):
    c = tea(world["server"], world["keys"]["app"])
    for spec, alg in [("RSA_2048", "RSA_PSS_SHA_256"), ("EC_P256", "ECDSA_SHA_256")]:
        key = c.create_key(km.CreateKeyRequest(key_spec=spec, key_usage="SIGN/VERIFY")).body.key_metadata
        versions = c.list_key_versions(km.ListKeyVersionsRequest(key_id=key.key_id)).body
        vid = versions.key_versions.key_version[0].key_version_id
        pub = c.get_public_key(km.GetPublicKeyRequest(key_id=key.key_id, key_version_id=vid)).body
        assert pub.public_key.startswith("-----BEGIN PUBLIC KEY-----")
        digest = b64(hashlib.sha256(b"message").digest())
        sig = c.asymmetric_sign(km.AsymmetricSignRequest(key_id=key.key_id, key_version_id=vid,
                                                         algorithm=alg, digest=digest)).body.value
        ok = c.asymmetric_verify(km.AsymmetricVerifyRequest(key_id=key.key_id, key_version_id=vid,
                                                            algorithm=alg, digest=digest, value=sig)).body
        assert ok.value is True
        bad = b64(hashlib.sha256(b"other").digest())
        assert c.asymmetric_verify(km.AsymmetricVerifyRequest(key_id=key.key_id, key_version_id=vid,
                                                              algorithm=alg, digest=bad, value=sig)).body.value is False
    key = c.create_key(km.CreateKeyRequest(key_spec="RSA_2048", key_usage="ENCRYPT/DECRYPT")).body.key_metadata
    vid = c.list_key_versions(km.ListKeyVersionsRequest(key_id=key.key_id)).body.key_versions.key_version[0].key_version_id
    ct = c.asymmetric_encrypt(km.AsymmetricEncryptRequest(key_id=key.key_id, key_version_id=vid,
                                                          algorithm="RSAES_OAEP_SHA_256", plaintext=b64(b"rsa"))).body
    pt = c.asymmetric_decrypt(km.AsymmetricDecryptRequest(key_id=key.key_id, key_version_id=vid,
                                                          algorithm="RSAES_OAEP_SHA_256",
                                                          ciphertext_blob=ct.ciphertext_blob)).body
    assert pt.plaintext == b64(b"rsa")


def test_tea_lifecycle_aliases_tags(world):
    c = tea(world["server"], world["keys"]["app"])
    key = c.create_key(km.CreateKeyRequest()).body.key_metadata
    c.disable_key(km.DisableKeyRequest(key_id=key.key_id))
    assert tea_error(lambda: c.encrypt(km.EncryptRequest(key_id=key.key_id, plaintext="aGk="))) \
        == ("Forbidden.KeyDisabled", 403)
    c.enable_key(km.EnableKeyRequest(key_id=key.key_id))
    c.create_alias(km.CreateAliasRequest(alias_name="alias/tea-sdk", key_id=key.key_id))
    e = c.encrypt(km.EncryptRequest(key_id="alias/tea-sdk", plaintext="aGk=")).body
    assert e.key_id == key.key_id
    aliases = c.list_aliases_by_key_id(km.ListAliasesByKeyIdRequest(key_id=key.key_id)).body
    assert [a.alias_name for a in aliases.aliases.alias] == ["alias/tea-sdk"]
    c.tag_resource(km.TagResourceRequest(key_id=key.key_id, tags=json.dumps([{"TagKey": "team", "TagValue": "payments"}])))
    tags = c.list_resource_tags(km.ListResourceTagsRequest(key_id=key.key_id)).body
    assert [(t.tag_key, t.tag_value) for t in tags.tags.tag] == [("team", "payments")]
    c.untag_resource(km.UntagResourceRequest(key_id=key.key_id, tag_keys=json.dumps(["team"])))
    assert c.list_resource_tags(km.ListResourceTagsRequest(key_id=key.key_id)).body.tags.tag == []
    c.delete_alias(km.DeleteAliasRequest(alias_name="alias/tea-sdk"))
    c.schedule_key_deletion(km.ScheduleKeyDeletionRequest(key_id=key.key_id, pending_window_in_days=7))
    assert c.describe_key(km.DescribeKeyRequest(key_id=key.key_id)).body.key_metadata.key_state == "PendingDeletion"
    c.cancel_key_deletion(km.CancelKeyDeletionRequest(key_id=key.key_id))
    assert c.describe_key(km.DescribeKeyRequest(key_id=key.key_id)).body.key_metadata.key_state == "Enabled"
    assert tea_error(lambda: c.describe_key(km.DescribeKeyRequest(key_id="no-such-key"))) \
        == ("Forbidden.KeyNotFound", 404)


def test_tea_secrets(world):
    c = tea(world["server"], world["keys"]["app"])
    value = "gw-SRLEAK-v1"
    c.create_secret(km.CreateSecretRequest(secret_name="db/password", secret_data=value, version_id="v1"))
    got = c.get_secret_value(km.GetSecretValueRequest(secret_name="db/password")).body
    assert got.secret_data == value and got.version_id == "v1" and "ACSCurrent" in got.version_stages.version_stage
    c.put_secret_value(km.PutSecretValueRequest(secret_name="db/password", secret_data="gw-SRLEAK-v2", version_id="v2"))
    assert c.get_secret_value(km.GetSecretValueRequest(secret_name="db/password")).body.secret_data == "gw-SRLEAK-v2"
    prev = c.get_secret_value(km.GetSecretValueRequest(secret_name="db/password", version_stage="ACSPrevious")).body
    assert prev.secret_data == value
    ids = c.list_secret_version_ids(km.ListSecretVersionIdsRequest(secret_name="db/password")).body
    assert sorted(v.version_id for v in ids.version_ids.version_id) == ["v1", "v2"]
    assert "db/password" in [x.secret_name for x in c.list_secrets(km.ListSecretsRequest()).body.secret_list.secret]
    c.delete_secret(km.DeleteSecretRequest(secret_name="db/password", force_delete_without_recovery="true"))
    assert tea_error(lambda: c.get_secret_value(km.GetSecretValueRequest(secret_name="db/password")))[1] == 404


def test_rpc_sdk(world):
    s, app = world["server"], world["keys"]["app"]
    c = rpc(s, app)
    r = ListKeysRequest.ListKeysRequest()
    assert "Keys" in rpc_do(c, s, r)
    key = tea(s, app).create_key(km.CreateKeyRequest()).body.key_metadata.key_id
    r = DescribeKeyRequest.DescribeKeyRequest(); r.set_KeyId(key)
    assert rpc_do(c, s, r)["KeyMetadata"]["KeyId"] == key
    for ctx in [None, {"order": "42", "space": "a b&c=d"}]:
        r = EncryptRequest.EncryptRequest(); r.set_KeyId(key); r.set_Plaintext(b64(b"rpc"))
        if ctx:
            r.set_EncryptionContext(json.dumps(ctx))
        blob = rpc_do(c, s, r)["CiphertextBlob"]
        r = DecryptRequest.DecryptRequest(); r.set_CiphertextBlob(blob)
        if ctx:
            r.set_EncryptionContext(json.dumps(ctx))
        assert rpc_do(c, s, r)["Plaintext"] == b64(b"rpc")
    r = GenerateDataKeyRequest.GenerateDataKeyRequest(); r.set_KeyId(key); r.set_NumberOfBytes(24)
    g = rpc_do(c, s, r)
    assert len(base64.b64decode(g["Plaintext"])) == 24
    r = CreateAliasRequest.CreateAliasRequest(); r.set_KeyId(key); r.set_AliasName("alias/rpc-sdk")
    rpc_do(c, s, r)
    r = EncryptRequest.EncryptRequest(); r.set_KeyId("alias/rpc-sdk"); r.set_Plaintext("aGk=")
    assert rpc_do(c, s, r)["KeyId"] == key


def rpc_error(client, server, req):
    with pytest.raises(ServerException) as e:
        rpc_do(client, server, req)
    return e.value.get_error_code(), e.value.get_http_status()


def test_error_paths(world):
    s, keys = world["server"], world["keys"]
    key = tea(s, keys["app"]).create_key(km.CreateKeyRequest()).body.key_metadata.key_id
    # Unknown key.
    r = EncryptRequest.EncryptRequest(); r.set_KeyId("alias/none"); r.set_Plaintext("aGk=")
    assert rpc_error(rpc(s, keys["app"]), s, r) == ("Forbidden.AliasNotFound", 404)
    # Denied by policy: the read-only user may describe, not encrypt.
    reader = tea(s, keys["reader"])
    assert reader.describe_key(km.DescribeKeyRequest(key_id=key)).body.key_metadata.key_id == key
    assert tea_error(lambda: reader.encrypt(km.EncryptRequest(key_id=key, plaintext="aGk="))) \
        == ("Forbidden.NoPermission", 403)
    r = EncryptRequest.EncryptRequest(); r.set_KeyId(key); r.set_Plaintext("aGk=")
    assert rpc_error(rpc(s, keys["reader"]), s, r) == ("Forbidden.NoPermission", 403)
    # Bad signatures: the right AccessKeyId with a wrong secret, in both styles.
    wrong = dict(keys["app"], AccessKeySecret="not-the-secret")
    assert tea_error(lambda: tea(s, wrong).describe_key(km.DescribeKeyRequest(key_id=key))) \
        == ("SignatureDoesNotMatch", 400)
    # aliyun-python-sdk-core compares the server's string to sign with its own: equal
    # (byte for byte) makes it say the secret is wrong.
    r = DescribeKeyRequest.DescribeKeyRequest(); r.set_KeyId(key)
    assert rpc_error(rpc(s, wrong), s, r) == ("InvalidAccessKeySecret", 400)
    # With a Plaintext in the request the string is not echoed back.
    r = EncryptRequest.EncryptRequest(); r.set_KeyId(key); r.set_Plaintext(b64(b"gw-SRLEAK-pt"))
    assert rpc_error(rpc(s, wrong), s, r) == ("SignatureDoesNotMatch", 400)
    # An AccessKeyId the store never issued.
    r = DescribeKeyRequest.DescribeKeyRequest(); r.set_KeyId(key)
    assert rpc_error(rpc(s, dict(wrong, AccessKeyId="LTAInotissued")), s, r) \
        == ("InvalidAccessKeyId.NotFound", 404)


def test_sts_credentials(world):
    s, keys, acct = world["server"], world["keys"], world["account"]
    sts = tea(s, keys["ops"], cls=TeaSts)
    creds = sts.assume_role(sm.AssumeRoleRequest(role_arn=f"acs:ram::{acct}:role/browser",
                                                 role_session_name="page", duration_seconds=900)).body.credentials
    assert creds.access_key_id.startswith("STS.")
    app = tea(s, keys["app"])
    key = app.create_key(km.CreateKeyRequest()).body.key_metadata.key_id
    blob = app.encrypt(km.EncryptRequest(key_id=key, plaintext=b64(b"for the page"))).body.ciphertext_blob
    temp = {"AccessKeyId": creds.access_key_id, "AccessKeySecret": creds.access_key_secret}
    page = tea(s, temp, token=creds.security_token)
    assert page.decrypt(km.DecryptRequest(ciphertext_blob=blob)).body.plaintext == b64(b"for the page")
    assert tea_error(lambda: page.encrypt(km.EncryptRequest(key_id=key, plaintext="aGk=")))[0] \
        == "Forbidden.NoPermission"
    # A token that is not the one issued with the id.
    bad = tea(s, temp, token=creds.security_token[:-4] + "AAAA")
    assert tea_error(lambda: bad.decrypt(km.DecryptRequest(ciphertext_blob=blob)))[0].startswith("InvalidSecurityToken")


def test_tls_with_the_development_ca(tls_world):
    s, app = tls_world["server"], tls_world["keys"]["app"]
    assert s.scheme == "https" and os.path.exists(s.ca)
    c = tea(s, app)
    key = c.create_key(km.CreateKeyRequest()).body.key_metadata.key_id
    blob = c.encrypt(km.EncryptRequest(key_id=key, plaintext=b64(b"over tls"))).body.ciphertext_blob
    r = DecryptRequest.DecryptRequest(); r.set_CiphertextBlob(blob)
    assert rpc_do(rpc(s, app), s, r)["Plaintext"] == b64(b"over tls")


def test_the_audit_trail_names_the_network_caller(world):
    s, acct = world["server"], world["account"]
    c = tea(s, world["keys"]["app"])
    key = c.create_key(km.CreateKeyRequest(description="audited")).body.key_metadata.key_id
    c.encrypt(km.EncryptRequest(key_id=key, plaintext="aGk="))
    import time
    deadline = time.time() + 5
    while time.time() < deadline:
        events = [json.loads(l) for l in open(world["store"] + ".audit") if '"Encrypt"' in l and key in l]
        if events:
            break
        time.sleep(0.05)
    assert events, "the Encrypt through the gateway was not audited"
    text = json.dumps(events[-1])
    assert f"acs:ram::{acct}:user/app" in text and "127.0.0.1" in text
