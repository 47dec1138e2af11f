"""Run a command and report the peak resident memory of it (and any children) in KiB,
measured with getrusage(RUSAGE_CHILDREN) around the subprocess.
Usage: rest_rss.py RSS_OUT_FILE COMMAND ARGS... ; exits with the command's status."""
import resource
import subprocess
import sys

rc = subprocess.call(sys.argv[2:])
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
open(sys.argv[1], "w").write("%d\n" % peak_kib)
sys.exit(rc)
