"""`strongroom serve --rotate-command`: RotateSecret over the wire runs the server's
rotate command (an unmodified Alibaba SDK asks), and the new value is what
GetSecretValue answers; a failing command leaves ACSCurrent where it was."""
import tempfile

from alibabacloud_kms20160120 import models as km

from conftest import Server, make_store
from test_sdks import tea


def test_serve_rotates_with_its_rotate_command():
    store, keys, _ = make_store(tempfile.mkdtemp(prefix="sr-gateway-rot-"))
    # create prints the new value; set and test read it on stdin and succeed unless
    # the marker file says to fail.
    cmd = ('case "$STRONGROOM_ROTATION_STEP" in create) printf "rotated-by-serve-SRLEAK-%s" '
           '"$STRONGROOM_VERSION_ID";; *) cat >/dev/null; [ ! -e "$FAIL_MARK" ];; esac')
    mark = store + ".fail"
    s = Server(store, ["--rotate-command", cmd, "--sweep-interval-s", "1"], env={"FAIL_MARK": mark})
    try:
        c = tea(s, keys["app"])
        c.create_secret(km.CreateSecretRequest(secret_name="rot/db", secret_data="first-SRLEAK", version_id="v1"))
        r = c.rotate_secret(km.RotateSecretRequest(secret_name="rot/db", version_id="r1")).body
        assert r.version_id == "r1"
        v = c.get_secret_value(km.GetSecretValueRequest(secret_name="rot/db")).body
        assert v.secret_data == "rotated-by-serve-SRLEAK-r1" and v.version_id == "r1"
        # A failing step: the call fails, ACSCurrent stays.
        open(mark, "w").close()
        try:
            c.rotate_secret(km.RotateSecretRequest(secret_name="rot/db", version_id="r2"))
            raise AssertionError("a failing rotate command must fail RotateSecret")
        except Exception as e:  # the SDK's TeaException
            assert getattr(e, "code", "") == "Rejected.RotationFailed", e
        v = c.get_secret_value(km.GetSecretValueRequest(secret_name="rot/db")).body
        assert v.version_id == "r1"
    finally:
        assert s.stop() == 0, s.stderr
