# The Backbone's container image: one `backbone` binary; the command picks the role
# (`serve`, `consumer-api`, `admin-api`, `worker`, `migrate`, `job run <name>`).
#
#   podman build -t backbone .          (or docker build)
#   podman run --rm backbone --version
#
# Build stage: the release binary, with cargo's registry and target dir cached between builds.
ARG RUST_IMAGE=docker.io/library/rust:1.95-bookworm
# Runtime stage: glibc, CA certificates and a non-root user (65532), nothing else (no shell).
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin backbone \
    && install -D -m 0755 target/release/backbone /out/usr/local/bin/backbone \
    && install -d -m 0700 /out/var/lib/backbone

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/usr/local/bin/backbone /usr/local/bin/backbone
COPY --from=build --chown=65532:65532 /out/var/lib/backbone /var/lib/backbone
# Listeners on every interface inside the container; `/metrics`, `/health/live` and
# `/health/ready` on 9090 for every role (the Admin API serves them too).
ENV BACKBONE_DATA_DIR=/var/lib/backbone \
    BACKBONE_CONSUMER_API__LISTEN=0.0.0.0:8090 \
    BACKBONE_ADMIN_API__LISTEN=0.0.0.0:8091 \
    BACKBONE_METRICS__LISTEN=0.0.0.0:9090 \
    BACKBONE_LOG__FORMAT=json
USER 65532:65532
WORKDIR /var/lib/backbone
EXPOSE 8090 8091 9090
# `backbone healthcheck` asks the metrics listener's /health/live (no curl in the image).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/backbone", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/backbone"]
CMD ["serve"]
