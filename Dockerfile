# syntax=docker/dockerfile:1
# mcp-u2m-proxy for a team, in a container (docs/deploy.md). Build: docker build -t mcp-u2m-proxy .
# Run:   docker run -e UPSTREAM_MCP_URL=https://mcp.example.com/mcp -p 127.0.0.1:8000:8000 -v u2m-data:/data mcp-u2m-proxy
# The first start prints a generated API key once (docker logs); it is kept in the volume (/data/api-key, 0600).

# 1. Build dist/ with the dev tools (TypeScript).
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# 2. The runtime dependencies only (no dev tools, no install scripts: `prepare` would try to build).
FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# 3. The image: node, the runtime dependencies, dist/. Runs as the unprivileged "node" user (uid 1000).
FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    MCP_AUTH_DIR=/data \
    OAUTH_CALLBACK_PORT=8000 \
    MCP_PROXY_GENERATE_API_KEY=1
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json README.md ./
RUN mkdir -p /data && chown node:node /data && chmod 700 /data
USER node
VOLUME ["/data"]
EXPOSE 8000
# /healthz answers 200 while the proxy serves (an upstream outage shows in its body, not as a restart).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.OAUTH_CALLBACK_PORT||8000)+'/healthz').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"]
# SIGTERM stops it gracefully within 10 s; give `docker stop` more than that (-t 15, compose stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js", "serve", "--host", "0.0.0.0", "--no-browser"]
