"""Alibaba's secrets caching client, aliyun-secret-manager-client (PyPI), unmodified,
reading a secret through `strongroom serve` over HTTPS (it always speaks HTTPS, and
does not verify the certificate: its own choice, `AcsClient(verify=False)`)."""
from alibaba_cloud_secretsmanager_client.model.region_info import RegionInfo
from alibaba_cloud_secretsmanager_client.secret_manager_cache_client_builder import \
    SecretManagerCacheClientBuilder
from alibaba_cloud_secretsmanager_client.service.default_secret_manager_client_builder import \
    DefaultSecretManagerClientBuilder
from alibabacloud_kms20160120 import models as km

from test_sdks import tea


def test_secret_manager_cache_client(tls_world):
    s, app = tls_world["server"], tls_world["keys"]["app"]
    tea(s, app).create_secret(km.CreateSecretRequest(
        secret_name="cache/db-password", secret_data="cache-SRLEAK-1", version_id="v1"))
    client = DefaultSecretManagerClientBuilder.standard() \
        .with_access_key(app["AccessKeyId"], app["AccessKeySecret"]) \
        .add_region_info(RegionInfo(region_id="cn-hangzhou", endpoint=s.endpoint)) \
        .build()
    cache = SecretManagerCacheClientBuilder.new_cache_client_builder(client).build()
    try:
        info = cache.get_secret_info("cache/db-password")
        assert info.secret_value == "cache-SRLEAK-1"
        assert info.secret_name == "cache/db-password" and info.version_id == "v1"
        # A new value reaches the cache when it refreshes.
        tea(s, app).put_secret_value(km.PutSecretValueRequest(
            secret_name="cache/db-password", secret_data="cache-SRLEAK-2", version_id="v2"))
        assert cache.refresh_now("cache/db-password")
        assert cache.get_secret_value("cache/db-password") == "cache-SRLEAK-2"
    finally:
        cache.close()
