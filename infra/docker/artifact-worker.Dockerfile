# artifact-worker (whisper.cpp inside). Build from the repository root:
#   docker build -f infra/docker/artifact-worker.Dockerfile -t studio/artifact-worker .
FROM rust:1.89-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake libclang-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p artifact-worker --bin artifact-worker

FROM debian:bookworm-slim
# python3 + pip: `prepare-model` converts the dev model (see artifact-worker/README.md).
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates python3 python3-pip && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/studio studio && mkdir -p /var/lib/studio /models && chown studio /var/lib/studio /models
COPY --from=build /src/target/release/artifact-worker /usr/local/bin/artifact-worker
ENV DATA_DIR=/var/lib/studio STUDIO_CACHE_DIR=/models LOG_FORMAT=json
USER studio
ENTRYPOINT ["/usr/local/bin/artifact-worker"]
