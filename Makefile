# The two commands in README.md, and their parts.
SHELL := /bin/bash
export PATH := $(CURDIR)/.tools/node_modules/.bin:$(PATH)

.PHONY: run setup test check unit unit-postgres crash api-fuzz sdk-python mcp-e2e e2e binary debug-build openapi
PG := postgres://postgres@127.0.0.1:5432
# Both crates in one cargo call, so each is compiled once with one feature set.
RUST := -p app -p belay --features app/ssr
# The release: cargo-leptos builds the front end, compresses it (br, gzip),
# then the server, which carries it (server/build.rs). Its site folder is
# its own, so the debug front end the browser tests use stays in target/site.
RELEASE := LEPTOS_SITE_ROOT=target/site-release cargo leptos build --release --precompress

## Set up a fresh machine, build a release and serve Belay at http://127.0.0.1:3000
run: setup
	@printf '\033[1m==> building the release: the front end, then the server that carries it (several minutes the first time)\033[0m\n'
	$(RELEASE)
	@printf '\033[1m==> serving Belay at http://127.0.0.1:3000 (Ctrl-C stops it)\033[0m\n'
	./target/release/belay serve

setup:
	.ci/setup

## Set up a fresh machine and run every test: lints, unit, integration,
## the API fuzz run, the Python SDK, the MCP gateway, browser
test:
	.ci/setup --browser
	$(MAKE) check unit unit-postgres api-fuzz sdk-python mcp-e2e e2e binary BINARY_OPT=1

check:
	cargo fmt --all -- --check
	cargo clippy $(RUST) --all-targets -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

## Every Rust test, built once: unit tests, the HTTP suite on SQLite, the
## CLI tests, the module-structure test and the crash test on SQLite.
unit:
	cargo test $(RUST)

## The HTTP integration suite and the crash test again, each test on a
## fresh PostgreSQL database
unit-postgres:
	pg_isready -q -h 127.0.0.1 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	BELAY_TEST_POSTGRES=$(PG) cargo test $(RUST) --test http --test crash; \
	  status=$$?; .ci/drop-test-databases $(PG); exit $$status

## The crash test alone, on SQLite and on PostgreSQL: `belay serve` killed
## with SIGKILL under load six times; every 201 and every retry checked
## (`make unit` and `make unit-postgres` run it too, so `make test` does).
crash:
	cargo test $(RUST) --test crash
	pg_isready -q -h 127.0.0.1 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	BELAY_TEST_POSTGRES=$(PG) cargo test $(RUST) --test crash

## Rewrite server/src/api/openapi.json, the checked-in copy of the agent
## API's generated OpenAPI document (`make unit` fails while they differ).
openapi:
	BELAY_WRITE_OPENAPI=1 cargo test $(RUST) --lib the_checked_in_openapi_document

## schemathesis against the OpenAPI document the server serves, on the
## server the Rust tests built: no 5xx, no answer the document does not allow.
api-fuzz:
	cargo test $(RUST) --no-run
	.ci/api-fuzz

## The Python SDK (sdk/python): mypy --strict, then pytest against the
## server the Rust tests built (makes .tools/venv-sdk from PyPI when missing).
sdk-python:
	cargo test $(RUST) --no-run
	sdk/python/run-tests

## The MCP gateway end to end: the official MCP Python client against the
## server the Rust tests built, with a real stdio upstream (about 30 s).
mcp-e2e:
	cargo test $(RUST) --no-run
	end2end/mcp/run-tests

## The browser tests start the server the Rust tests built (no second
## server build); only the front end is built here.
e2e: debug-build
	cd end2end && npx playwright test

## One binary: the release build, then the release and the debug binary,
## each started in an empty folder, must hydrate in the browser (the
## browser part takes seconds; the release build is the cost).
## `make test` sets BINARY_OPT=1: the server is then compiled at opt-level 1
## instead of 3 (the front end is built as it ships). What the check proves,
## which front end a binary carries and how it serves it, does not depend on
## how hard the compiler optimises, and opt-level 3 was the test run's
## largest step (13 of 49 minutes on a fresh machine).
binary: debug-build
	time $(if $(BINARY_OPT),CARGO_PROFILE_RELEASE_OPT_LEVEL=$(BINARY_OPT)) $(RELEASE)
	end2end/binary/run-tests

# The server the Rust tests built and the debug front end; made once per
# make, however many targets need them.
debug-build:
	cargo test $(RUST) --no-run
	cargo leptos build --frontend-only
