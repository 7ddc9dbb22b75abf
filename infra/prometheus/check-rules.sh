#!/usr/bin/env bash
# The alert rules' checks (a stage of `make test`): promtool's syntax and lint check, promtool's
# unit tests (parley.rules.test.yml: each rule fires when it should and stays quiet otherwise),
# and every runbook_url naming a file in docs/runbooks/ with the section it points to.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../scripts/bootstrap.sh
source "$here/../scripts/bootstrap.sh"
ensure_prometheus
promtool check rules "$here/rules/parley.rules.yml"
promtool test rules "$here/rules/parley.rules.test.yml"
node "$here/check-runbooks.mjs" "$here/rules/parley.rules.yml"
