# Environment of the local stack, sourced by infra/local/run (and handy in a shell:
# `source infra/local/env.sh` to point m2m-admin and the AWS CLI at the emulator).
: "${M2M_LOCAL_AWS_PORT:=4566}"
: "${M2M_LOCAL_PORT:=9000}"
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-local}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-local}
export AWS_ENDPOINT_URL="http://127.0.0.1:${M2M_LOCAL_AWS_PORT}"
# The token function reaches the claims hook through cargo lambda watch's invoke API.
export AWS_ENDPOINT_URL_LAMBDA="http://127.0.0.1:${M2M_LOCAL_PORT}"
export M2M_TABLE=${M2M_TABLE:-m2m-auth-local}
export M2M_ISSUER=${M2M_ISSUER:-http://127.0.0.1:${M2M_LOCAL_PORT}}
# Used only while no key is active in the registry; `m2m-admin init` activates one.
export M2M_SIGNING_KEY=${M2M_SIGNING_KEY:-alias/m2m-auth-local}
export M2M_CLAIMS_HOOK=${M2M_CLAIMS_HOOK-claims-hook}
# The management API: the stack its new signing keys belong to (moto's account), and
# the stand-in principal for requests without SigV4 (honoured by debug builds only; the
# local stack has no API Gateway to verify signatures). Never set in template.yaml.
export M2M_STACK=${M2M_STACK:-local}
export M2M_PARTITION=${M2M_PARTITION:-aws}
export M2M_ACCOUNT_ID=${M2M_ACCOUNT_ID:-123456789012}
export M2M_ADMIN_LOCAL_PRINCIPAL=${M2M_ADMIN_LOCAL_PRINCIPAL:-local-operator}
# Client key sets (`jwks_uri`) and trusted issuers may be served on loopback over
# http in the local stack (debug builds only; private and link-local addresses stay
# refused). Trusted external issuers for workload identity federation, if any:
export M2M_FETCH_ALLOW_LOOPBACK=${M2M_FETCH_ALLOW_LOOPBACK:-1}
export M2M_TRUSTED_ISSUERS=${M2M_TRUSTED_ISSUERS-}
