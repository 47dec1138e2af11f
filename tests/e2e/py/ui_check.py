"""ui_check.py URL MODEL VERSION EXPERIMENT: what MLflow's UI fetches from a real `mlflow
server` for a model version's page and the experiment's "Logged models" list: the
version's MLmodel (which was a 404 before mlf logged MLflow Models), parsed as YAML the way
the UI does, and the logged models of the experiment, READY, listing the version."""
import json
import sys
import urllib.request

import yaml

url, model, version, experiment = sys.argv[1:5]
with urllib.request.urlopen(f"{url}/model-versions/get-artifact?path=MLmodel&name={model}&version={version}",
                            timeout=30) as r:
    assert r.status == 200, r.status
    mlmodel = yaml.safe_load(r.read())
assert mlmodel["flavors"]["python_function"]["loader_module"] == "mlf_yolo", mlmodel
req = urllib.request.Request(f"{url}/ajax-api/2.0/mlflow/logged-models/search", method="POST",
                             data=json.dumps({"experiment_ids": [experiment]}).encode(),
                             headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=30) as r:
    models = json.load(r)["models"]
ours = [m for m in models if m["info"]["model_id"] == mlmodel["model_id"]]
assert len(ours) == 1 and ours[0]["info"]["status"] == "LOGGED_MODEL_READY", models
tags = {t["key"]: t["value"] for t in ours[0]["info"].get("tags", [])}
assert {"name": model, "version": int(version)} in json.loads(tags["mlflow.modelVersions"]), tags
print("MLmodel of %s version %s served; logged model %s READY" % (model, version, mlmodel["model_id"]))
