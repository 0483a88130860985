# quillstore: a release build in the Rust image, run from a small Debian image as a non-root
# user. See README.md "Deployment".
#
#   docker build -t quillstore .
#   docker run --rm -p 127.0.0.1:8080:8080 -e AUTH_JWT_SECRET=... -v quillstore-data:/data quillstore
#
# Dependencies are compiled in a layer of their own (cargo-chef): it is rebuilt only when
# Cargo.toml or Cargo.lock change, so a change to the sources recompiles quillstore alone.
# The build and runtime stages share one Debian release, so the binary finds the glibc it
# was linked against.
ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm
ARG CARGO_CHEF_VERSION=0.1.78

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS chef
ARG CARGO_CHEF_VERSION
# make: the jemalloc allocator is built from its C sources (tikv-jemalloc-sys).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/* \
    && cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /src

# The recipe: the manifests with every target stubbed, so it changes only with them.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --bin quillstore --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bin quillstore \
    && install -m 0755 target/release/quillstore /usr/local/bin/quillstore

FROM debian:${DEBIAN_RELEASE}-slim
# ca-certificates: TLS to MongoDB Atlas and AWS S3. The health check needs only bash.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 quillstore \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin quillstore \
    && mkdir -p /data \
    && chown 10001:10001 /data
COPY --from=build /usr/local/bin/quillstore /usr/local/bin/quillstore
COPY docker/healthcheck.sh /usr/local/bin/quillstore-healthcheck

# Listening on every interface means authentication must be chosen explicitly: the image
# asks for JWT (AUTH_JWT_SECRET or AUTH_JWT_PUBLIC_KEY); serving without authentication
# needs AUTH_MODE=none set on purpose.
ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data \
    AUTH_MODE=jwt \
    LOG_FORMAT=json \
    RUST_LOG=info

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["quillstore-healthcheck", "/api/health/live"]
ENTRYPOINT ["quillstore"]
CMD ["serve"]
