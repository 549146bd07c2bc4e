# promgate's container image: build with the full toolchain, run on distroless Node 24 LTS as non-root with a read-only root filesystem.
# Build: docker build -t promgate .   Run: docker run --read-only -v "$PWD/promgate.yaml:/etc/promgate/promgate.yaml:ro" -p 9092:9092 promgate
# test/container/dockerfile.test.ts replays the COPY and RUN steps below without a container engine: keep them plain.

# ---- build: TypeScript → dist/ ----
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY src ./src
RUN npm run build

# ---- deps: production node_modules only (no install scripts: the native argon2 addon ships prebuilt) ----
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime ----
FROM gcr.io/distroless/nodejs24-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="promgate" \
      org.opencontainers.image.description="Authenticating, multi-tenant gateway for Prometheus, Alertmanager and Prometheus-compatible backends" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="gcr.io/distroless/nodejs24-debian12:nonroot"
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/package.json ./package.json
ENV NODE_ENV=production \
    PROMGATE_CONFIG=/etc/promgate/promgate.yaml
# distroless "nonroot"; nothing is written outside /tmp (logs go to stdout), so --read-only works.
USER 65532:65532
EXPOSE 9092
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/nodejs/bin/node", "/app/dist/cli/healthcheck.js"]
# The same flags as the CLI: `docker run promgate check --config …`, `docker run promgate run --port 9100`.
# --max-semi-space-size=2 (MB): V8's young generation stays small, so idle and peak RSS stay near Node's own floor
# (docs/performance.md, "Memory"); the same flag as package.json's start scripts (test/deploy/node-flags.test.ts).
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=2", "/app/dist/cli/main.js"]
CMD ["run"]
