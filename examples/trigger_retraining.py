#!/usr/bin/env python3
"""Trigger one retraining of an mlf workspace and report what came of it.

Runs the same pipeline as the nightly job,

    mlf-validate -q && retrain-prep | retrain-run | mlf-verify

but one program at a time, handing each one's JSON document to the next on
its standard input, so that every document stays available here: the dataset
document, the run document and the verification report.  Progress and
messages of the programs go straight to this process's standard error.

Standard library only.  Usage:

    python3 examples/trigger_retraining.py --workspace DIR [--bin DIR]
        [--no-validate] [--save DIR] [-- retrain-run options...]

Exit status: 0 when a model was trained and verified, or when there was
nothing to do; otherwise the status of the program that failed (see its
man page), or 1 when verification found problems.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys


class ProgramMissing(Exception):
    pass


def program(bin_dir, name):
    """The program's path: in --bin when given, else found on PATH."""
    return os.path.join(bin_dir, name) if bin_dir else name


def run_step(cmd, stdin_text=None):
    """Run one program; return (exit status, the JSON document it printed or None).

    stdout carries at most one JSON document; stderr is left to the terminal
    (or the log) so that progress and error messages are seen as they come.
    """
    sys.stdout.flush()  # keep our lines in order with the programs' in a shared log
    try:
        proc = subprocess.run(cmd, input=stdin_text, stdout=subprocess.PIPE, text=True)
    except FileNotFoundError:
        raise ProgramMissing(f"{cmd[0]} not found; install mlf or give --bin DIR") from None
    out = proc.stdout.strip()
    if not out:
        return proc.returncode, None
    try:
        return proc.returncode, json.loads(out)
    except json.JSONDecodeError as e:
        sys.stderr.write(f"trigger: {cmd[0]} printed something that is not JSON ({e})\n")
        return proc.returncode or 65, None


def fmt(value):
    """A metric for people: 3 decimals, or as it came (null, "NaN")."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.3f}"
    return str(value)


def report_success(run, verification):
    print(f"new model version {run['new_version']} "
          f"(run {run['run_id']} in experiment {run['experiment_id']})")
    metrics = run.get("metrics") or {}
    pre = run.get("pre_metrics") or {}
    print(f"  {'metric':<10} {'base model':>11} {'retrained':>10}")
    for key in ("precision", "recall", "mAP50", "mAP50-95", "fitness"):
        if key in metrics:
            print(f"  {key:<10} {fmt(pre.get(key)):>11} {fmt(metrics[key]):>10}")
    model = run["model"]
    print(f"  model    {model['path']}")
    print(f"  sha256   {model['sha256']}  ({model['size']} bytes)")
    print(f"  metadata {model['metadata']}")
    registry = run.get("registry") or {}
    if "skipped" in registry:
        print(f"  registry skipped: {registry['skipped']}")
    elif registry:
        print(f"  registry {registry['name']} version {registry['version']}, "
              f"aliases {', '.join(registry['aliases'])} ({registry.get('reason', '')})")
    for warning in run.get("warnings") or []:
        print(f"  warning: {warning}")
    if verification is not None:
        passed = sum(1 for c in verification.get("checks", []) if c.get("ok"))
        print(f"  verified: {passed} checks passed")


def report_failure(run, workspace):
    status = run.get("status") or "not started"
    print(f"retraining of {run.get('new_version')} failed ({status}) in step "
          f"'{run.get('step')}', exit status {run.get('exit_status')}:")
    print(f"  {run.get('error')}")
    if run.get("run_id"):
        print(f"  MLflow run {run['run_id']} in experiment {run.get('experiment_id')}")
    if run.get("resume"):
        # The document's command assumes the workspace is the current folder.
        resume = run["resume"].replace("retrain-run ", f"retrain-run -C {shlex.quote(workspace)} ", 1)
        print(f"  continue it with: {resume} | mlf-verify -C {shlex.quote(workspace)}")
    elif run.get("state"):
        print(f"  its state is in {run['state']}")


def save(folder, name, doc):
    if folder and doc is not None:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")


def main():
    try:
        return trigger()
    except ProgramMissing as e:
        sys.stderr.write(f"trigger: {e}\n")
        return 127


def trigger():
    ap = argparse.ArgumentParser(description="Run retrain-prep | retrain-run | mlf-verify "
                                 "in an mlf workspace and summarize the outcome.")
    ap.add_argument("--workspace", "-C", required=True, help="the mlf workspace folder")
    ap.add_argument("--bin", help="folder holding the mlf programs (default: PATH)")
    ap.add_argument("--no-validate", action="store_true", help="do not run mlf-validate first")
    ap.add_argument("--save", metavar="DIR", help="also write the documents to DIR as JSON files")
    ap.add_argument("retrain_args", nargs=argparse.REMAINDER,
                    help="after --: extra retrain-run options, e.g. -- --epochs 10 --promote never")
    args = ap.parse_args()
    extra = args.retrain_args[1:] if args.retrain_args[:1] == ["--"] else args.retrain_args
    ws = os.path.abspath(args.workspace)
    ws_opt = ["-C", ws]

    if not args.no_validate:
        rc, report = run_step([program(args.bin, "mlf-validate"), *ws_opt, "-q"])
        if rc != 0:
            print(f"mlf-validate found problems (exit status {rc}); nothing was started. "
                  f"See: mlf-validate -C {ws} -f text")
            return rc

    # 1. retrain-prep: a dataset document (a new data/retrain_vN/) or a skip document.
    rc, dataset = run_step([program(args.bin, "retrain-prep"), *ws_opt])
    save(args.save, "dataset.json", dataset)
    if rc != 0 or dataset is None:
        print(f"retrain-prep failed (exit status {rc}); no dataset version was made")
        return rc or 65
    if dataset.get("kind") == "mlf.skip":
        print(f"nothing to do: {dataset.get('reason')}")
        return 0

    # 2. retrain-run, fed the dataset document as the pipe would feed it.
    rc, run = run_step([program(args.bin, "retrain-run"), *ws_opt, *extra], json.dumps(dataset))
    save(args.save, "run.json", run)
    if run is None:
        print(f"retrain-run failed before it could say why in a document (exit status {rc}); "
              f"see the messages above")
        print(f"  dataset version {dataset.get('version')} was prepared but not trained; once fixed: "
              f"retrain-run -C {shlex.quote(ws)} --dataset {shlex.quote(dataset.get('path', '?'))}")
        return rc or 70
    if not run.get("success"):
        report_failure(run, ws)
        return rc or run.get("exit_status") or 1

    # 3. mlf-verify proves what the run left behind, locally and in MLflow.
    vrc, verification = run_step([program(args.bin, "mlf-verify"), *ws_opt, "-q"], json.dumps(run))
    save(args.save, "verification.json", verification)
    report_success(run, verification)
    if vrc != 0:
        problems = (verification or {}).get("problems") or []
        print(f"verification failed (exit status {vrc}):")
        for p in problems:
            print(f"  - {p}")
        return vrc
    return 0


if __name__ == "__main__":
    sys.exit(main())
