# Sigstack service image: `serve` (whole stack), `serve ca` or `serve log`.
# Built with no network access: the base image is made locally by scripts/build-base-image.sh (debootstrap
# bookworm + Node 20) and the production dependencies are staged on the host by scripts/stage-image.sh.
# `npm run stack:up` does both, then builds this image. See docs/operations.md.
ARG BASE_IMAGE=localhost/sigstack-node:20-bookworm
FROM ${BASE_IMAGE}

# a fixed unprivileged user, so the data volume's owner is the same in every image
RUN echo 'sigstack:x:10001:10001:sigstack:/app:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'sigstack:x:10001:' >> /etc/group \
 && mkdir -p /app /data && chown 10001:10001 /data

WORKDIR /app
COPY .build/prod/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY core ./core
COPY log ./log
COPY ca ./ca
COPY services ./services
COPY client ./client
COPY scripts/healthcheck.mjs ./scripts/healthcheck.mjs

ENV NODE_ENV=production \
    SIGSTACK_HOST=0.0.0.0 \
    SIGSTACK_DATA_DIR=/data
USER 10001:10001
VOLUME ["/data"]
EXPOSE 3000 5555
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s --retries=3 CMD ["node", "/app/scripts/healthcheck.mjs"]
ENTRYPOINT ["node", "/app/bin/sigstack.js"]
CMD ["serve"]
