# The two commands in README.md, and their parts.
SHELL := /bin/bash
export PATH := $(CURDIR)/.tools/node_modules/.bin:$(PATH)

.PHONY: run setup build test check unit e2e

## Set up a fresh machine, build a release and serve Belay at http://127.0.0.1:3000
run: setup
	cargo leptos build --release
	./target/release/belay serve

setup:
	.ci/setup

## Set up a fresh machine and run every test: lints, unit, integration, browser
test:
	.ci/setup --browser
	$(MAKE) check unit e2e

check:
	cargo fmt --all -- --check
	cargo clippy -p app --features ssr --all-targets -- -D warnings
	cargo clippy -p belay --all-targets -- -D warnings

unit:
	cargo test -p app --features ssr
	cargo test -p belay

e2e:
	cargo leptos build
	cd end2end && npx playwright test
