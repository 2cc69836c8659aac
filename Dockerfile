# syntax=docker/dockerfile:1
# Parley: multi-stage image. Build with `docker build -t parley .`; run with
#   docker run -p 3000:3000 -e DATABASE_URL=mysql://… -e REDIS_URL=redis://… \
#     -e JWT_SECRET=… -e ENCRYPTION_MASTER_KEY=… parley
# NODE_ENV=production: the secrets must come from the environment (see README, Configuration).

# ---- build: compile TypeScript to dist/app -------------------------------------------------
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY schemas/ ./schemas/
COPY db/ ./db/
COPY src/ ./src/
COPY scripts/ ./scripts/
RUN npm run build

# ---- runtime: production dependencies and the compiled app only ----------------------------
FROM node:24-slim AS runtime
# tini as PID 1 forwards SIGTERM to node (graceful drain) and reaps zombies.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist/app ./dist/app
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/app/src/server.js"]
