"""Drives Parley's secrets API with hvac, the HashiCorp Vault client, unchanged.

Usage: hvac_client.py URL CA_FILE JWT_SVID
Logs in with the JWT-SVID (JWT auth method mounted at `spiffe`), then writes, reads, lists and
reads an old version through KV v2 and checks CAS; prints one JSON object with what it saw.
"""
import json
import sys

import hvac
from hvac.exceptions import Forbidden, InvalidRequest

url, ca, jwt = sys.argv[1], sys.argv[2], sys.argv[3]
client = hvac.Client(url=url, verify=ca)
login = client.auth.jwt.jwt_login(role="app", jwt=jwt, path="spiffe")
out = {"token_prefix": login["auth"]["client_token"][:4], "authenticated": client.is_authenticated()}
kv = client.secrets.kv.v2
w1 = kv.create_or_update_secret(path="app/hvac", secret={"password": "hvac-one"}, mount_point="secret")
w2 = kv.create_or_update_secret(path="app/hvac", secret={"password": "hvac-two"}, cas=1, mount_point="secret")
out["versions"] = [w1["data"]["version"], w2["data"]["version"]]
latest = kv.read_secret_version(path="app/hvac", mount_point="secret", raise_on_deleted_version=True)
old = kv.read_secret_version(path="app/hvac", version=1, mount_point="secret", raise_on_deleted_version=True)
out["latest"] = latest["data"]["data"]["password"]
out["old"] = old["data"]["data"]["password"]
out["list"] = kv.list_secrets(path="app", mount_point="secret")["data"]["keys"]
try:
    kv.create_or_update_secret(path="app/hvac", secret={"password": "x"}, cas=1, mount_point="secret")
    out["cas"] = "accepted"
except InvalidRequest as e:
    out["cas"] = str(e).split(",")[0]
try:
    kv.read_secret_version(path="other/secret", mount_point="secret", raise_on_deleted_version=True)
    out["forbidden"] = "allowed"
except Forbidden:
    out["forbidden"] = "403"
meta = kv.read_secret_metadata(path="app/hvac", mount_point="secret")
out["current_version"] = meta["data"]["current_version"]
print(json.dumps(out))
