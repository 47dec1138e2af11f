"""The torture test: crash or starve retrain-run at each of its write points,
then check that the record still tells the truth and the next night recovers.

    torture.py TEMPLATE WORKDIR [--sample N] [--steps a,b] [--actions kill,enospc] [-v]

TEMPLATE is a workspace (mlf.yaml, base model, corrections; scripts/torture
makes it) whose next retrain-prep makes v1.
A trace run (MLF_FAILPOINT_TRACE) lists every write point of a night, retrain-prep's
(step "prep") and retrain-run's (its twelve steps);
then for each point and action, on a fresh copy of TEMPLATE:

  night 1   retrain-prep | retrain-run, with MLF_FAILPOINT=STEP:N:ACTION
  check     what the tools and MLflow say right after the fault
  night 2   retrain-prep | retrain-run, no fault: it must recover and finish v1
  check     the invariants below, read back with the real MLflow client

Invariants (each broken one is printed, and makes the exit status 1):
  after the fault   the process died (kill); or it exited, leaving no run
                    RUNNING and the aliases naming only versions whose run is
                    FINISHED (a killed one can leave them moved, for the
                    next start to put back: the window is the two store
                    writes between moving them and ending the run); either
                    way model-locate and mlf-verify say v1 is deployable only
                    if its run is FINISHED.  (An mlf_run.json may still say
                    RUNNING after a write that failed once the run ended: the
                    next start corrects it, and night 2 checks that.)
  after night 2     night 2 exits 0; no run is RUNNING; exactly one FINISHED
                    run of v1 and no other version; models/ holds only
                    complete files that match their metadata and belong to a
                    FINISHED run; no temporary file is left in the workspace;
                    every mlf_run.json agrees with MLflow on its run's
                    status; model-locate and mlf-verify pass v1; the aliases
                    name only versions of FINISHED runs, champion on v1

Prints one line per case and a summary; exits 1 if any invariant broke.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import ViewType  # noqa: E402

TEMP_RE = re.compile(r"\.tmp\.\d+\.\d+")


def sh(args, cwd, env=None, stdin=None):
    """Run a program; its exit status (negative signal numbers as the shell shows them)."""
    e = dict(os.environ)
    e.pop("MLF_FAILPOINT", None)
    e.pop("MLF_FAILPOINT_TRACE", None)
    if env:
        e.update(env)
    with open(stdin or os.devnull, "rb") as inp:
        p = subprocess.run(args, cwd=cwd, env=e, stdin=inp, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    rc = p.returncode if p.returncode >= 0 else 128 - p.returncode
    return rc, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def fresh_copy(template, ws, server):
    """A new workspace from TEMPLATE and the store it writes to: its own SQLite
    store, made here (the experiment's artifact location is an absolute path,
    so a store cannot be copied); or, on a shared server, its own experiment
    and registered model.  Returns (tracking URI, experiment id, model name)."""
    shutil.rmtree(ws, ignore_errors=True)
    shutil.copytree(template, ws, symlinks=True)
    if not server:
        rc, _out, err = sh(["mlf-validate", "--init", "-q"], ws)
        if rc != 0:
            sys.exit("torture: mlf-validate --init failed in %s (%d): %s" % (ws, rc, err))
        # mlf's default registered model: the experiment's name (mlf-validate --init's)
        return "sqlite:///" + os.path.join(ws, "runs/mlflow/mlflow.db"), "1", "mlf-retraining"
    name = os.path.basename(ws)
    exp = MlflowClient(server).create_experiment(name)
    with open(os.path.join(ws, "mlf.yaml")) as f:
        conf = re.sub(r"(?m)^experiment_id: .*$", 'experiment_id: "%s"' % exp, f.read())
    with open(os.path.join(ws, "mlf.yaml"), "w") as f:
        f.write(conf + "registered_model: mlf-detector-%s\n" % name)
    return server, exp, "mlf-detector-" + name


PREP_FAILED = 1000  # night()'s status when retrain-prep failed: 1000 + its status


def night(ws, env=None):
    """retrain-prep | retrain-run in ws, both under `env`: (run's exit status, or
    PREP_FAILED + prep's; its document or None; stderr)."""
    rc, out, err = sh(["retrain-prep", "-q"], ws, env)
    if rc != 0:
        return PREP_FAILED + rc, None, "retrain-prep failed (%d): %s" % (rc, err)
    with open(os.path.join(ws, "night.json"), "w") as f:
        f.write(out)
    rc, out, err = sh(["retrain-run", "-q"], ws, env, os.path.join(ws, "night.json"))
    try:
        doc = json.loads(out) if out.strip() else None
    except ValueError:
        doc = None
    return rc, doc, err


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Case:
    def __init__(self, ws, store):
        self.ws = ws
        self.broken = []
        uri, self.experiment, self.model = store
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self.uri = uri

    def expect(self, cond, what):
        if not cond:
            self.broken.append(what)
        return cond

    def runs(self):
        return self.client.search_runs([self.experiment], run_view_type=ViewType.ALL, max_results=1000)

    def run_status(self, run_id):
        try:
            return self.client.get_run(run_id).info.status
        except Exception as e:  # noqa: BLE001 - any failure to read it is "not FINISHED"
            return "unreadable (%s)" % str(e).splitlines()[0][:120]

    def aliases_truthful(self, when):
        """Every alias names a version whose run is FINISHED; returns {alias: (version, run_id)}."""
        found = {}
        for rm in self.client.search_registered_models("name = '%s'" % self.model):
            for alias, version in (rm.aliases or {}).items():
                mv = self.client.get_model_version(rm.name, version)
                status = self.run_status(mv.run_id)
                self.expect(status == "FINISHED", "%s: alias %s names version %s, whose run %s is %s"
                            % (when, alias, version, mv.run_id, status))
                found[alias] = (version, mv.run_id)
        return found

    def tools_truthful(self, when, must_pass):
        v1 = [r for r in self.runs() if r.data.tags.get("version") == "v1"]
        finished = any(r.info.status == "FINISHED" for r in v1)
        for prog in (["model-locate", "-q", "v1"], ["mlf-verify", "-q", "--version", "v1"]):
            rc, out, err = sh(prog, self.ws)
            if must_pass:
                self.expect(rc == 0, "%s: %s exits %d: %s" % (when, prog[0], rc, err.strip()[-300:]))
            else:
                self.expect(rc != 0 or finished, "%s: %s says v1 is good (exit 0) but its run is not "
                            "FINISHED" % (when, prog[0]))
            if prog[0] == "model-locate" and rc in (0, 1) and out.strip():
                doc = json.loads(out)
                self.expect(doc.get("deployable") is (rc == 0),
                            "%s: model-locate exits %d with deployable %s" % (when, rc, doc.get("deployable")))

    def no_temps(self, when):
        for root, dirs, files in os.walk(self.ws):
            for f in files:
                if TEMP_RE.search(f):
                    self.broken.append("%s: temporary file left: %s"
                                       % (when, os.path.relpath(os.path.join(root, f), self.ws)))
            for d in dirs:  # retrain-prep builds a version in .retrain_vN.tmp.PID
                if ".tmp." in d:
                    self.broken.append("%s: temporary folder left: %s"
                                       % (when, os.path.relpath(os.path.join(root, d), self.ws)))

    def models_complete(self, when):
        models = os.path.join(self.ws, "models")
        for f in sorted(os.listdir(models)):
            m = re.fullmatch(r"(retrained_v\d+)\.pt", f)
            if not m:
                continue
            meta_path = os.path.join(models, m.group(1) + "_metadata.json")
            if not self.expect(os.path.isfile(meta_path), "%s: models/%s has no metadata" % (when, f)):
                continue
            meta = json.load(open(meta_path))
            for leaf, want in ((f, meta), (meta["safetensors"]["file"], meta["safetensors"])):
                path = os.path.join(models, leaf)
                ok = os.path.isfile(path) and os.path.getsize(path) == want["size"] and \
                    sha256(path) == want["sha256"]
                self.expect(ok, "%s: models/%s does not match its metadata" % (when, leaf))
            status = self.run_status(meta["run"]["run_id"])
            self.expect(status == "FINISHED", "%s: models/%s belongs to run %s, which is %s"
                        % (when, f, meta["run"]["run_id"], status))

    def champion_follows(self, when, version, run_id):
        """models/champion.pt is the champion's model, and the history's last champion move is it."""
        models = os.path.join(self.ws, "models")
        pt, meta = os.path.join(models, "champion.pt"), os.path.join(models, "champion.json")
        want = os.path.join(models, "retrained_v1.pt")
        if not self.expect(os.path.isfile(pt) and os.path.isfile(meta),
                           "%s: models/champion.pt or champion.json missing" % when):
            return
        self.expect(sha256(pt) == sha256(want), "%s: models/champion.pt is not v1's model" % when)
        self.expect(json.load(open(meta)).get("registry_version") == version,
                    "%s: champion.json does not name version %s" % (when, version))
        lines = [json.loads(l) for l in open(os.path.join(models, "promotions.jsonl")) if l.strip()]
        champ = [l for l in lines if l["alias"] == "champion"]
        self.expect(len(champ) == 1 and champ[0]["to"] == version and champ[0]["run_id"] == run_id,
                    "%s: promotions.jsonl records champion moves %s, not one to version %s"
                    % (when, [(l["to"], l["run_id"]) for l in champ], version))

    def model_ready(self, when, version):
        """The champion's registry version is of a READY MLflow Model holding v1's weights."""
        mv = self.client.get_model_version(self.model, version)
        if not self.expect((mv.source or "").startswith("models:/m-"),
                           "%s: version %s is of no logged model (source %s)" % (when, version, mv.source)):
            return
        m = self.client.get_logged_model(mv.source[len("models:/"):])
        self.expect(str(m.status).endswith("READY"), "%s: logged model %s is %s" % (when, m.model_id, m.status))
        with tempfile.TemporaryDirectory() as d:
            # not mlflow.set_tracking_uri: it would export MLFLOW_TRACKING_URI to the nights
            path = mlflow.artifacts.download_artifacts(m.artifact_location + "/data/retrained_v1.pt",
                                                       dst_path=d, tracking_uri=self.uri)
            self.expect(sha256(path) == sha256(os.path.join(self.ws, "models/retrained_v1.pt")),
                        "%s: the MLflow Model's weights are not v1's" % when)

    def states_agree(self, when):
        train = os.path.join(self.ws, "runs/train")
        for d in sorted(os.listdir(train)) if os.path.isdir(train) else []:
            state = os.path.join(train, d, "mlf_run.json")
            if not os.path.isfile(state):
                continue
            s = json.load(open(state))
            if s.get("run_id"):
                status = self.run_status(s["run_id"])
                self.expect(s.get("status") == status, "%s: %s/mlf_run.json says %s, MLflow says %s"
                            % (when, d, s.get("status"), status))


def after_fault(c, action, rc, label):
    when = "after " + label
    if rc >= PREP_FAILED:  # a fault in retrain-prep: retrain-run did not run
        rc -= PREP_FAILED
    if action == "kill":
        c.expect(rc == 137, "%s: exited %d, not killed (failpoint not reached)" % (when, rc))
    else:
        c.expect(rc not in (137,), "%s: killed" % when)
        running = [r.info.run_id for r in c.runs() if r.info.status == "RUNNING"]
        c.expect(not running, "%s: the process exited but left run(s) RUNNING: %s" % (when, running))
        # a process that exited has put the aliases back if its run did not finish
        c.aliases_truthful(when)
    c.tools_truthful(when, must_pass=False)


def after_recovery(c, rc, doc, err):
    when = "after night 2"
    c.expect(rc == 0, "%s: retrain-run exited %d: %s" % (when, rc, err.strip()[-400:]))
    runs = c.runs()
    running = [r.info.run_id for r in runs if r.info.status == "RUNNING"]
    c.expect(not running, "%s: run(s) RUNNING: %s" % (when, running))
    v1 = [r for r in runs if r.data.tags.get("version") == "v1" and r.info.status == "FINISHED"]
    c.expect(len(v1) == 1, "%s: %d FINISHED runs of v1" % (when, len(v1)))
    others = sorted({r.data.tags.get("version") for r in runs} - {"v1"})
    c.expect(not others, "%s: other versions made: %s" % (when, others))
    c.models_complete(when)
    c.no_temps(when)
    c.states_agree(when)
    c.tools_truthful(when, must_pass=True)
    aliases = c.aliases_truthful(when)
    if v1:
        if c.expect(aliases.get("champion", (None, None))[1] == v1[0].info.run_id,
                    "%s: champion is %s, not v1's run" % (when, aliases.get("champion"))):
            c.champion_follows(when, str(aliases["champion"][0]), v1[0].info.run_id)
            c.model_ready(when, str(aliases["champion"][0]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("template")
    ap.add_argument("work")
    ap.add_argument("--sample", type=int, default=0, help="only N cases, spread over all")
    ap.add_argument("--steps", default="", help="only these steps (comma-separated)")
    ap.add_argument("--actions", default="kill,enospc")
    ap.add_argument("--only", default="", help="only these cases (STEP:N:ACTION, comma-separated)")
    ap.add_argument("--server", default="", help="a shared MLflow server's URL: each case gets "
                    "its own experiment and registered model there (TEMPLATE's mlf.yaml points at it)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)

    # the write points, in order, from one clean run
    trace_ws = os.path.join(a.work, "trace")
    fresh_copy(a.template, trace_ws, a.server)
    trace = os.path.join(a.work, "trace.txt")
    if os.path.exists(trace):  # a kept TORTURE_WORK: the trace appends
        os.unlink(trace)
    rc, doc, err = night(trace_ws, {"MLF_FAILPOINT_TRACE": trace})
    if rc != 0:
        sys.exit("torture: the clean run failed (%d): %s" % (rc, err))
    points = []
    for line in open(trace):
        step, n, what = line.rstrip("\n").split(" ", 2)
        what = what.replace(trace_ws + "/", "")
        if step != "main" and (not a.steps or step in a.steps.split(",")):
            points.append((step, int(n), what))
    cases = [(p, act) for p in points for act in a.actions.split(",")]
    if a.only:
        cases = [c for c in cases if "%s:%d:%s" % (c[0][0], c[0][1], c[1]) in a.only.split(",")]
    if a.sample and a.sample < len(cases):
        # spread evenly, the first and the last included, the same on every run
        idx = sorted({round(i * (len(cases) - 1) / (a.sample - 1)) for i in range(a.sample)}) \
            if a.sample > 1 else [len(cases) // 2]
        cases = [cases[i] for i in idx]
    print("torture: %d write points in a night; trying %d case(s)" % (len(points), len(cases)))

    broken_total, failed_cases, t0 = 0, [], time.time()
    for i, ((step, n, what), action) in enumerate(cases):
        label = "%s:%d:%s" % (step, n, action)
        # a new path each time: MLflow's client keeps one engine per store URI
        ws = os.path.join(a.work, "case%d" % i)
        c = Case(ws, fresh_copy(a.template, ws, a.server))
        rc, _doc, err1 = night(ws, {"MLF_FAILPOINT": label})
        after_fault(c, action, rc, label)
        rc2, doc2, err2 = night(ws)
        after_recovery(c, rc2, doc2, err2)
        status = "ok  " if not c.broken else "FAIL"
        first = "prep exit %d" % (rc - PREP_FAILED) if rc >= PREP_FAILED else "night 1 exit %d" % rc
        print("%s %-22s %-48s %s, night 2 exit %d" % (status, label, what[:48], first, rc2))
        for b in c.broken:
            print("       - " + b)
        if c.broken and a.verbose:
            print("       night 1 stderr: " + err1.strip().replace("\n", "\n         "))
            print("       night 2 stderr: " + err2.strip().replace("\n", "\n         "))
        if c.broken:
            failed_cases.append(label)
            broken_total += len(c.broken)
            keep = os.path.join(a.work, "failed-" + label.replace(":", "-"))
            shutil.rmtree(keep, ignore_errors=True)
            shutil.move(ws, keep)
        else:
            shutil.rmtree(ws, ignore_errors=True)
    print("torture: %d case(s) tried (%d write points x %s), %d invariant(s) broken in %d case(s), %.0f s"
          % (len(cases), len(points), a.actions, broken_total, len(failed_cases), time.time() - t0))
    for label in failed_cases:
        print("torture: reproduce with MLF_FAILPOINT=%s" % label)
    sys.exit(1 if failed_cases else 0)


if __name__ == "__main__":
    main()
