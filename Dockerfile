# syntax=docker/dockerfile:1
# tickwatch as a container: built in the official Rust image, run in Debian slim as a non-root
# user, healthy while `/healthz` of its metrics endpoint says so.
#   docker build -t tickwatch .
#   docker run --rm -v tickwatch-data:/var/lib/tickwatch -p 127.0.0.1:9464:9464 tickwatch
# compose.yaml runs it with PostgreSQL and NATS.

FROM rust:1-bookworm AS build
WORKDIR /src
# What the build reads: the manifest, the sources, the shipped config (compiled in) and the
# benches the manifest names (cargo checks that they exist).
COPY Cargo.toml Cargo.lock config.toml ./
COPY src ./src
COPY benches ./benches
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin tickwatch \
 && install -m 0755 target/release/tickwatch /usr/local/bin/tickwatch

FROM debian:bookworm-slim
# CA certificates: the SMTP and webhook clients verify against the system's store.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --uid 10001 --home-dir /var/lib/tickwatch \
      --shell /usr/sbin/nologin tickwatch \
 && install -d -o tickwatch -g tickwatch -m 0750 /var/lib/tickwatch \
 && install -d -m 0755 /etc/tickwatch
COPY --from=build /usr/local/bin/tickwatch /usr/local/bin/tickwatch
COPY assets/container.toml /etc/tickwatch/config.toml
USER tickwatch
# the platform data directory (databases, logs) is under HOME: the volume
ENV HOME=/var/lib/tickwatch
WORKDIR /var/lib/tickwatch
VOLUME ["/var/lib/tickwatch"]
# the metrics endpoint ([metrics] listen in /etc/tickwatch/config.toml)
EXPOSE 9464
# SIGTERM flushes everything to the database within seconds (give the stop 30 s)
STOPSIGNAL SIGTERM
# no curl in the slim image: tickwatch asks its own /healthz (200 while it runs and can store)
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["tickwatch", "healthcheck", "--addr", "127.0.0.1:9464", "--timeout", "3"]
ENTRYPOINT ["tickwatch"]
CMD ["record", "--config", "/etc/tickwatch/config.toml", "--db", "/var/lib/tickwatch/tickwatch.db", "--log-file", "/var/lib/tickwatch/tickwatch.log"]
