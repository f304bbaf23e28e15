# GPU worker images, one per GPU route (docs/ml.md "GPU routes"). Build from the repository root:
#   docker build -f deploy/docker/gpu.Dockerfile --target webgpu -t <registry>/unlearn/worker-gpu:<version> .
#   docker build -f deploy/docker/gpu.Dockerfile --target cuda11 -t <registry>/unlearn/worker-gpu-cuda11:<version> .
# One worker process per GPU (the chart asks for one device per pod); the backend is forced, so a pod that lands
# without a usable GPU fails at start instead of training on the CPU.

# ---- webgpu (default): tfjs' WebGPU backend on Dawn (npm `webgpu`, in package.json) over Vulkan. Needs no CUDA:
# the host's NVIDIA driver (any current one) provides the Vulkan ICD; the NVIDIA container runtime mounts it only
# with the `graphics` driver capability. AMD/Intel: Mesa's RADV/ANV drivers (add mesa-vulkan-drivers).
FROM node:20-bookworm-slim AS webgpu
RUN apt-get update && apt-get install -y --no-install-recommends libvulkan1 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    UNLEARN_BACKEND=webgpu NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY . .
USER node
ENTRYPOINT ["node", "--import", "tsx", "cli/main.ts"]
CMD ["worker", "--queue", "gpu", "--concurrency", "1"]

# ---- cuda11 (opt-in): @tensorflow/tfjs-node-gpu 4.22, i.e. libtensorflow 2.9 built for CUDA 11.2 and cuDNN 8.1
# exactly. The host driver must support CUDA 11.2 (>= 460.27); cards newer than that toolkit (Hopper and later)
# are outside what it was built for. Its install step downloads libtensorflow from storage.googleapis.com, so
# this target builds only where that is reachable.
FROM nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04 AS cuda11
COPY --from=node:20-bookworm-slim /usr/local/bin/node /usr/local/bin/node
COPY --from=node:20-bookworm-slim /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && apt-get update && apt-get install -y --no-install-recommends python3 build-essential ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true UNLEARN_BACKEND=node-gpu
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm install --no-save --no-audit --no-fund @tensorflow/tfjs-node-gpu@4.22.0 \
 && npm cache clean --force
COPY . .
RUN useradd -m -u 1000 unlearn
USER 1000
ENTRYPOINT ["node", "--import", "tsx", "cli/main.ts"]
CMD ["worker", "--queue", "gpu", "--concurrency", "1"]
