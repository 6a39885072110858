#!/usr/bin/env bash
# Runs every test of clientele, the end-to-end tests with Prosody included.
# When something the tests need is missing, it installs Debian's prosody,
# prosody-modules, python3-slixmpp and prometheus (for promtool) with
# apt-get, as root or through sudo, and the Go modules of go.mod.
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

missing=()
command -v prosody >/dev/null 2>&1 || missing+=(prosody)
[ -e /usr/lib/prosody/modules/mod_delegation.lua ] || [ -e /usr/lib/prosody/modules/mod_delegation/mod_delegation.lua ] || missing+=(prosody-modules)
/usr/bin/python3 -c 'import slixmpp' >/dev/null 2>&1 || missing+=(python3-slixmpp)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
	echo "test.sh: installing ${missing[*]}" >&2
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq prosody prosody-modules python3-slixmpp prometheus >/dev/null
fi

go mod download
go vet ./...
go test -count=1 -timeout 20m "$@" ./...
