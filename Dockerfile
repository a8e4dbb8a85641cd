# syntax=docker/dockerfile:1
# Build stage: full install, compile TypeScript to dist/.
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Runtime stage: production dependencies and the built output only, as a non-root user.
FROM node:20.20.2-bookworm-slim
# Every interface, so the published port answers; with no AUTH_TOKENS the receiver then refuses to
# start (unless AUTH_TOKENS=none asks for auth off).
ENV NODE_ENV=production HOST=0.0.0.0
WORKDIR /app
# The code stays owned by root: the user the process runs as can read it, not change it. Only
# /app/data (the SQLite file) is writable.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form, so SIGTERM reaches Node and the queue is drained before exit.
CMD ["node", "dist/main.js"]
