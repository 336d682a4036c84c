# The manager's image, for people with Docker (make docker-build IMG=...).
# `make image` builds the same image with no daemon (hack/image).

# Build the manager binary
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
# Stamped into the binary (manager --version, mcpsession_build_info); the
# Makefile passes its VERSION and REVISION.
ARG VERSION=0.0.0-dev
ARG REVISION=unknown

WORKDIR /workspace
# Download the modules first, so this layer is cached until go.mod or go.sum
# change.
COPY go.mod go.mod
COPY go.sum go.sum
RUN go mod download

# Only the Go sources the manager is built from.
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/

# Static (CGO_ENABLED=0) so it runs with nothing else in the image. GOARCH is
# left empty when TARGETARCH is, so the build is for the platform of the
# machine building it.
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath \
    -ldflags "-X github.com/mcp-session-operator/mcp-session-operator/internal/version.Version=${VERSION} -X github.com/mcp-session-operator/mcp-session-operator/internal/version.Revision=${REVISION}" \
    -o manager ./cmd

# Nothing but the binary. It needs no CA bundle: the only TLS peer it dials
# is the apiserver, whose CA comes from the service-account volume
# (ca.crt) or the kubeconfig, and its own serving certificates are
# self-signed or mounted. It needs no /etc/passwd either: it runs as the
# numeric user below and never looks names up. No shell, no package manager.
FROM scratch
WORKDIR /
COPY --from=builder /workspace/manager /manager
USER 65532:65532

ENTRYPOINT ["/manager"]
