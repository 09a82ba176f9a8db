"""Deploy rehearsal: the README's deploy path, run against the local emulator.

1. Expands template.yaml with the SAM translator (transform.py, in the SAM CLI's
   virtualenv) and creates the stack in moto's CloudFormation, under the stack name
   and region the README's post-deploy block uses.
2. Runs that block (README.md, after `<!-- rehearsal: post-deploy -->`) command by
   command in one bash, word for word. The only differences from an operator's shell:
   AWS_ENDPOINT_URL and fake credentials point every client (AWS CLI, m2m-admin) at the
   emulator; the `<client_id>`/`<client_secret>` placeholders are filled from what
   `client create` printed, as an operator pastes them; and `curl` is a function that
   sends requests for the stack's API URL to the functions served locally, standing
   in for API Gateway (which moto's CloudFormation does not create).
3. Serves the token and JWKS functions with `cargo lambda watch`, with the environment
   the stack gave them (Lambda GetFunctionConfiguration).
4. Verifies the token the block obtained against the JWKS with PyJWT, checks that the
   template's key signed it (kid = RFC 7638 thumbprint of the stack key's public key),
   and evaluates (policy.py) whether the token role may kms:Sign with the active key,
   and with a key `m2m-admin keys create --stack` makes, and that an administrator
   with kms:* may not: the emulator enforces none of this. The two keys' policies
   must be the same statements.

Workarounds for moto 5.2's CloudFormation, applied here and nowhere else:
- AWS::ApiGatewayV2::* is not supported (a GetAtt on a skipped resource crashes the
  stack): those resources are removed, and `HttpApi` becomes a parameter holding a
  made-up API id, so every `${HttpApi}` URL still resolves.
- AWS::KMS::Key ignores KeySpec and KeyUsage (it makes a symmetric key) and crashes on
  CloudFormation-style tags (Key/Value, where its KMS API wants TagKey/TagValue): the
  handler is replaced by one that passes all four through, and the key policy as JSON.
- AWS::IAM::Role crashes on a Policies entry that is `!If [..., !Ref AWS::NoValue]`
  (the claims-hook policy without a hook): AWS drops such entries, so does the patch.
  It also stores inline policy documents as Python reprs rather than JSON: the patch
  hands it JSON, so GetRolePolicy returns the documents the rehearsal evaluates.
- Function code: the template's CodeUri is the workspace (sam build's input), so the
  functions are created from a placeholder zip in the emulator's S3; they run from
  source under `cargo lambda watch`.

Usage: rehearse.py  (from infra/rehearsal/run, which prepares the tools)
"""

import base64
import hashlib
import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
import warnings
import zipfile

import boto3
import jwt
import requests
from cryptography.hazmat.primitives.serialization import load_der_public_key
from moto.iam.models import Role
from moto.kms.models import Key, kms_backends
from moto.server import ThreadedMotoServer

import policy

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MARKER = "<!-- rehearsal: post-deploy -->"
SAM_PYTHON = os.path.join(ROOT, ".venv-iac", "sam", "bin", "python")
CODE_BUCKET, CODE_KEY = "rehearsal-code", "m2m-auth.zip"
FAKE_API_ID = "rehearsalapi"
SIGNING_ALGORITHMS = {"RS256": "RSASSA_PKCS1_V1_5_SHA_256", "ES256": "ECDSA_SHA_256"}


class Failed(Exception):
    """The deploy path does not work as the README says."""


def step(msg):
    print(f"rehearsal: {msg}", flush=True)


# ------------------------------------------------------------------ moto workarounds

def _kms_key_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = cloudformation_json["Properties"]
    key_policy = props.get("KeyPolicy")
    key = kms_backends[account_id][region_name].create_key(
        policy=key_policy if isinstance(key_policy, str) or key_policy is None
        else json.dumps(key_policy),
        key_usage=props.get("KeyUsage", "ENCRYPT_DECRYPT"),
        key_spec=props.get("KeySpec", "SYMMETRIC_DEFAULT"),
        description=props.get("Description"),
        tags=[{"TagKey": t["Key"], "TagValue": t["Value"]} for t in props.get("Tags", [])],
    )
    key.enabled = props.get("Enabled", True)
    return key


_role_from_cfn = Role.create_from_cloudformation_json.__func__


def _role_without_novalue(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = cloudformation_json.get("Properties", {})
    if "Policies" in props:
        props["Policies"] = [
            {**p, "PolicyDocument": p["PolicyDocument"] if isinstance(p["PolicyDocument"], str)
             else json.dumps(p["PolicyDocument"])}
            for p in props["Policies"] if p is not None
        ]
    return _role_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)


def patch_moto():
    # Quiet: one line per request, and a warning per skipped resource, drown the steps.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Tried to parse AWS::ApiGatewayV2")
    Key.create_from_cloudformation_json = classmethod(_kms_key_from_cfn)
    Role.create_from_cloudformation_json = classmethod(_role_without_novalue)


def deployable(template):
    """The transformed template minus what moto cannot create (see the module doc)."""
    template = json.loads(json.dumps(template))
    skipped = [n for n, r in template["Resources"].items()
               if r["Type"].startswith("AWS::ApiGatewayV2::")]
    for name in skipped:
        del template["Resources"][name]
    template.setdefault("Parameters", {})["HttpApi"] = {"Type": "String", "Default": FAKE_API_ID}
    return template, skipped


# ------------------------------------------------------------------ helpers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme_block():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    if MARKER not in text:
        raise Failed(f"README.md has no post-deploy block (a ```sh block after {MARKER})")
    m = re.search(r"```(?:sh|bash|console)\n(.*?)\n```", text.split(MARKER, 1)[1], re.S)
    if not m:
        raise Failed(f"no ```sh block follows {MARKER} in README.md")
    commands, current = [], ""
    for line in m.group(1).splitlines():
        current += line
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        if current.strip():
            commands.append(current)
        current = ""
    return commands


def readme_value(commands, pattern, what):
    for c in commands:
        m = re.match(pattern, c.strip())
        if m:
            return m.group(1)
    raise Failed(f"the README's post-deploy block does not set {what}")


def as_document(doc):
    """A policy document as IAM returns it: a dict, or URL-encoded JSON."""
    return doc if isinstance(doc, dict) else json.loads(urllib.parse.unquote(doc))


def thumbprint(der):
    """RFC 7638 §3: SHA-256 of the canonical JSON of the required members."""
    numbers = load_der_public_key(der).public_numbers()

    def b64(n, length=None):
        raw = n.to_bytes(length or (n.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    if hasattr(numbers, "n"):
        members = {"e": b64(numbers.e), "kty": "RSA", "n": b64(numbers.n)}
    else:
        members = {"crv": "P-256", "kty": "EC", "x": b64(numbers.x, 32), "y": b64(numbers.y, 32)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


class Shell:
    """One bash that runs the README's commands in order, keeping their variables."""

    def __init__(self, env, secrets):
        self.secrets = secrets
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.marker = f"__rehearsal_{uuid.uuid4().hex}__"

    def redact(self, text):
        for s in self.secrets:
            text = text.replace(s, "[redacted]")
        return re.sub(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+", "[token]", text)

    def run(self, command):
        self.proc.stdin.write(f"{command}\nprintf '\\n{self.marker} %s\\n' \"$?\"\n")
        self.proc.stdin.flush()
        lines = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise Failed(f"bash exited while running: {command}")
            if line.startswith(self.marker):
                rc = int(line.split()[1])
                break
            lines.append(line)
        out = "".join(lines).rstrip("\n")
        if rc != 0:
            raise Failed(f"`{command}` exited with {rc}:\n{self.redact(out)}")
        return out

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def start_watch(env, port, log_path):
    log = open(log_path, "w")
    return subprocess.Popen(
        [os.path.join(ROOT, ".venv", "bin", "cargo-lambda"), "lambda", "watch",
         "--ignore-changes", "--invoke-address", "127.0.0.1", "--invoke-port", str(port)],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        start_new_session=True)


def wait_served(url, watch, log_path):
    """GETs `url` until its function answers (each is compiled and started on first
    use), and returns the answer."""
    deadline = time.time() + 20 * 60
    while True:
        try:
            r = requests.get(url, timeout=600)
            if r.status_code in (200, 405):
                return r
        except requests.RequestException:
            pass
        if watch.poll() is not None or time.time() > deadline:
            with open(log_path) as f:
                tail = f.read()[-3000:]
            raise Failed(f"cargo lambda watch did not serve {url}:\n{tail}")
        time.sleep(0.5)


# ------------------------------------------------------------------ the rehearsal

def rehearse(work):
    policy.self_test()
    commands = readme_block()
    stack_name = readme_value(commands, r"^STACK=([A-Za-z][-A-Za-z0-9]*)\b", "STACK=<name>")
    region = readme_value(commands, r"^export AWS_REGION=([a-z0-9-]+)\b", "export AWS_REGION=<region>")

    step(f"transforming template.yaml with the SAM translator (region {region})")
    transformed = subprocess.run(
        [SAM_PYTHON, os.path.join(ROOT, "infra", "rehearsal", "transform.py"),
         os.path.join(ROOT, "template.yaml"), f"s3://{CODE_BUCKET}/{CODE_KEY}"],
        env={**os.environ, "AWS_REGION": region, "AWS_DEFAULT_REGION": region},
        capture_output=True, text=True)
    if transformed.returncode != 0:
        raise Failed(f"the SAM transform failed:\n{transformed.stderr}")
    template, skipped = deployable(json.loads(transformed.stdout))
    with open(os.path.join(work, "template.json"), "w") as f:
        json.dump(template, f, indent=1)

    patch_moto()
    moto_port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{moto_port}"
    creds = {"AWS_ACCESS_KEY_ID": "rehearsal", "AWS_SECRET_ACCESS_KEY": "rehearsal"}
    aws = dict(endpoint_url=endpoint, region_name=region,
               aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal")
    watch = None
    try:
        s3 = boto3.client("s3", **aws)
        # us-east-1 is S3's default location and refuses to be named as one.
        s3.create_bucket(Bucket=CODE_BUCKET, **({} if region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}))
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as z:
            z.writestr("bootstrap", "#!/bin/sh\nexit 1\n")
        s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=code.getvalue())

        step(f"creating stack {stack_name} in the emulator's CloudFormation "
             f"(skipped, unsupported by moto: {', '.join(sorted(skipped))})")
        cfn = boto3.client("cloudformation", **aws)
        cfn.create_stack(StackName=stack_name, TemplateBody=json.dumps(template),
                         Capabilities=["CAPABILITY_IAM"])
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        if stack["StackStatus"] != "CREATE_COMPLETE":
            raise Failed(f"stack {stack_name}: {stack['StackStatus']} {stack.get('StackStatusReason')}")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        resources = {r["LogicalResourceId"]: r.get("PhysicalResourceId")
                     for r in cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]}

        # The functions' environment, as Lambda holds it.
        lam = boto3.client("lambda", **aws)
        fn_env = {}
        for logical in ["TokenFunction", "JwksFunction"]:
            conf = lam.get_function_configuration(FunctionName=resources[logical])
            fn_env[logical] = {k: str(v) for k, v in conf.get("Environment", {}).get("Variables", {}).items()}
        shared = set(fn_env["TokenFunction"]) & set(fn_env["JwksFunction"])
        for k in shared:
            if fn_env["TokenFunction"][k] != fn_env["JwksFunction"][k]:
                raise Failed(f"the token and JWKS functions disagree on {k}")
        for k in ["M2M_TABLE", "M2M_ISSUER", "M2M_SIGNING_KEY"]:
            if k not in shared:
                raise Failed(f"the stack does not give both functions {k}")
        if fn_env["TokenFunction"]["M2M_ISSUER"] != outputs["Issuer"]:
            raise Failed("the functions' M2M_ISSUER is not the stack's Issuer output")

        step("serving the token and JWKS functions with the stack's environment (cargo lambda watch)")
        port = free_port()
        local = f"http://127.0.0.1:{port}"
        log_path = os.path.join(ROOT, "target", "e2e-watch-rehearsal.log")
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "M2M_"))}
        watch_env = {**base_env, **fn_env["JwksFunction"], **fn_env["TokenFunction"], **creds,
                     "AWS_REGION": region, "AWS_ENDPOINT_URL": endpoint, "RUST_LOG": "info"}
        watch = start_watch(watch_env, port, log_path)
        # Only the token function: the JWKS function would cache the still empty key
        # registry (60 s), as it would in AWS if called before `init`.
        wait_served(local + "/oauth/token", watch, log_path)

        step("running the README's post-deploy block, word for word")
        secrets = []
        shell_env = {**base_env, **creds, "AWS_ENDPOINT_URL": endpoint,
                     "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": "",
                     "PATH": os.path.join(ROOT, ".venv", "bin") + os.pathsep + os.environ["PATH"]}
        sh = Shell(shell_env, secrets)
        api_url = outputs["ApiUrl"]
        sh.run("set -o pipefail")
        sh.run(f"__api_url='{api_url}' __local_url='{local}'")
        sh.run('curl() { local a; local -a args=(); for a in "$@"; do '
               'args+=("${a/#"$__api_url"/$__local_url}"); done; command curl "${args[@]}"; }')
        pasted = {}
        out = ""
        for command in commands:
            for name, value in pasted.items():
                command = command.replace(f"<{name}>", value)
            if re.search(r"<[a-z_]+>", command):
                raise Failed(f"nothing printed earlier fills the placeholder in: {command}")
            step(f"  $ {sh.redact(command)}")
            out = sh.run(command)
            for name in ["client_id", "client_secret"]:
                m = re.search(rf"^{name}:\s+(\S+)", out, re.M)
                if m:
                    pasted[name] = m.group(1)
                    if name == "client_secret":
                        secrets.append(m.group(1))
        sh.close()
        try:
            answer = json.loads(out)
            token = answer["access_token"]
        except (ValueError, KeyError, TypeError):
            raise Failed(f"the block's last command did not print a token:\n{sh.redact(out)}")

        step("verifying the token against the published JWKS with PyJWT")
        jwks_url = outputs["JwksUrl"]
        if not jwks_url.startswith(api_url):
            raise Failed(f"JwksUrl {jwks_url} is not under the API URL {api_url}")
        jwks = wait_served(local + jwks_url[len(api_url):], watch, log_path).json()
        header = jwt.get_unverified_header(token)
        keys = {k["kid"]: k for k in jwks.get("keys", [])}
        if header.get("kid") not in keys:
            raise Failed(f"the token's kid {header.get('kid')} is not in the JWKS ({list(keys)})")
        unverified = jwt.decode(token, options={"verify_signature": False})
        claims = jwt.decode(token, jwt.PyJWK(keys[header["kid"]]).key, algorithms=["RS256", "ES256"],
                            audience=unverified.get("aud"), issuer=outputs["Issuer"])
        step(f"  token verified: iss {claims['iss']}, aud {claims['aud']}, scope {claims.get('scope')}")

        kms = boto3.client("kms", **aws)
        stack_key = kms.get_public_key(KeyId=outputs["SigningKeyArn"])
        if header["kid"] != thumbprint(stack_key["PublicKey"]):
            raise Failed(f"the token was signed by kid {header['kid']}, not by the template's "
                         f"key {outputs['SigningKeyArn']} (kid {thumbprint(stack_key['PublicKey'])})")
        step("  the template's key signed it (kid = RFC 7638 thumbprint of its public key)")

        # The template leaves deletion protection unset (a failed first deploy must be
        # able to roll back and delete the table); `init` turns it on.
        table = boto3.client("dynamodb", **aws).describe_table(TableName=outputs["TableName"])["Table"]
        if not table.get("DeletionProtectionEnabled"):
            raise Failed(f"table {outputs['TableName']} has no deletion protection after init")
        step("  init turned on the table's deletion protection")

        step("evaluating the token role's kms:Sign permission (the emulator enforces no IAM)")
        iam = boto3.client("iam", **aws)
        role = iam.get_role(RoleName=resources["TokenRole"])["Role"]
        identity = [as_document(iam.get_role_policy(RoleName=role["RoleName"], PolicyName=p)["PolicyDocument"])
                    for p in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]]
        if not identity:
            raise Failed(f"the token role {role['Arn']} has no policies")
        account = role["Arn"].split(":")[4]
        admin_env = {**shell_env, "AWS_REGION": region, "M2M_TABLE": outputs["TableName"],
                     "PATH": os.path.join(ROOT, "target", "debug") + os.pathsep + shell_env["PATH"]}

        def admin(*args):
            r = subprocess.run(["m2m-admin", "--json", *args], env=admin_env,
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise Failed(f"m2m-admin {' '.join(args)}: {r.stderr}")
            return json.loads(r.stdout)

        active = [k for k in admin("keys", "list")["keys"] if k["status"] == "active"]
        if len(active) != 1:
            raise Failed(f"expected one active key after the README's steps, found {len(active)}")
        rotated = admin("keys", "create", "--stack", stack_name)

        def check_key(label, registered):
            arn = kms.describe_key(KeyId=registered["kms_key_id"])["KeyMetadata"]["Arn"]
            tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=arn)["Tags"]}
            key_policy = json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])
            context = {f"aws:ResourceTag/{k}": v for k, v in tags.items()}
            context.update({"kms:MessageType": "RAW",
                            "kms:SigningAlgorithm": SIGNING_ALGORITHMS[registered["alg"]]})
            allowed, why = policy.decide(role["Arn"], account, identity, key_policy,
                                         "kms:Sign", arn, context)
            if not allowed:
                raise Failed(f"the token role ({role['Arn']}) could not kms:Sign with the "
                             f"{label} ({arn}, tags {tags}): {why}")
            step(f"  token role may sign with the {label}: {why}")
            admin_arn = f"arn:aws:iam::{account}:role/Administrator"
            everything = [{"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}]
            allowed, why = policy.decide(admin_arn, account, everything, key_policy,
                                         "kms:Sign", arn, context)
            if allowed:
                raise Failed(f"an administrator with kms:* could sign with the {label}: {why}")
            step(f"  an administrator with kms:* may not sign with it: {why}")
            for name, value in [("kms:MessageType", "DIGEST"),
                                ("aws:ResourceTag/m2m-auth:stack", "another-stack")]:
                allowed, _ = policy.decide(role["Arn"], account, identity, key_policy,
                                           "kms:Sign", arn, {**context, name: value})
                if allowed:
                    raise Failed(f"the token role could sign with {name}={value}")

        check_key("active key", active[0])
        check_key("key `keys create --stack` made", rotated)

        def key_policy_of(key_id):
            doc = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
            return sorted(json.dumps(st, sort_keys=True) for st in policy.statements(doc))

        if key_policy_of(outputs["SigningKeyArn"]) != key_policy_of(rotated["kms_key_id"]):
            raise Failed("the key policy `keys create --stack` writes differs from the "
                         "template's SigningKey policy")
        step("  `keys create --stack` writes the template key's policy")
        step("passed: the README's deploy path issues a verifiable token signed by the stack's key")
    finally:
        if watch is not None:
            try:
                os.killpg(watch.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            watch.wait(timeout=30)
        server.stop()


def main():
    work = os.path.join(ROOT, "target", "rehearsal")
    os.makedirs(work, exist_ok=True)
    try:
        rehearse(work)
    except Failed as e:
        print(f"rehearsal: FAILED: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
