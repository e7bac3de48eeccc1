#!/bin/sh
set -e
# a fresh named volume may lack the sub-directories the flags point at
mkdir -p /data/db /data/artifacts
exec mlflow "$@"
