#!/usr/bin/env bash
# Opt-in native CPU backend: builds @tensorflow/tfjs-node against the libtensorflow shipped inside the
# TensorFlow CPU wheel from PyPI, so that UNLEARN_BACKEND=node works without tfjs-node's own install script
# (which downloads libtensorflow and a prebuilt addon from storage.googleapis.com).
#
#   npm run install:native-tf            (or: bash scripts/install-native-tf.sh)
#
# Steps: 1. pip download tensorflow-cpu==$UNLEARN_TF_WHEEL_VERSION (manylinux x86_64, no deps) into the cache;
# 2. extract libtensorflow_cc.so.2 + libtensorflow_framework.so.2 and the C API headers; check that the C and
# eager C API symbols the addon uses are exported; 3. npm install --no-save --ignore-scripts
# @tensorflow/tfjs-node@<our tfjs version> (package.json and package-lock.json are not touched); 4. node-gyp
# against the local Node headers (no download) into tfjs-node's lib/napi-vN, linked -ltensorflow ->
# libtensorflow_cc.so.2, found at run time through the addon's rpath ($ORIGIN/../../deps/lib); 5. checks that
# UNLEARN_BACKEND=node loads through ml/backend.ts.
#
# `npm ci` wipes node_modules: rerun this script after it (the wheel and extracted libraries stay cached).
# Environment: UNLEARN_TF_WHEEL_VERSION (default 2.12.1, the oldest wheel with libtensorflow_cc.so.2),
# UNLEARN_TF_WHEEL_PACKAGE (default tensorflow-cpu), JOBS (compile jobs, default 1), PYTHON (default python3),
# XDG_CACHE_HOME (cache root, default ~/.cache; files go to unlearn-tools/<package>-<version>).
set -euo pipefail

TF_PKG=${UNLEARN_TF_WHEEL_PACKAGE:-tensorflow-cpu}
TF_VER=${UNLEARN_TF_WHEEL_VERSION:-2.12.1}
PY=${PYTHON:-python3}
JOBS=${JOBS:-1}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/unlearn-tools/${TF_PKG}-${TF_VER}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

step() { printf '\n== install-native-tf: %s\n' "$*" >&2; }
fail() {
  printf 'install-native-tf: FAILED at step "%s": %s\n' "$CURRENT" "$*" >&2
  FAILED=1
  exit 1
}
FAILED=0
CURRENT=preflight
trap 'rc=$?; if [ $rc -ne 0 ] && [ $FAILED = 0 ]; then printf "install-native-tf: step \"%s\" exited with status %s\n" "$CURRENT" "$rc" >&2; fi' EXIT

# ---- 0. preflight
step "preflight"
[ "$(uname -s)" = Linux ] || fail "only Linux is supported (the wheel's libraries are manylinux ELF); got $(uname -s)"
[ "$(uname -m)" = x86_64 ] || fail "only x86_64 is supported (manylinux2014_x86_64 wheel); got $(uname -m)"
for tool in node npm make g++; do
  command -v "$tool" >/dev/null || fail "'$tool' not found on PATH (needed to build the addon)"
done
command -v "$PY" >/dev/null || fail "'$PY' not found (set PYTHON=...); it runs pip download and unpacks the wheel"
"$PY" -m pip --version >/dev/null 2>&1 || fail "'$PY -m pip' does not work; install pip for $PY"
NODE_PREFIX=$(cd "$(dirname "$(readlink -f "$(command -v node)")")/.." && pwd)
[ -f "$NODE_PREFIX/include/node/node_api.h" ] ||
  fail "Node headers not found at $NODE_PREFIX/include/node (node-gyp must build offline with --nodedir)"
NPM_DIR=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
NODE_GYP=${NODE_GYP:-$NPM_DIR/node_modules/node-gyp/bin/node-gyp.js}
[ -f "$NODE_GYP" ] || fail "node-gyp not found at $NODE_GYP (npm's bundled copy); set NODE_GYP=/path/to/node-gyp.js"
[ -d "$ROOT/node_modules/@tensorflow/tfjs" ] || fail "node_modules/@tensorflow/tfjs missing: run npm ci first"
TFJS_VER=$(node -p "require('$ROOT/node_modules/@tensorflow/tfjs/package.json').version")
echo "tfjs $TFJS_VER, Node $(node -v) headers in $NODE_PREFIX/include/node, node-gyp $NODE_GYP" >&2
echo "wheel $TF_PKG==$TF_VER, cache $CACHE" >&2

# ---- 1. wheel
CURRENT="download wheel"
step "$CURRENT"
mkdir -p "$CACHE/wheel"
WHEEL=$(ls "$CACHE"/wheel/*.whl 2>/dev/null | head -n1 || true)
if [ -z "$WHEEL" ]; then
  # The libraries are C++ without libpython, so the Python tag only picks a wheel that exists; 3.11 has wheels
  # from 2.12 on.
  "$PY" -m pip download "${TF_PKG}==${TF_VER}" --no-deps --only-binary=:all: \
    --python-version 3.11 --platform manylinux2014_x86_64 -d "$CACHE/wheel" >&2 ||
    fail "pip download ${TF_PKG}==${TF_VER} failed (needs PyPI access; is the version published for cp311 manylinux2014_x86_64?)"
  WHEEL=$(ls "$CACHE"/wheel/*.whl | head -n1)
else
  echo "cached: $WHEEL" >&2
fi

# ---- 2. libraries and headers
CURRENT="extract libtensorflow from the wheel"
step "$CURRENT"
if [ ! -f "$CACHE/lib/.complete" ]; then
  rm -rf "$CACHE/lib" "$CACHE/include"
  "$PY" - "$WHEEL" "$CACHE" <<'PYEOF' || fail "could not extract the libraries/headers from $WHEEL"
import os, shutil, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
libs = {'tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'}
# C API headers and what they include (ctstring from tensorflow/core/platform, tsl/ in its several homes).
hdr_prefixes = ('tensorflow/include/tensorflow/c/', 'tensorflow/include/tensorflow/core/platform/',
                'tensorflow/include/tensorflow/tsl/', 'tensorflow/include/tsl/',
                'tensorflow/include/external/local_tsl/', 'tensorflow/include/xla/tsl/')
with zipfile.ZipFile(wheel) as z:
    names = set(z.namelist())
    missing = libs - names
    if missing:
        sys.exit(f'the wheel has no {", ".join(sorted(missing))} (wheels before TF 2.12 keep the C API inside '
                 f'_pywrap_tensorflow_internal.so, which needs libpython): pick UNLEARN_TF_WHEEL_VERSION >= 2.12')
    for n in sorted(names):
        if n in libs:
            dest = os.path.join(out, 'lib', os.path.basename(n))
        elif n.startswith(hdr_prefixes) and n.endswith('.h'):
            dest = os.path.join(out, 'include', n[len('tensorflow/include/'):])
        else:
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(n) as src, open(dest, 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    for h in ('tensorflow/c/c_api.h', 'tensorflow/c/eager/c_api.h'):
        if not os.path.exists(os.path.join(out, 'include', h)):
            sys.exit(f'the wheel has no C header tensorflow/include/{h}')
PYEOF
  touch "$CACHE/lib/.complete"
else
  echo "cached: $CACHE/lib" >&2
fi

CURRENT="check C API symbols"
step "$CURRENT"
if command -v nm >/dev/null; then
  # The TF_*/TFE_* functions the tfjs-node 4.22 addon calls (TF_TString_* are inline in the headers).
  NEED="TF_AllocateTensor TF_DataTypeSize TF_DeleteBuffer TF_DeleteDeviceList TF_DeleteGraph TF_DeleteSession
    TF_DeleteSessionOptions TF_DeleteStatus TF_DeleteTensor TF_DeviceListCount TF_DeviceListName TF_DeviceListType
    TF_Dim TF_GetCode TF_GraphOperationByName TF_LoadSessionFromSavedModel TF_Message TF_NewBuffer
    TF_NewBufferFromString TF_NewGraph TF_NewSessionOptions TF_NewStatus TF_NewTensor TF_NumDims TF_SessionRun
    TF_TensorByteSize TF_TensorData TF_TensorElementCount TF_TensorType TF_Version TFE_ContextListDevices
    TFE_DeleteContext TFE_DeleteContextOptions TFE_DeleteOp TFE_DeleteTensorHandle TFE_Execute TFE_NewContext
    TFE_NewContextOptions TFE_NewOp TFE_NewTensorHandle TFE_OpAddInput TFE_OpSetAttrBool TFE_OpSetAttrBoolList
    TFE_OpSetAttrFloat TFE_OpSetAttrFloatList TFE_OpSetAttrInt TFE_OpSetAttrIntList TFE_OpSetAttrShape
    TFE_OpSetAttrString TFE_OpSetAttrType TFE_TensorHandleCopyToDevice TFE_TensorHandleDataType
    TFE_TensorHandleDim TFE_TensorHandleNumDims TFE_TensorHandleResolve"
  HAVE=$( (nm -D --defined-only "$CACHE/lib/libtensorflow_cc.so.2"; nm -D --defined-only "$CACHE/lib/libtensorflow_framework.so.2") |
    awk '$3 ~ /^TFE?_/ {sub(/@.*/, "", $3); print $3}' | sort -u)
  MISSING=$(for s in $NEED; do grep -qx "$s" <<<"$HAVE" || echo "$s"; done)
  [ -z "$MISSING" ] || fail "libtensorflow_cc.so.2/libtensorflow_framework.so.2 do not export: $(echo $MISSING)"
  echo "all $(wc -w <<<"$NEED") C/eager API symbols exported" >&2
else
  echo "nm not found (binutils): skipping the symbol check; the link step will report missing symbols" >&2
fi

# ---- 3. tfjs-node without its install script
CURRENT="npm install tfjs-node"
step "$CURRENT"
cd "$ROOT"
TFN="$ROOT/node_modules/@tensorflow/tfjs-node"
if [ "$(node -p "try{require('$TFN/package.json').version}catch{''}")" != "$TFJS_VER" ]; then
  npm install --no-save --ignore-scripts --no-audit --no-fund "@tensorflow/tfjs-node@$TFJS_VER" >&2 ||
    fail "npm install --no-save --ignore-scripts @tensorflow/tfjs-node@$TFJS_VER failed"
else
  echo "already installed: $TFN" >&2
fi
# tfjs-node must register its backend into our tfjs-core, not a nested copy.
for dup in "$TFN/node_modules/@tensorflow/tfjs" "$TFN/node_modules/@tensorflow/tfjs-core"; do
  [ ! -e "$dup" ] || fail "$dup exists: tfjs-node did not dedupe to the project's @tensorflow/tfjs $TFJS_VER"
done

# ---- 4. build the addon
CURRENT="build tfjs_binding.node"
step "$CURRENT"
rm -rf "$TFN/deps" "$TFN/build"
mkdir -p "$TFN/deps/lib"
for f in libtensorflow_cc.so.2 libtensorflow_framework.so.2; do
  # A hard link costs no space and survives clearing the cache; copy across file systems.
  ln -f "$CACHE/lib/$f" "$TFN/deps/lib/$f" 2>/dev/null || cp "$CACHE/lib/$f" "$TFN/deps/lib/$f"
done
# binding.gyp links -ltensorflow -ltensorflow_framework; the wheel's C API library is libtensorflow_cc.
ln -s libtensorflow_cc.so.2 "$TFN/deps/lib/libtensorflow.so"
ln -s libtensorflow_framework.so.2 "$TFN/deps/lib/libtensorflow_framework.so"
ln -s "$CACHE/include" "$TFN/deps/include"
# Where the package's loader (node-pre-gyp find) looks for the addon: lib/napi-v<best N-API version>.
TARGET=$(cd "$TFN" && node -p "require('@mapbox/node-pre-gyp').find(require.resolve('./package.json'))") ||
  fail "node-pre-gyp could not compute the addon path"
MODDIR=$(dirname "$TARGET")
NAPI=${MODDIR##*napi-v}
echo "addon target $TARGET (N-API $NAPI), $JOBS job(s)" >&2
(cd "$TFN" && JOBS=$JOBS nice -n 10 node "$NODE_GYP" rebuild --nodedir="$NODE_PREFIX" --jobs="$JOBS" \
  --module_name=tfjs_binding --module_path="$MODDIR" --napi_build_version="$NAPI" >&2) ||
  fail "node-gyp rebuild failed (see the compiler/linker output above)"
[ -f "$TARGET" ] || fail "node-gyp finished but $TARGET is missing"
rm -rf "$TFN/build"

# ---- 5. check
CURRENT="check UNLEARN_BACKEND=node"
step "$CURRENT"
TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2} UNLEARN_BACKEND=node node --import tsx --input-type=module -e "
const { initBackend } = await import('./ml/backend.ts');
const { tf } = await import('./ml/tf.ts');
const info = await initBackend();
const y = tf.tensor2d([[1, 2], [3, 4]]).matMul(tf.tensor2d([[5], [6]])).dataSync();
if (info.tfBackend !== 'tensorflow' || y[0] !== 17 || y[1] !== 39) throw new Error('unexpected: ' + JSON.stringify({ info, y: [...y] }));
const bind = tf.backend().binding;
console.log('UNLEARN_BACKEND=node OK: tf.getBackend()=' + tf.getBackend() + ', libtensorflow ' + bind.TF_Version + ' from ${TF_PKG} ${TF_VER}, tfjs ' + info.version);
" || fail "the addon was built but UNLEARN_BACKEND=node does not load (see the error above)"
CURRENT=done
echo "install-native-tf: done. Rerun after every npm ci (it removes node_modules/@tensorflow/tfjs-node)." >&2
