# CPU worker image: io workers (sweep workflows, forget sets, recording) and CPU training workers (the
# WebAssembly backend with our SIMD kernels; no native libraries). Build from the repository root:
#   docker build -f deploy/docker/worker.Dockerfile -t <registry>/unlearn/worker:<version> .
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY . .
# The worker handles SIGTERM itself (stops polling, lets running stages finish for 10 s, then cancels them), so
# node runs as PID 1 directly; no shell in between that would swallow the signal.
USER node
ENTRYPOINT ["node", "--import", "tsx", "cli/main.ts"]
CMD ["worker", "--queue", "io", "--concurrency", "8"]
