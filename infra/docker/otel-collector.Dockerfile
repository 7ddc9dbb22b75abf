# The collector-contrib image is built FROM scratch: no shell, no wget, so a container
# healthcheck has nothing to run. This adds one static busybox binary so that
# docker-compose.yml can probe the health_check extension on :13133. Nothing else changes.
ARG OTELCOL_IMAGE=otel/opentelemetry-collector-contrib:0.151.0
ARG BUSYBOX_IMAGE=busybox:1.37.0-musl

FROM ${BUSYBOX_IMAGE} AS busybox

FROM ${OTELCOL_IMAGE}
COPY --from=busybox /bin/busybox /usr/local/bin/busybox
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/busybox", "wget", "-q", "--spider", "http://127.0.0.1:13133/"]
