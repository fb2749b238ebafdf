# The index of what one can do with Canopy. Each target is a line or two.
GO        ?= go
FUZZTIME  ?= 30s
PKGS_RACE := ./fsm/... ./acl/... ./audit/... ./consensus/... ./service/... ./httpapi/... ./wsnotify/... ./cluster/... ./client/... ./examples/... ./cmd/... ./server/... ./paritytest/... ./internal/...

.PHONY: run cluster build test lint fuzz bench bench-cluster compare ui-shots

run: ## start a single node with its UI at http://127.0.0.1:8900/ui/
	$(GO) run ./cmd/canopy serve

cluster: ## a local 3-node cluster: APIs and UIs on 127.0.0.1:8910, 8920, 8930 (Ctrl-C stops it)
	./scripts/cluster.sh

build: ## build bin/canopy, bin/canopy-bench and bin/canopy-compare
	CGO_ENABLED=0 $(GO) build -o bin/ ./cmd/...

# The cluster's fault tests run on raft-boltdb (a new node's log store) with
# every test, and again on raft-wal, which --raft-log-store wal chooses.
BOLT_FAULT_TESTS := TestLinearizableUnderLeaderKillAndPartition|TestLeaderKillUnderWriteLoadLosesNoAcknowledgedWrite|TestRestartOfAllNodesKeepsTreeAndSessions|TestPartitionedMinorityAnswersUnavailableAndCatchesUp

test: lint ## every test; the race detector on the packages with concurrency
	$(GO) test -count=1 -timeout 12m ./...
	CANOPY_RAFT_LOG_STORE=wal $(GO) test -count=1 -timeout 5m -run '$(BOLT_FAULT_TESTS)' ./clustertest/
	$(GO) test -race -count=1 -timeout 12m $(PKGS_RACE)

lint: ## gofmt and go vet must be clean
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) vet ./...

fuzz: ## run every fuzz target for FUZZTIME each; new findings land in testdata/fuzz
	@for pkg in ./fsm ./httpapi ./cluster ./cmd/canopy; do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; done

bench-cluster: ## issue 4's table: a 3-node cluster under wrk (apt-get install -y wrk)
	./scripts/cluster-bench.sh

bench: ## FSM benchmarks, then the HTTP load matrix against a real node (see docs/benchmarks.md)
	$(GO) test -run '^$$' -bench . -benchmem ./fsm/
	./scripts/bench.sh

compare: ## Canopy beside a real 3-node ZooKeeper 3.8 (apt-get install zookeeper), same load: docs/compare/<date>/, ~10 min
	$(GO) run ./cmd/canopy-compare $(COMPARE_FLAGS)

ui-shots: ## screenshots of the UI's main views, from the browser tests, into ui-shots/
	CANOPY_UI_SHOTS=$(CURDIR)/ui-shots $(GO) test -count=1 -run '^TestUI' ./web/
