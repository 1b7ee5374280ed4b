# oscred image: build on Debian 12, run on debian:bookworm-slim with only the runtime libraries.
#   docker build -t oscred .
#   docker run --rm -p 8080:8080 -e OSCRED_DATABASE_URL=... -e OSCRED_KEYS_FILE=/etc/oscred/keys.json \
#     -v "$PWD/keys.json:/etc/oscred/keys.json:ro" oscred
# Migrations are embedded in the binary: run `oscred migrate` (same image, command "migrate") before serving.

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential meson ninja-build pkg-config python3 \
      libulfius-dev libmicrohttpd-dev libjansson-dev liborcania-dev libpq-dev libssl-dev libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# libcmocka-dev only because test/meson.build is configured too; only the oscred binary is built.
RUN meson setup /build --buildtype=release \
 && meson compile -C /build oscred \
 && install -D -m 0755 -s /build/oscred /out/oscred

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libulfius2.7 libmicrohttpd12 libjansson4 liborcania2.3 libyder2.0 libpq5 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/oscred /usr/local/bin/oscred
# Fail the build if a shared library of the binary is missing from this stage.
RUN ! ldd /usr/local/bin/oscred | grep 'not found' \
 && /usr/local/bin/oscred version
USER 10001:10001
ENV OSCRED_LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD ["/usr/local/bin/oscred", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/oscred"]
CMD ["serve"]
