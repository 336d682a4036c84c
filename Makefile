# mcp-session-operator: persistent, resumable AI sessions on Kubernetes.
# Every tool the targets need is installed into ./bin by this Makefile or hack/.

# The release version, stamped into the manager (--version, the build_info
# metric) and used as the image tag; never "latest", which kubelets always
# pull again.
VERSION ?= 0.1.0
ifeq ($(origin REVISION),undefined)
REVISION := $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
endif
IMG ?= mcp-session-operator:$(VERSION)
# Every build of the manager links with these (go build, make image, and the
# Dockerfile through its VERSION and REVISION build args).
VERSION_PKG := github.com/mcp-session-operator/mcp-session-operator/internal/version
LDFLAGS ?= -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Revision=$(REVISION)
# Architecture of the image `make image` builds (always linux).
GOARCH ?= $(shell go env GOARCH)
IMAGE_TAR ?= dist/image.tar
CONTAINER_TOOL ?= docker

CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.1
HELM_VERSION ?= v4.3.1
# promtool, from the newest Prometheus module `go install` accepts (the
# v0.313-v0.315 go.mod files carry a replace directive). The PromQL parser of
# the dashboard check (go.mod) is v0.313.2 instead: the Prometheus release
# whose requirements move this module's other dependencies least.
PROMETHEUS_VERSION ?= v0.316.0
# The Prometheus Operator's CRDs for make test-cluster, from its module (the
# newest version the module proxy serves).
PROMETHEUS_OPERATOR_VERSION ?= v0.85.0

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)
PROMTOOL ?= $(LOCALBIN)/promtool-$(PROMETHEUS_VERSION)
CHART_DIR ?= charts/mcp-session-operator
KUBECTL ?= kubectl

GOTEST_FLAGS ?= -count=1 -timeout=30m
FUZZTIME ?= 20000x

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs and RBAC from the markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/...;./controllers/..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: generate
generate: controller-gen ## Generate deepcopy code from the markers.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run gofmt on the code.
	gofmt -w $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: verify
verify: generate manifests helm-chart ## Fail if generated files (code, CRDs, RBAC, the Helm chart) are stale or code is not gofmt-clean.
	@hack/verify.sh

.PHONY: envtest
envtest: ## Build (once, cached per user) the real kube-apiserver and etcd for tests and dev.
	@hack/control-plane.sh $(LOCALBIN) >/dev/null

.PHONY: test
test: manifests generate vet envtest helm kustomize ## Run all tests against a real kube-apiserver and etcd (and the chart against helm and kustomize), the store tests against Pebble and a private PostgreSQL (hack/postgres.sh).
	KUBEBUILDER_ASSETS="$$(hack/control-plane.sh $(LOCALBIN))" HELM=$(HELM) KUSTOMIZE=$(KUSTOMIZE) hack/postgres.sh run -- go test $(GOTEST_FLAGS) ./...

.PHONY: test-chart
test-chart: helm-chart helm kustomize ## The Helm chart: helm lint, and helm template against the kustomize installer, object by object.
	$(HELM) lint --strict $(CHART_DIR)
	$(HELM) lint --strict $(CHART_DIR) --set monitoring.enabled=true,namespace.create=true
	$(HELM) lint --strict $(CHART_DIR) --set store.postgres.secretName=mcp-session-operator-store
	HELM=$(HELM) KUSTOMIZE=$(KUSTOMIZE) go test -count=1 -v ./hack/chart/

.PHONY: test-monitoring
test-monitoring: promtool ## The alerts (promtool check and unit tests) and the dashboard's and alerts' series (all exported by the manager).
	@hack/test-monitoring.sh $(PROMTOOL)

.PHONY: fuzz
fuzz: ## Run every fuzz target briefly (FUZZTIME each).
	@hack/postgres.sh run -- hack/fuzz.sh $(FUZZTIME)

.PHONY: test-e2e
test-e2e: envtest build-installer ## End-to-end: real control plane + the manager binary as a separate process, driven over MCP; the installer applied and its RBAC used; two managers on one PostgreSQL.
	go build -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/manager ./cmd
	KUBEBUILDER_ASSETS="$$(hack/control-plane.sh $(LOCALBIN))" MANAGER_BINARY=$(LOCALBIN)/manager INSTALLER=$(CURDIR)/dist/install.yaml \
		hack/postgres.sh run -- go test -tags e2e $(GOTEST_FLAGS) -v ./internal/e2e/...

.PHONY: conformance
conformance: ## Run the official MCP conformance suite (server scenarios) against the server.
	hack/conformance.sh $(LOCALBIN)

.PHONY: bench
bench: envtest ## Run every benchmark; print one table, write bin/bench/report.{md,json}.
	KUBEBUILDER_ASSETS="$$(hack/control-plane.sh $(LOCALBIN))" hack/bench.sh

.PHONY: bench-scale
bench-scale: envtest ## The manager binary with 100,000 sessions (SCALE_SESSIONS): memory, deadlines, pages, a burst; adds its rows to bin/bench/report.md.
	go build -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/manager ./cmd
	KUBEBUILDER_ASSETS="$$(hack/control-plane.sh $(LOCALBIN))" MANAGER_BINARY=$(LOCALBIN)/manager hack/bench-scale.sh

##@ Run locally

# make dev's store: pebble (in .dev/data, kept), postgres (a private
# PostgreSQL from hack/postgres.sh, removed on exit) or a postgres:// URL.
STORE ?= pebble

.PHONY: dev
dev: manifests envtest ## Run everything locally: control plane, CRDs, manager, MCP at http://127.0.0.1:8090/mcp (STORE=postgres: on a private PostgreSQL).
	go build -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/manager ./cmd
	go build -o $(LOCALBIN)/dev ./hack/dev
ifeq ($(STORE),pebble)
	KUBEBUILDER_ASSETS="$$(hack/control-plane.sh $(LOCALBIN))" $(LOCALBIN)/dev --manager=$(LOCALBIN)/manager
else ifeq ($(STORE),postgres)
	KUBEBUILDER_ASSETS="$$(hack/control-plane.sh $(LOCALBIN))" hack/postgres.sh run -- \
		sh -c 'exec $(LOCALBIN)/dev --manager=$(LOCALBIN)/manager --store="$$MCP_TEST_POSTGRES_URL"'
else
	KUBEBUILDER_ASSETS="$$(hack/control-plane.sh $(LOCALBIN))" $(LOCALBIN)/dev --manager=$(LOCALBIN)/manager --store='$(STORE)'
endif

.PHONY: demo
demo: ## Play the tutorial's three-day debugging story against `make dev` over MCP.
	go run ./hack/demo

##@ One-node cluster (real pods, no kind; root)

CLUSTER_DIR ?= $(CURDIR)/.cluster

.PHONY: cluster
cluster: ## Start a one-node Kubernetes cluster with real pods on this machine; prints its KUBECONFIG.
	CLUSTER_DIR=$(CLUSTER_DIR) hack/cluster.sh up

.PHONY: cluster-down
cluster-down: ## Stop the one-node cluster and restore the machine as it was.
	CLUSTER_DIR=$(CLUSTER_DIR) hack/cluster.sh down

.PHONY: cluster-load
cluster-load: image ## Load the operator's image (make image) into the one-node cluster's node.
	CLUSTER_DIR=$(CLUSTER_DIR) hack/cluster.sh load dist/image.tar

.PHONY: test-cluster
test-cluster: build-installer helm ## The operator as users run it: image, installer, Helm chart, real pods, agent pod, failover, upgrade, metrics.
	CLUSTER_DIR=$(CLUSTER_DIR) IMG=$(IMG) VERSION=$(VERSION) HELM=$(HELM) KUSTOMIZE=$(KUSTOMIZE) CHART_DIR=$(CHART_DIR) \
		PROMETHEUS_OPERATOR_VERSION=$(PROMETHEUS_OPERATOR_VERSION) hack/test-cluster.sh

##@ Build

.PHONY: build
build: generate fmt vet ## Build the manager binary into bin/manager.
	go build -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/manager ./cmd

.PHONY: run
run: manifests generate ## Run the manager against the cluster of the current kubeconfig.
	go run -ldflags "$(LDFLAGS)" ./cmd --store=pebble:$(CURDIR)/.dev/data

.PHONY: image
image: ## Build the manager's image with no Docker daemon: dist/image.tar, tagged IMG; prints its digest.
	mkdir -p $(LOCALBIN)/image $(dir $(IMAGE_TAR))
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) go build -trimpath -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/image/manager ./cmd
	go run ./hack/image --binary $(LOCALBIN)/image/manager --path /manager --tag $(IMG) --out $(IMAGE_TAR) --platform linux/$(GOARCH)

.PHONY: docker-build
docker-build: ## Build the same image with Docker (the Dockerfile), tagged IMG.
	$(CONTAINER_TOOL) build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the image IMG with Docker.
	$(CONTAINER_TOOL) push $(IMG)

.PHONY: build-installer
build-installer: manifests generate kustomize ## Write dist/install.yaml (CRDs, RBAC, the manager on a PVC) and dist/install-postgres.yaml (the same on PostgreSQL, several replicas).
	mkdir -p dist
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default > dist/install.yaml
	$(KUSTOMIZE) build config/postgres > dist/install-postgres.yaml

.PHONY: helm-chart
helm-chart: manifests kustomize ## Write the Helm chart (charts/mcp-session-operator) from config/: the installer's objects as templates.
	go run ./hack/chart --kustomize $(KUSTOMIZE) --config config --out $(CHART_DIR) --version $(VERSION)

.PHONY: release
release: manifests generate kustomize helm ## Everything a release publishes, in dist/: install.yaml pinned to the image digest, the image, the chart, the CRDs, monitoring, SHA256SUMS.
	@KUSTOMIZE=$(KUSTOMIZE) HELM=$(HELM) hack/release.sh "$(VERSION)" "$(IMG)"

.PHONY: test-release
test-release: ## make release from a fresh clone of HEAD, and check what it wrote.
	@hack/test-release.sh

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests kustomize ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Remove the CRDs. ignore-not-found=true to ignore missing ones.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator to the cluster of the current kubeconfig.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Remove the operator. ignore-not-found=true to ignore missing ones.
	$(KUSTOMIZE) build config/default | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen into bin/.
$(CONTROLLER_GEN):
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Install kustomize into bin/.
$(KUSTOMIZE):
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: helm
helm: $(HELM) ## Build helm from its Go module into bin/.
$(HELM):
	$(call go-install-tool,$(HELM),helm.sh/helm/v4/cmd/helm,$(HELM_VERSION))

.PHONY: promtool
promtool: $(PROMTOOL) ## Build promtool from the Prometheus Go module into bin/.
$(PROMTOOL):
	$(call go-install-tool,$(PROMTOOL),github.com/prometheus/prometheus/cmd/promtool,$(PROMETHEUS_VERSION))

# go-install-tool installs a Go tool at a pinned version under a versioned name.
define go-install-tool
@[ -f "$(1)" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Installing $${package}" ;\
rm -f $(1) ;\
GOBIN=$(LOCALBIN) go install $${package} ;\
mv "$$(echo "$(1)" | sed "s/-$(3)$$//")" $(1) ;\
}
endef
