"""Pre-signs N ACS3-HMAC-SHA256 requests for one action (fresh nonce each, the
current time) for wrk to replay in order: each line is
`authorization<TAB>nonce<TAB>date<TAB>query`. Signing here, not in wrk, keeps the load
generator's cost out of the measurement. Usage:
gateway_requests.py ACCESS_KEY_FILE HOST ACTION 'K=V&…' N OUT"""
import hashlib
import hmac
import json
import sys
import time
import urllib.parse
import uuid

ak_file, host, action, params, n, out = sys.argv[1:7]
ak = json.load(open(ak_file))
secret = ak["AccessKeySecret"].encode()
query = sorted(urllib.parse.parse_qsl(params, keep_blank_values=True, strict_parsing=True))
enc = lambda s: urllib.parse.quote(s, safe="~")
canon_query = "&".join(f"{enc(k)}={enc(v)}" for k, v in query)
raw_query = canon_query
empty = hashlib.sha256(b"").hexdigest()
date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
names = "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
with open(out, "w") as f:
    for _ in range(int(n)):
        nonce = uuid.uuid4().hex
        headers = (f"host:{host}\nx-acs-action:{action}\nx-acs-content-sha256:{empty}\n"
                   f"x-acs-date:{date}\nx-acs-signature-nonce:{nonce}\nx-acs-version:2016-01-20\n")
        canon = f"POST\n/\n{canon_query}\n{headers}\n{names}\n{empty}"
        sts = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canon.encode()).hexdigest()
        sig = hmac.new(secret, sts.encode(), hashlib.sha256).hexdigest()
        auth = f"ACS3-HMAC-SHA256 Credential={ak['AccessKeyId']},SignedHeaders={names},Signature={sig}"
        f.write(f"{auth}\t{nonce}\t{date}\t{raw_query}\n")
