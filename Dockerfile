# drec's container image (docs/container.md): built on Debian 12 with the packages of
# `scripts/install-deps.sh --for run`, run on Debian 12 slim with only those of `--for runtime`.
#   docker build -t drec .
#   podman build -t drec .
# Behind a TLS-inspecting proxy, give npm (the dashboard's build) the proxy's CA as a secret:
#   docker build --secret id=build_ca,src=/path/to/ca.crt -t drec .

# ---- build: the plain release preset, the drec target only (no tests, no benchmarks) --------
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/
RUN scripts/install-deps.sh --for run && rm -rf /var/lib/apt/lists/*
COPY . .
ARG DREC_BUILD_JOBS=2
RUN --mount=type=secret,id=build_ca \
    if [ -s /run/secrets/build_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/build_ca; fi \
    && cmake --preset release -DDREC_WARNINGS_AS_ERRORS=OFF -DDREC_BUILD_TESTS=OFF \
         -DDREC_BUILD_BENCH=OFF >/dev/null \
    && cmake --build --preset release -j "$DREC_BUILD_JOBS" --target drec \
    && install -D -m 0755 -s build/release/drec /out/usr/local/bin/drec

# ---- run: shared libraries and CA certificates, a non-root user, one volume ------------------
FROM debian:bookworm-slim
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh --for runtime \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /tmp/install-deps.sh \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/drec --no-create-home \
         --shell /usr/sbin/nologin drec \
    && install -d -o drec -g drec -m 0750 /var/lib/drec \
    && install -d -m 0755 /etc/drec
COPY --from=build /out/ /

ARG DREC_REVISION=unknown
LABEL org.opencontainers.image.title="drec" \
      org.opencontainers.image.description="Pull and push statistics of a CNCF Distribution registry, from its webhook notifications" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.revision="$DREC_REVISION" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"

# Every interface (a container's loopback is its own), the SQLite store and the generated
# certificate in the volume. A configuration file can be mounted at /etc/drec/config.yml and
# named as the argument (or DREC_CONFIG); DREC_* variables override it. On 0.0.0.0 drec refuses
# to start without credentials: set DREC_AUTH_TOKENS (or auth.tokens in the file).
ENV DREC_SERVER_ADDRESS=0.0.0.0 \
    DREC_SERVER_PORT=8443 \
    DREC_STORAGE_SQLITE_PATH=/var/lib/drec/drec.db \
    DREC_SERVER_SSL_GENERATED_DIR=/var/lib/drec/tls
VOLUME /var/lib/drec
WORKDIR /var/lib/drec
USER 10001:10001
EXPOSE 8443
# No HEALTHCHECK: the slim image has no HTTPS client, and the OCI image format has no health
# check; orchestrators probe GET /healthz and /readyz over HTTPS (docs/container.md).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/drec"]
