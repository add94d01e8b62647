# The README's two commands: `make demo` runs gcrm with demo data, `make test` runs every test.
.PHONY: setup demo test test-go test-browser

setup:
	./scripts/setup

demo: setup
	./bin/gcrm demo

test: setup test-go test-browser

test-go:
	go vet ./...
	go test -count=1 ./...

test-browser:
	cd web/ui && npm test
