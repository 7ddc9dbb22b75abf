# Image for one Parley service. This is the single template for all six:
#   docker build -f infra/docker/service.Dockerfile --build-arg SERVICE=router --build-arg PORT=8082 .
# services/<name>/Dockerfile are copies of this file with SERVICE and PORT filled in,
# written by infra/docker/gen-dockerfiles.sh: edit this file, then run that script.
# The build context is always the repository root (a workspace needs all its packages);
# .dockerignore keeps node_modules, dist, .git and local state out of it.

ARG NODE_IMAGE=node:24.11.1-bookworm-slim
ARG SERVICE
ARG PORT

# ---- build: the whole workspace, compiled, then one service cut out with its prod deps
FROM ${NODE_IMAGE} AS build
ENV CI=true \
    COREPACK_ENABLE_DOWNLOAD_PROMPT=0
WORKDIR /repo

# corepack activates exactly the pnpm named in package.json "packageManager".
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmr[c] ./
# Patches to locked packages (package.json "pnpm.patchedDependencies"), applied at install.
COPY patches ./patches
RUN corepack enable && corepack install

# Download every locked package from the lockfile alone: this layer survives source edits.
RUN pnpm fetch

COPY . .
RUN pnpm install --frozen-lockfile --offline
RUN pnpm run build

# Only the steps below depend on which service is built, so the six images share the
# layers above. pnpm 10 deploys a non-injected workspace only with --legacy: the
# workspace packages the service uses are copied (their "files") into /out/node_modules.
ARG SERVICE
ARG PORT
RUN test -n "${SERVICE}" && test -n "${PORT}" \
 || { echo "build args SERVICE and PORT are required, e.g. SERVICE=router PORT=8082" >&2; exit 1; }
RUN pnpm --filter "@parley/${SERVICE}" deploy --prod --legacy /out
RUN test -f /out/dist/main.js \
 || { echo "dist/main.js is not in the deploy: list \"dist\" in services/${SERVICE}/package.json \"files\"" >&2; exit 1; }

# ---- runtime: node, the deployed service and the health probe; runs as the node user
FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
ARG PORT
LABEL org.opencontainers.image.title="parley-${SERVICE}" \
      org.opencontainers.image.description="Parley ${SERVICE} service"
ENV NODE_ENV=production \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=${PORT}
WORKDIR /app

# Files stay owned by root (read-only for the service); /var/lib/parley is its only
# writable place (the media store, for example, when a volume is mounted there).
COPY --from=build /out ./
COPY infra/docker/healthcheck.mjs /usr/local/lib/parley/healthcheck.mjs
RUN install -d -o node -g node /var/lib/parley

USER node
EXPOSE ${PORT}
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/usr/local/lib/parley/healthcheck.mjs"]
# V8 heap sizing at start-up (docs/architecture.md, "The service chassis").
CMD ["node", "--initial-old-space-size=64", "--max-semi-space-size=8", "dist/main.js"]
