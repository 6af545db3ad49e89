# syntax=docker/dockerfile:1
# Phone Auth API image. Build from the repository root:
#   docker build -t phone-auth-api .
# or let docker-compose.yml build it (`docker compose up --build`).

ARG NODE_VERSION=20

# ---- build: install the workspace, compile, and deploy the API with production deps only ----
FROM node:${NODE_VERSION}-bookworm-slim AS build
ENV CI=true
# The pnpm version of package.json's packageManager field.
RUN npm install -g pnpm@10.34.9
WORKDIR /repo

# Dependencies first (cached while the lockfile does not change): `pnpm fetch` needs only the
# lockfile and fills the store.
COPY pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
RUN pnpm fetch

COPY . .
RUN pnpm install --frozen-lockfile --offline --filter "@phone-auth/api..."
# Compiles the API and the workspaces it depends on (the contract) to dist/.
RUN pnpm --filter "@phone-auth/api..." build
# A self-contained copy of the API: dist/, package.json and production node_modules, with the
# workspace packages it uses copied in (their dist/ only). --legacy: pnpm 10's deploy otherwise
# requires inject-workspace-packages for the whole workspace.
RUN pnpm --filter @phone-auth/api deploy --prod --legacy /out

# ---- runtime: node + the deployed API, as an unprivileged user ----
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=build --chown=node:node /out/package.json ./package.json
COPY --from=build --chown=node:node /out/node_modules ./node_modules
COPY --from=build --chown=node:node /out/dist ./dist
# DATA_DIR holds the generated development key and OTP secret when they are not configured
# (and the embedded database when DATABASE_URL is unset). Mount a volume there.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 3000
# Liveness only: a dependency outage must not make the orchestrator restart every replica.
# (docker-compose.yml checks readiness instead, to order start-up.)
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Pending migrations are applied on start (MIGRATE_ON_START=true, under Kysely's migration lock,
# so several replicas starting together are safe). SIGTERM drains requests in flight.
CMD ["node", "dist/server.js"]
