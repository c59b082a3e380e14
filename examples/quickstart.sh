#!/usr/bin/env bash
# A first session with gitml: a scratch git repository, two training runs, a table and a diff.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/gitml-quickstart.XXXXXX")
cd "$work"
git init -q
git config user.name >/dev/null || git config user.name "gitml quickstart"
git config user.email >/dev/null || git config user.email "quickstart@example.invalid"
cp "$here/train.py" .
git add train.py && git commit -qm "training script"

echo "\$ gitml run -n slow -- python train.py --lr 0.001"
gitml run -n slow -e digits -- python train.py --lr 0.001 --epochs 10
echo
echo "\$ gitml run -n fast -- python train.py --lr 0.1"
gitml run -n fast -e digits -- python train.py --lr 0.1 --epochs 10
echo
echo "\$ gitml ls -e digits --sort -metrics.acc --only-changed"
gitml ls -e digits --sort -metrics.acc --only-changed
echo
echo "\$ gitml diff slow fast"
gitml diff slow fast
echo
echo "The runs live in $work as refs/gitml/runs/*:"
git for-each-ref refs/gitml/runs
