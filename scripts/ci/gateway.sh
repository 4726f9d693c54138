#!/usr/bin/env bash
# The gateway (`strongroom serve`) against Alibaba's own SDKs, installed unmodified
# from PyPI into their own venv (.venv-gateway; skipped when already there at these
# versions): alibabacloud_kms20160120 (Tea, ACS3-HMAC-SHA256), aliyun-python-sdk-kms
# (RPC, HMAC-SHA1), alibabacloud_sts20150401 (AssumeRole), and npm's
# @alicloud/kms20160120 (tests/gateway/node) and the secrets caching client
# aliyun-secret-manager-client; plus the fault tests
# (replays, limits, slow clients, throttling, SIGTERM, SIGKILL under load).
set -euo pipefail
cd "$(dirname "$0")/../.."
V=.venv-gateway
[ -x "$V/bin/python" ] || python3 -m venv "$V"
"$V/bin/python" -m pip install -q --disable-pip-version-check \
  alibabacloud_kms20160120==3.3.1 alibabacloud_tea_openapi==0.4.6 alibabacloud_sts20150401==1.2.0 \
  aliyun-python-sdk-kms==2.16.5 aliyun-python-sdk-core==2.16.1 aliyun-secret-manager-client==0.1.5 alibabacloud-dkms-gcs==1.0.2 \
  pytest==8.3.4
# npm's @alicloud/kms20160120, at the version the lock file pins.
[ -d tests/gateway/node/node_modules/@alicloud/kms20160120 ] \
  || (cd tests/gateway/node && npm ci --no-audit --no-fund --loglevel=error)
cargo build -q -p strongroom-cli
SR="$PWD/target/debug/strongroom" "$V/bin/python" -m pytest -q -p no:cacheprovider tests/gateway
