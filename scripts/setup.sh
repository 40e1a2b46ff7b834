#!/usr/bin/env bash
# Installs everything featcache needs on a fresh Debian machine of this kind:
# the Fashion-MNIST IDX files (Debian package) and the Python packages
# (tensorflow-cpu comes from the local mirror in seconds), with the optional
# Ray engine's and the OpenVINO runtime's extras, so that the tests of
# --engine ray and of every inference runtime run too.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check -e ".[test,ray,openvino]" 2>&1 | grep -v -E "^WARNING: (Location|Running pip)" || true
python3 -c "import featcache, keras, tensorflow, h5py, sklearn, ray.data, onnxruntime, openvino; print('featcache', featcache.__version__, '| keras', keras.__version__, '| tensorflow', tensorflow.__version__, '| ray', ray.__version__, '| onnxruntime', onnxruntime.__version__, '| openvino', openvino.__version__)"
