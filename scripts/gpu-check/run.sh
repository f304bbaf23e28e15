#!/usr/bin/env bash
# Entry point of the GPU check bundle (built by scripts/gpu-check/build.mjs). Needs nothing from the machine but
# glibc >= 2.34, a GPU driver with Vulkan, and (for the reference figures) python3 with a CUDA PyTorch.
#   ./run.sh [--models cifar-resnet,resnet18] [--batch 128] [--steps 300] [--compare-batch 32] [--allow-software]
# Environment: VK_DRIVER_FILES (a Vulkan ICD json; found automatically for NVIDIA), PYTHON (default python3),
# RESULTS_DIR (default ./gpu-check-<time>). Writes ours.json, torch.jsonl and log.txt there.
set -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RESULTS_DIR=${RESULTS_DIR:-$PWD/gpu-check-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$RESULTS_DIR"
exec > >(tee -a "$RESULTS_DIR/log.txt") 2>&1
say() { echo "[run.sh] $*"; }

# options shared with torch_gpu.py
models=cifar-resnet,resnet18 batch=128 steps=300
args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --models) models=$2; shift ;;
    --batch) batch=$2; shift ;;
    --steps) steps=$2; shift ;;
  esac
  shift
done

say "bundle $(cat "$HERE/VERSION" 2>/dev/null || echo '?'), host $(uname -srm), glibc $(ldd --version 2>/dev/null | head -1 | awk '{print $NF}')"
if command -v nvidia-smi >/dev/null 2>&1; then
  say "nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -4 | tr '\n' ';')"
else
  say "nvidia-smi not found"
fi

# ---- Vulkan: point the loader at the NVIDIA driver unless the caller chose an ICD
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
           /usr/share/vulkan/icd.d/nvidia_icd.x86_64.json /etc/vulkan/icd.d/nvidia_icd.x86_64.json; do
    if [ -f "$f" ]; then export VK_DRIVER_FILES=$f; say "NVIDIA Vulkan ICD: $f"; break; fi
  done
fi
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  # No ICD json (common in containers): write one for the driver's Vulkan library if it is mounted.
  lib=$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0 / {print $NF; exit}')
  if [ -z "$lib" ]; then
    for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib; do
      if [ -e "$d/libGLX_nvidia.so.0" ]; then lib=$d/libGLX_nvidia.so.0; break; fi
    done
  fi
  if [ -n "$lib" ]; then
    icd="$RESULTS_DIR/nvidia_icd.json"
    printf '{ "file_format_version": "1.0.1", "ICD": { "library_path": "%s", "api_version": "1.3.0" } }\n' "$lib" >"$icd"
    export VK_DRIVER_FILES=$icd
    say "no NVIDIA ICD json installed; wrote $icd for $lib"
  else
    say "no NVIDIA Vulkan driver found (no nvidia_icd.json, no libGLX_nvidia.so.0)."
    say "  In a container the NVIDIA runtime mounts the Vulkan parts only with the graphics capability:"
    say "  NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics (or all). Elsewhere install the driver's Vulkan ICD."
    say "  Continuing: Dawn will use whatever Vulkan driver the loader finds (if any)."
  fi
fi

# ---- C++ runtime: dawn.node needs GLIBCXX_3.4.30 (GCC 12); use the bundled libstdc++ if the system's is older
sys_stdcxx=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 / {print $NF; exit}')
if [ -z "$sys_stdcxx" ] || ! grep -qa 'GLIBCXX_3\.4\.30' "$sys_stdcxx" 2>/dev/null; then
  export LD_LIBRARY_PATH="$HERE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "using the bundled libstdc++ (system: ${sys_stdcxx:-none})"
fi

# ---- PyTorch on the same GPU (reference figures), if present
PY=${PYTHON:-python3}
torch_args=()
if command -v "$PY" >/dev/null 2>&1 && "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  say "PyTorch reference: $("$PY" -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0))')"
  if "$PY" "$HERE/torch_gpu.py" --models "$models" --batch "$batch" --steps "$steps" >"$RESULTS_DIR/torch.jsonl"; then
    cat "$RESULTS_DIR/torch.jsonl"
    torch_args=(--torch "$RESULTS_DIR/torch.jsonl")
  else
    say "PyTorch reference FAILED (see above)"
  fi
else
  say "no python3 with a CUDA PyTorch: no reference figures (set PYTHON=/path/to/python)"
fi

# ---- ours
say "webgpu check: $HERE/node $HERE/app/check.mjs ${args[*]}"
"$HERE/node" "$HERE/app/check.mjs" "${args[@]}" "${torch_args[@]}" --out "$RESULTS_DIR/ours.json"
status=$?
say "exit $status; results in $RESULTS_DIR"
exit $status
