# syntax=docker/dockerfile:1.20.0
#
# Crier's container image: one static binary, /crier, whose first argument
# picks the process (api, worker, relay, all, migrate, token).
#
#   docker build -t crier .
#   docker run --rm crier api                  # or worker, relay, migrate; no argument runs "all"
#   docker run --rm -e CRIER_JWT_SECRET=... -e CRIER_JWT_ISSUER=crier -e CRIER_JWT_AUDIENCE=crier \
#     crier token --sub alice --role admin
#
# Configuration comes only from environment variables (DATABASE_URL,
# KAFKA_BROKERS, TEMPORAL_ADDRESS, CRIER_JWT_SECRET, ...; see the README).
# The image defaults to CRIER_ENV=production, so CRIER_JWT_SECRET (32+ bytes)
# or a JWKS, CRIER_JWT_ISSUER and CRIER_JWT_AUDIENCE are required, and to
# CRIER_HTTP_ADDR=0.0.0.0:8080, so the API can be reached through a published
# port (-p 127.0.0.1:8080:8080). -e CRIER_ENV=development alone does not start:
# on 0.0.0.0 the published development secret would let anyone sign tokens.
# Development mode there needs a CRIER_JWT_SECRET of your own (or a JWKS), and
# then logs a warning at start that development mode listens on 0.0.0.0:8080.
# docker-compose.yml runs the whole stack (PostgreSQL, Kafka, Temporal, Crier).
#
# The runtime image is distroless: no shell, no curl. Probe GET /healthz
# (alive) and GET /readyz (dependencies reachable) from outside the container.

# Every image is named by an exact version, so a rebuild gets the same
# toolchain, not whatever a floating tag points at that day. The builder is
# Go 1.27.3, the release scripts/lib.sh names (CRIER_GO; scripts/vulncheck.sh
# fails when the two differ): Go 1.26.8 has standard-library advisories
# fixed since. It runs on the build machine's own platform and cross-compiles
# for the target (docker buildx build --platform linux/arm64 ...).
# The admin console's JavaScript, compiled from console/src with the
# TypeScript the lockfile pins; the Go build embeds it.
FROM --platform=$BUILDPLATFORM node:20.20.2-bookworm-slim AS console
WORKDIR /console
COPY console/package.json console/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY console/ ./
RUN npx --no-install tsc -p .

FROM --platform=$BUILDPLATFORM golang:1.27.3-bookworm AS build
WORKDIR /src

# Modules first, in a layer of their own: it is rebuilt only when go.mod or
# go.sum change, not on every source edit.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
COPY --from=console /console/public/js console/public/js
ARG TARGETOS
ARG TARGETARCH
# A static binary (no cgo), without local paths or symbol tables. The cache
# mount keeps Go's build cache between builds; it is not part of any layer.
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -mod=readonly -trimpath -ldflags "-s -w" -o /out/crier ./cmd/crier

# Runtime: CA certificates, tzdata and a non-root user (uid 65532), nothing else.
# Distroless publishes no version tags, only moving ones such as :nonroot, so
# the exact pin is a digest. Take it from the registry when you release and
# write it after the tag, which stays as the readable name:
#   docker buildx imagetools inspect gcr.io/distroless/static-debian12:nonroot
#   FROM gcr.io/distroless/static-debian12:nonroot@sha256:<the digest it printed>
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/crier /crier
# The image's "nonroot" user, by number, so that Kubernetes' runAsNonRoot can
# verify it without reading /etc/passwd.
USER 65532:65532
ENV CRIER_ENV=production \
    CRIER_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/crier"]
CMD ["all"]
