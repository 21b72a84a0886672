# syntax=docker/dockerfile:1
# Build: a static binary (pure-Go SQLite, no cgo). The Go release here must carry
# the standard-library security fixes newer than the build machines' Go.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -tags nodemo -trimpath -ldflags="-s -w" -o /out/agentdesk . \
 && mkdir -p /out/data

# Run: distroless static, non-root, no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/agentdesk /agentdesk
COPY --from=build --chown=nonroot:nonroot /out/data /var/lib/agentdesk
USER nonroot:nonroot
ENV AGENTDESK_ADDR=0.0.0.0:8080 AGENTDESK_DATA_DIR=/var/lib/agentdesk
EXPOSE 8080
VOLUME ["/var/lib/agentdesk"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s CMD ["/agentdesk", "healthcheck"]
ENTRYPOINT ["/agentdesk"]
CMD ["serve"]
