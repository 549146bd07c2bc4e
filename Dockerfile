# Container image for promgate. Not built in CI (no container engine there); `docker build -t promgate .`
FROM node:20-slim AS build
WORKDIR /opt/promgate
COPY . .
RUN npm ci && npm prune --omit=dev

FROM node:20-slim
WORKDIR /opt/promgate
COPY --from=build /opt/promgate/package.json ./
COPY --from=build /opt/promgate/node_modules ./node_modules
COPY --from=build /opt/promgate/dist ./dist
COPY --from=build /opt/promgate/examples ./examples
USER 1000
EXPOSE 9092
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["run", "--config", "examples/quickstart.yaml"]
