# The two commands (see README.md). Everything else is a helper for them.
SHELL := /usr/bin/env bash

.PHONY: dev test infra-start infra-stop infra-status chaos

## Run Parley: infrastructure, topics, the six services (and the Cloud API simulator); Ctrl-C stops it all.
dev:
	@bash infra/scripts/dev.sh

## Run every check: format, lint, type check, unit, integration and end-to-end suites against real servers.
test:
	@bash infra/scripts/test.sh

infra-start:
	@infra/native/infra.sh start

infra-stop:
	@infra/native/infra.sh stop

infra-status:
	@infra/native/infra.sh status

## Prove the promises under fire: the stack under load while services, Kafka and MongoDB fail, then the checker (docs/reliability.md).
chaos:
	@bash bench/chaos.sh
