# shellcheck shell=bash
# boto3 in a venv of its own, for the direct-upload anchor of the S3 benchmarks
# (scripts/lib/boto3_upload.py). ensure_boto3 installs it from PyPI when missing and sets
# boto3_python to the venv's interpreter.
BOTO3_VERSION=1.44.8

ensure_boto3() {
  local venv=${CARGO_TARGET_DIR:-target}/boto3-venv
  boto3_python=$venv/bin/python
  if ! "$boto3_python" -c "import boto3, sys; sys.exit(boto3.__version__ != '$BOTO3_VERSION')" 2>/dev/null; then
    echo "==> installing boto3 $BOTO3_VERSION into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "boto3==$BOTO3_VERSION" >&2
  fi
}
