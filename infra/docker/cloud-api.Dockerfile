# cloud-api with the browser app built in. Build from the repository root:
#   docker build -f infra/docker/cloud-api.Dockerfile -t studio/cloud-api .
FROM rust:1.89-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm pkg-config && rm -rf /var/lib/apt/lists/*
# build-web.sh fetches the wasm-bindgen matching Cargo.lock itself.
WORKDIR /src
COPY . .
RUN rustup target add wasm32-unknown-unknown && bash scripts/build-web.sh && cargo build --release --locked -p cloud-api --bin cloud-api

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/studio studio && mkdir -p /var/lib/studio && chown studio /var/lib/studio
COPY --from=build /src/target/release/cloud-api /usr/local/bin/cloud-api
COPY --from=build /src/student-web/media/dist /usr/share/studio/web
ENV BIND_ADDR=0.0.0.0:8080 DATA_DIR=/var/lib/studio STUDENT_WEB_DIR=/usr/share/studio/web MEDIA_DIR=/usr/share/studio/web LOG_FORMAT=json
USER studio
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q 200 <&3"]
ENTRYPOINT ["/usr/local/bin/cloud-api"]
