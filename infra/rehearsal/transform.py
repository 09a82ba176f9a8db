"""Expands template.yaml's AWS::Serverless-2016-10-31 transform into a plain
CloudFormation template (JSON on stdout), as CloudFormation does on deploy.

Runs with the SAM CLI's interpreter (.venv-iac/sam/bin/python): the SAM translator
(`samtranslator`) and the SAM CLI's YAML reader (which understands !Ref, !Sub, ...)
come with it, at the versions `sam validate` and `sam deploy` use.

Usage: transform.py TEMPLATE CODE_URI [Key=Value ...]
  CODE_URI  the s3:// location every function's code is taken from, standing in for
            what `sam build && sam deploy` uploads (the template's CodeUri is the
            workspace, a local path that only `sam package` resolves).
  Key=Value template parameters, as `sam deploy --parameter-overrides` takes them.
"""

import json
import sys

from samcli.yamlhelper import yaml_parse
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform


class NoManagedPolicies(ManagedPolicyLoader):
    """The template names no AWS managed policy (every role is written out), so the
    translator never needs IAM's list of them."""

    def __init__(self):  # no IAM client: nothing to look up
        self._policy_map = {}

    def load(self):
        return {}


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    path, code_uri, params = argv[1], argv[2], argv[3:]
    with open(path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    for name, res in template.get("Resources", {}).items():
        if res.get("Type") == "AWS::Serverless::Function":
            res["Properties"]["CodeUri"] = code_uri
    parameters = dict(p.split("=", 1) for p in params)
    try:
        out = transform(template, parameters, NoManagedPolicies())
    except InvalidDocumentException as e:
        sys.exit(f"transform: {path} is not a valid SAM template: "
                 + "; ".join(str(c) for c in e.causes))
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv)
