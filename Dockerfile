# syntax=docker/dockerfile:1
# Compact Platform: the `compact` binary in a small Debian runtime image.
#
#   docker build -t compact .
#   docker run -p 8080:8080 -v compact-data:/var/lib/compact compact
#
# Without DATABASE_URL the container uses an embedded SQLite file in the data
# volume; set DATABASE_URL=postgres://... for production (see docker-compose.yml).

############################ build ############################
FROM rust:1.95-bookworm AS builder

WORKDIR /app

# The build compiles bundled libsqlite3, libpq and vendored OpenSSL from source;
# the rust:*-bookworm image already has the C compiler, make and perl they need.
# Migrations (migrations/) are embedded into the binary at compile time.
COPY . .

# Registry and target dir live in BuildKit cache mounts so rebuilds are
# incremental. The cache mount is not part of the image layer, so the binary is
# copied out of it within the same RUN step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/app/target,sharing=locked \
    cargo build --release --locked --bin compact \
 && install -D -m 0755 target/release/compact /out/compact

############################ runtime ############################
FROM debian:bookworm-slim AS runtime

# ca-certificates: TLS to SMTP relays and databases; curl: the HEALTHCHECK.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

# Fixed non-root uid/gid so volume ownership is predictable across rebuilds.
# The data directory is created (and owned) before VOLUME so that a fresh named
# volume is initialised with this ownership.
RUN groupadd --system --gid 10001 compact \
 && useradd --system --uid 10001 --gid compact --home-dir /var/lib/compact \
        --no-create-home --shell /usr/sbin/nologin compact \
 && mkdir -p /var/lib/compact \
 && chown compact:compact /var/lib/compact \
 && chmod 0750 /var/lib/compact

COPY --from=builder /out/compact /usr/local/bin/compact

# Attachments, JWT signing keys, the SQLite file (if used) and .eml mail (when
# no SMTP is configured) live here: keep it on a volume.
VOLUME /var/lib/compact
WORKDIR /var/lib/compact

ENV COMPACT_BIND=0.0.0.0:8080 \
    COMPACT_DATA_DIR=/var/lib/compact

EXPOSE 8080

# /readyz is 200 only when the database answers, so an unhealthy container means
# the API cannot serve requests (use /healthz for mere liveness).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1

USER compact

ENTRYPOINT ["compact"]
CMD ["serve"]
