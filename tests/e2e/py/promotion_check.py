"""promotion_check.py URI MODEL ALIAS VERSION REASON: read back with the real MLflow
client that ALIAS of MODEL names VERSION and that the version carries the
promotion tag model-promote wrote (who, when, why)."""
import json
import sys

from mlflow import MlflowClient

uri, model, alias, version, reason = sys.argv[1:6]
c = MlflowClient(uri, registry_uri=uri)
mv = c.get_model_version_by_alias(model, alias)
assert str(mv.version) == version, (alias, mv.version, version)
assert alias in mv.aliases, mv.aliases
tag = json.loads(mv.tags["mlf.promotion." + alias])
assert tag["reason"] == reason, tag
assert tag["rollback"] is False and tag["by"] and tag["at"].endswith("Z"), tag
print("%s -> %s, tagged %s" % (alias, mv.version, tag))
