# kubetrail — see README.md. `make help` lists the targets.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_TOOLS_VERSION ?= v0.23.0
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
K8S_VERSION ?= 1.37.2
ETCD_VERSION ?= 3.6.16
IMG ?= ghcr.io/kubetrail/kubetrail:dev

# envtest reads the control-plane binaries from here (hack/build-control-plane.sh).
export KUBEBUILDER_ASSETS := $(LOCALBIN)
export K8S_VERSION ETCD_VERSION

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRDs and the manager RBAC (config/webhook is written by hand).
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: controller-gen ## Generate the DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: verify
verify: manifests generate fmt ## Fail when generated or formatted files are stale.
	@if [ -n "$$(git status --porcelain -- api config go.mod go.sum '*.go')" ]; then \
		echo "error: generated files are stale; run 'make manifests generate fmt' and commit:"; \
		git status --porcelain -- api config go.mod go.sum '*.go'; git --no-pager diff --stat; exit 1; fi

.PHONY: test
test: control-plane build ## Every test: unit, envtest (real kube-apiserver + etcd) and end-to-end.
	go vet ./...
	go test $$(go list ./... | grep -v /test/e2e) -count=1 -timeout 30m
	@# End to end last and alone: it runs a whole control plane and times what it sees.
	go test ./test/e2e/ -count=1 -timeout 30m

.PHONY: test-unit
test-unit: ## Only the pure-package tests (no control plane needed).
	go test ./internal/... ./cmd/... -count=1

.PHONY: bench
bench: control-plane build ## Benchmarks (micro, admission vs Kyverno, controller scale); figures in docs/benchmarks*.md.
	hack/bench.sh

##@ Build

.PHONY: build
build: ## Build the manager and the kubectl-trail plugin into bin/.
	go build -o $(LOCALBIN)/manager .
	go build -o $(LOCALBIN)/kubectl-trail ./cmd/kubectl-trail

.PHONY: run
run: manifests generate ## Run the manager against the current kubeconfig.
	go run . --webhook-cert-dir=.local/certs

.PHONY: docker-build
docker-build: ## Build the container image (needs a container engine).
	docker build -t $(IMG) .

##@ Local cluster

.PHONY: control-plane
control-plane: ## Build etcd, kube-apiserver, kube-controller-manager, kubectl from source into bin/ (cached).
	hack/build-control-plane.sh

.PHONY: local-up
local-up: control-plane build ## Start the local control plane with kubetrail (kubeconfig in .local/kubeconfig).
	hack/local-up.sh

.PHONY: local-down
local-down: ## Stop the local control plane and remove its state.
	hack/local-down.sh

.PHONY: demo
demo: control-plane build ## Play the mission's scenarios on a throwaway local control plane.
	hack/demo.sh

##@ Deployment

.PHONY: install
install: manifests ## Install the CRDs into the current cluster.
	$(LOCALBIN)/kubectl apply -k config/crd

.PHONY: deploy
deploy: manifests ## Install kubetrail into the current cluster (kubectl apply -k config/default).
	$(LOCALBIN)/kubectl apply -k config/default

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $(CONTROLLER_GEN)
