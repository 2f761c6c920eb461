# syntax=docker/dockerfile:1
# Belay in a container. The builder has what `make run` installs (the wasm
# target, cargo-leptos, the wasm-bindgen CLI matching Cargo.lock, npm's
# wasm-opt) and runs the release build `make run` runs; the runtime image
# holds the one server binary (it carries the compiled site), runs as an
# unprivileged user and keeps its SQLite database (if no DATABASE_URL names
# PostgreSQL) in the /var/lib/belay volume.
#
#   docker build -t belay .
#   docker run -p 127.0.0.1:3000:3000 -v belay-data:/var/lib/belay belay
#   docker exec -it <container> belay user create --username admin --role admin

ARG RUST_VERSION=1.95
ARG DEBIAN=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN} AS builder
ARG LEPTOS_VERSION=0.3.10
ARG BINARYEN_VERSION=132.0.0
# Debian's binaryen produces a wasm that fails to hydrate; npm's works.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/* \
 && npm install --global --no-audit --no-fund "binaryen@${BINARYEN_VERSION}" \
 && rustup target add wasm32-unknown-unknown
# A debug build of the build tool: it only drives cargo and wasm-bindgen,
# and builds in half the time.
RUN cargo install cargo-leptos --version "${LEPTOS_VERSION}" --locked --debug
WORKDIR /src
# The wasm-bindgen CLI must match the library in Cargo.lock; this layer is
# rebuilt only when the lockfile changes. (Not --locked: its lockfile names
# a crate version the registry lacks.)
COPY Cargo.lock ./
RUN WBG=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock) \
 && cargo install wasm-bindgen-cli --version "${WBG}"
COPY . .
# The registry and target caches outlive the build; the results are copied
# out of them in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    LEPTOS_SITE_ROOT=target/site-release cargo leptos build --release --precompress \
 && mkdir -p /out \
 && cp target/release/belay /out/belay

FROM debian:${DEBIAN}-slim
# curl answers the HEALTHCHECK; nothing else is added.
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/belay --create-home belay
COPY --from=builder /out/belay /usr/local/bin/belay
# Listens on every address of the container; the Host allow-list then
# answers only to localhost unless BELAY_ALLOWED_HOSTS names the public
# name (keep localhost in it: the HEALTHCHECK uses it).
ENV BELAY_ADDR=0.0.0.0:3000 \
    DATABASE_URL=sqlite:///var/lib/belay/belay.db \
    BELAY_LOG_FORMAT=json
WORKDIR /var/lib/belay
VOLUME /var/lib/belay
USER belay
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS -o /dev/null http://localhost:3000/healthz || exit 1
ENTRYPOINT ["belay"]
CMD ["serve"]
