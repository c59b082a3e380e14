#!/usr/bin/env bash
# Installs the servers the remote tests start on loopback: nginx + fcgiwrap (smart HTTP
# through git http-backend), OpenSSH's sshd and ssh (ssh:// remotes) and giftless (a Git
# LFS server) in its own virtualenv.
set -euo pipefail
if ! command -v nginx >/dev/null 2>&1 || ! command -v fcgiwrap >/dev/null 2>&1 \
   || [ ! -x /usr/lib/git-core/git-http-backend ] || [ ! -x /usr/sbin/sshd ] \
   || ! command -v ssh >/dev/null 2>&1 || ! command -v ssh-keygen >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends nginx fcgiwrap git openssh-server openssh-client
fi
LFS_VENV=${GITML_LFS_SERVER_VENV:-/opt/gitml-lfs-server}
if [ ! -x "$LFS_VENV/bin/waitress-serve" ] || ! "$LFS_VENV/bin/python" -c "import giftless, flask_classful, figcan, jwt; assert tuple(map(int, jwt.__version__.split('.')[:2])) < (2, 10)" 2>/dev/null; then
    python3 -m venv "$LFS_VENV"
    # giftless declares no dependencies in its wheel: these are its requirements
    "$LFS_VENV/bin/pip" install -q giftless waitress flask figcan flask-classful flask-marshmallow \
        "marshmallow<4" marshmallow-enum webargs "pyjwt<2.10" python-dotenv pyyaml cachetools \
        python-dateutil typing-extensions
fi
echo "servers ready: $(nginx -v 2>&1), fcgiwrap, $(/usr/sbin/sshd -V 2>&1 | head -1), giftless in $LFS_VENV"
