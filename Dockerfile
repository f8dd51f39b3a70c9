# The base images, as build arguments so that local ones can stand in (scripts/container-check makes them from
# Debian's packages where no registry is reachable).
ARG BUILD_IMAGE=swift:6.3-bookworm
ARG RUN_IMAGE=debian:bookworm-slim

# Build: the Swift toolchain with the C libraries' headers.
FROM ${BUILD_IMAGE} AS build
RUN apt-get update && apt-get install -y --no-install-recommends libopenblas-dev zlib1g-dev libsqlite3-dev libssl-dev libpq-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources Sources
# The package declares its test targets too: their sources must be there for it to load (they are not built).
COPY Tests Tests
RUN swift build -c release --product scored --static-swift-stdlib \
    && cp .build/release/scored /usr/local/bin/scored

# Run: a slim Debian with only the runtime libraries, as a non-root user.
FROM ${RUN_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends libopenblas0-pthread zlib1g libsqlite3-0 libssl3 libpq5 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app scored \
    && mkdir -p /data && chown scored /data
COPY --from=build /usr/local/bin/scored /usr/local/bin/scored
COPY public /app/public
COPY config /app/config
COPY datasets /app/datasets
WORKDIR /app
ENV SCORED_HOST=0.0.0.0 SCORED_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
USER 10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s CMD ["scored", "healthcheck"]
ENTRYPOINT ["scored", "serve"]
