# The two commands (see README.md). Everything else is a helper for them.
SHELL := /usr/bin/env bash

.PHONY: dev test infra-start infra-stop infra-status chaos campaigns-e2e test-long

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

## The campaigns end to end at the issue's size (10,000 recipients; make test runs 2,000): servers up (make infra-start).
campaigns-e2e:
	@pnpm exec tsc -b && CAMPAIGN_E2E_RECIPIENTS=10000 pnpm exec vitest run --project e2e e2e/src/campaigns.e2e.spec.ts

## The long specs kept out of make test: the chaos CI preset and a broker restarted on its data (servers up: make infra-start).
test-long:
	@pnpm exec tsc -b && eval "$$(infra/native/infra.sh env)" && pnpm exec vitest run --project long
